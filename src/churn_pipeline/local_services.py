"""Local stand-ins for AWS, started as real servers on loopback.

moto server is the AWS API (S3, Kinesis, IAM, Glue, SageMaker control plane); tools reach it through
AWS_ENDPOINT_URL exactly as they would reach AWS without it, so no code path is local-only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

LOOPBACK = "127.0.0.1"
# Credentials moto accepts; never real ones. Set only for processes talking to the local endpoints.
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one owned by another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) == 0


def wait_for_http(
    url: str, timeout: float, process: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll `url` until it answers (any HTTP status), the process dies, or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {process.returncode}; log: {log}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError as exc:
            last_error = exc
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f}s ({last_error}); log: {log}")


def start_moto(port: int, log_path: Path) -> subprocess.Popen:
    """Start moto server on loopback:port in the background; returns once it answers HTTP."""
    if port_in_use(port):
        raise RuntimeError(
            f"port {port} on {LOOPBACK} is already in use; stop what holds it or pick another port"
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - the child process owns the handle
    # moto's own server, with its Kinesis put made constant-time (see churn_pipeline.moto_server).
    process = subprocess.Popen(
        [sys.executable, "-m", "churn_pipeline.moto_server", "-H", LOOPBACK, "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **LOCAL_AWS_ENV},
        start_new_session=True,
    )
    wait_for_http(f"http://{LOOPBACK}:{port}/moto-api/", timeout=60, process=process, log=log_path)
    return process


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it does not exit in time; always reaps the child."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
