"""The local stand-in for AWS: moto server (the AWS API) + the local SageMaker-compatible endpoint, in the background.

    python -m churn_tools.local.stack up --run-dir .work/run --model-dir .work/model [--stream churn-stream]
    python -m churn_tools.local.stack down --run-dir .work/run

`up` writes pid and log files to the run directory and prints the variables to export; every tool of the
project then reaches these servers through AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, exactly as it
would reach AWS without them. `down` stops both and exits non-zero if either could not be stopped.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from churn_pipeline.model import ModelDir
from churn_tools.local import endpoint_server
from churn_tools.local import services as local_services

MOTO_PID = "moto.pid.json"
MOTO_LOG = "moto.log"
ENV_FILE = "env.sh"


def env_lines(moto_port: int, endpoint_port: int | None) -> list[str]:
    values = {
        **local_services.LOCAL_AWS_ENV,
        "AWS_ENDPOINT_URL": f"http://{local_services.LOOPBACK}:{moto_port}",
    }
    if endpoint_port is not None:
        values["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = f"http://{local_services.LOOPBACK}:{endpoint_port}"
    return [f"export {key}={value}" for key, value in values.items()]


def up(
    run_dir: Path, model_dir: Path | None, moto_port: int, endpoint_port: int, stream: str | None, shards: int
) -> int:
    run_dir.mkdir(parents=True, exist_ok=True)
    pid_file = local_services.PidFile(run_dir / MOTO_PID)
    running = pid_file.running_pid()
    if running is not None:
        raise RuntimeError(f"moto is already running (pid {running}); run `make local-down` first")
    if model_dir is not None:
        ModelDir(model_dir).require(ModelDir.SCORING_FILES)
    moto = local_services.start_moto(moto_port, run_dir / MOTO_LOG)
    pid_file.write(moto.pid, url=f"http://{local_services.LOOPBACK}:{moto_port}")
    print(
        f"moto server: http://{local_services.LOOPBACK}:{moto_port} (pid {moto.pid}, log {run_dir / MOTO_LOG})"
    )
    try:
        if model_dir is not None:
            pid = endpoint_server.start_background(model_dir, endpoint_port, run_dir)
            print(
                f"local endpoint: http://{local_services.LOOPBACK}:{endpoint_port} (pid {pid}, "
                f"log {run_dir / endpoint_server.LOG_FILENAME})"
            )
        if stream:
            create_stream(f"http://{local_services.LOOPBACK}:{moto_port}", stream, shards)
            print(f"Kinesis stream {stream!r} with {shards} shard(s)")
    except Exception:
        down(run_dir)  # leave nothing half-started behind
        raise
    lines = env_lines(moto_port, endpoint_port if model_dir is not None else None)
    (run_dir / ENV_FILE).write_text("\n".join(lines) + "\n")
    print(f"\nset these in your shell (or `source {run_dir / ENV_FILE}`):")
    print("\n".join(lines))
    return 0


def create_stream(endpoint_url: str, name: str, shards: int) -> None:
    import boto3

    client = boto3.client("kinesis", endpoint_url=endpoint_url, **_local_credentials())
    client.create_stream(StreamName=name, ShardCount=shards)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})


def _local_credentials() -> dict[str, str]:
    env = local_services.LOCAL_AWS_ENV
    return {
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def down(run_dir: Path) -> int:
    failures = []
    pid_file = local_services.PidFile(run_dir / MOTO_PID)
    record = pid_file.read() if pid_file.path.exists() else None
    if record is not None:
        pid = int(record["pid"])
        try:
            if local_services.stop_pid(pid):
                print(f"stopped moto server (pid {pid})")
            else:
                print(f"moto server (pid {pid}) was not running; removing its stale pid file")
            pid_file.remove()
        except (RuntimeError, PermissionError) as exc:
            failures.append(f"moto server (pid {pid}): {exc}")
    else:
        print(f"no moto server recorded in {run_dir}")
    try:
        if endpoint_server.stop_background(run_dir):
            print("stopped local endpoint")
        else:
            print(f"no local endpoint recorded in {run_dir}")
    except (RuntimeError, PermissionError, subprocess.SubprocessError) as exc:
        failures.append(f"local endpoint: {exc}")
    (run_dir / ENV_FILE).unlink(missing_ok=True)
    if failures:
        for failure in failures:
            print(f"error: could not stop {failure}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start or stop the local AWS stand-ins (moto + local endpoint)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("up", help="start moto server and the local endpoint in the background")
    start.add_argument("--run-dir", default=".work/run")
    start.add_argument(
        "--model-dir", default=".work/model", help="model for the endpoint ('' for no endpoint)"
    )
    start.add_argument("--moto-port", type=int, default=5000)
    start.add_argument("--endpoint-port", type=int, default=8080)
    start.add_argument("--stream", default=None, help="also create this Kinesis stream")
    start.add_argument("--shards", type=int, default=4)
    stop = sub.add_parser("down", help="stop what `up` started")
    stop.add_argument("--run-dir", default=".work/run")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            model_dir = Path(args.model_dir) if args.model_dir else None
            return up(
                Path(args.run_dir), model_dir, args.moto_port, args.endpoint_port, args.stream, args.shards
            )
        return down(Path(args.run_dir))
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
