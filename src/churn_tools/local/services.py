"""Local stand-ins for AWS, started as real servers on loopback, and the one way the tools run a process.

moto server is the AWS API (S3, Kinesis, IAM, Glue, SageMaker control plane); tools reach it through
AWS_ENDPOINT_URL exactly as they would reach AWS without it, so no code path is local-only.

Every background process a tool starts (moto, the local endpoint, the demo's jobs) starts with
`start_background` in its own session, is recorded (where it outlives the tool) in a `PidFile`, one JSON format,
and stops with `stop_process` / `stop_pid`: SIGTERM to its process group, SIGKILL if it lingers.
"""

from __future__ import annotations

import json
import os
import signal
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


class PidFile:
    """Where a background process is recorded: {"pid": N, ...} (a URL, say), JSON, one format for every tool."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def write(self, pid: int, **info: object) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"pid": pid, **info}) + "\n")

    def read(self) -> dict | None:
        """The record, or None if there is none; a file that is not a record is a clear error."""
        if not self.path.exists():
            return None
        try:
            record = json.loads(self.path.read_text())
            int(record["pid"])
        except (ValueError, KeyError, TypeError) as exc:
            raise RuntimeError(f"{self.path} is not a pid file of this tool ({exc}); remove it") from exc
        return record

    def running_pid(self) -> int | None:
        """The recorded pid if that process is alive."""
        record = self.read()
        return int(record["pid"]) if record and pid_alive(int(record["pid"])) else None

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def start_background(
    args: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    ready_url: str | None = None,
    timeout: float = 60,
    cwd: Path | None = None,
    stdout: Path | None = None,
) -> subprocess.Popen:
    """Start `args` in its own session (Ctrl-C reaches only the tool, which then stops it), output appended
    to `log_path` (stdout to `stdout` if given); if `ready_url` is given, return once it answers HTTP."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as err, open(stdout, "wb") if stdout else open(os.devnull, "wb") as out:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=out if stdout else err,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    if ready_url:
        try:
            wait_for_http(ready_url, timeout=timeout, process=process, log=log_path)
        except (RuntimeError, TimeoutError):
            stop_process(process)
            raise
    return process


def _signal(pid: int, sig: int) -> None:
    """Signal a session leader's whole group (a Spark job takes its JVM with it), any other process alone."""
    try:
        leader = os.getpgid(pid) == pid
    except ProcessLookupError:
        return
    (os.killpg if leader else os.kill)(pid, sig)


def _exited(pid: int, process: subprocess.Popen | None) -> bool:
    if process is not None:
        return process.poll() is not None
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        if done == pid:
            return True
    except ChildProcessError:
        pass  # not our child: whether it exists decides
    return not pid_alive(pid)


def stop_pid(pid: int, timeout: float = 10, process: subprocess.Popen | None = None) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; False if it was not running, raises if it outlives SIGKILL."""
    if _exited(pid, process):
        return False
    for sig, grace in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            _signal(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if _exited(pid, process):
                return True
            time.sleep(0.1)
    raise RuntimeError(f"process {pid} is still running after SIGTERM and SIGKILL")


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a child this process started (see stop_pid) and reap it."""
    stop_pid(process.pid, timeout, process)
    process.wait(timeout=5)


def start_moto(port: int, log_path: Path) -> subprocess.Popen:
    """Start moto server on loopback:port in the background; returns once it answers HTTP."""
    if port_in_use(port):
        raise RuntimeError(
            f"port {port} on {LOOPBACK} is already in use; stop what holds it or pick another port"
        )
    # moto's own server, with its Kinesis put made constant-time (see churn_tools.local.moto_server).
    return start_background(
        [sys.executable, "-m", "churn_tools.local.moto_server", "-H", LOOPBACK, "-p", str(port)],
        log_path,
        env={**os.environ, **LOCAL_AWS_ENV},
        ready_url=f"http://{LOOPBACK}:{port}/moto-api/",
    )
