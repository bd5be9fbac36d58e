"""A local model endpoint that speaks SageMaker's HTTP contract, served by uvicorn.

- `GET /ping`, `POST /invocations`: the container contract the built-in XGBoost image implements;
- `POST /endpoints/{name}/invocations`: the runtime API (`InvokeEndpoint`) that boto3's sagemaker-runtime
  client calls, so clients reach it by setting AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME and nothing else.

`text/csv` in (no header, no label, one encoded row per line), one probability per line out, as the built-in
container answers. A bad body gets a 4xx naming the problem (on the runtime route wrapped the way SageMaker
wraps container errors: HTTP 424 ModelError). Faults can be injected for tests and benchmarks: a ratio of
throttles (429 ThrottlingException), a ratio of server errors (500), added latency, and a hard exit after a
number of invocations (a crash in the middle of a job).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from churn_pipeline.model import Scorer
from churn_pipeline.scoring.endpoint_protocol import CONTENT_TYPE as CSV
from churn_pipeline.scoring.endpoint_protocol import (
    BadRequest,
    format_predictions,
    parse_csv_body,
)
from churn_tools.local import services as local_services

log = logging.getLogger(__name__)

PID_FILENAME = "endpoint.pid.json"
LOG_FILENAME = "endpoint.log"


@dataclass(frozen=True)
class Faults:
    """Opt-in fault injection; all off by default."""

    throttle_ratio: float = 0.0  # share of invocations answered 429 ThrottlingException
    error_ratio: float = 0.0  # share answered 500 InternalFailure
    latency_ms: float = 0.0  # added to every invocation
    exit_after_requests: int = 0  # > 0: the process dies right after answering this many invocations
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("throttle_ratio", "error_ratio"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.throttle_ratio + self.error_ratio > 1.0:
            raise ValueError("throttle_ratio + error_ratio must not exceed 1")
        if self.latency_ms < 0 or self.exit_after_requests < 0:
            raise ValueError("latency_ms and exit_after_requests must not be negative")


def build_app(model_dir: str | Path, faults: Faults = Faults(), endpoint_name: str | None = None):
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    scorer = Scorer.from_dir(model_dir)
    rng = random.Random(faults.seed)
    served = {"count": 0}
    lock = threading.Lock()

    def error(status: int, code: str, message: str) -> Response:
        return Response(
            json.dumps({"message": message}), status_code=status, media_type="application/json",
            headers={"x-amzn-ErrorType": code},
        )  # fmt: skip

    def injected(status: int, code: str, message: str) -> Response:
        print(f"injected {code} (HTTP {status})", file=sys.stderr, flush=True)  # tests count these in the log
        return error(status, code, message)

    async def ping(_request: Request) -> Response:
        return Response(status_code=200)

    async def invoke(request: Request, runtime_api: bool) -> Response:
        if runtime_api and endpoint_name and request.path_params["name"] != endpoint_name:
            name = request.path_params["name"]
            return error(
                400, "ValidationError", f"Endpoint {name} not found (this server serves {endpoint_name!r})"
            )
        # Read the whole body first, even one that will be refused: answering mid-upload breaks the client's pipe.
        body = await request.body()
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        draw = rng.random()
        if draw < faults.throttle_ratio:
            return injected(429, "ThrottlingException", "Rate exceeded (injected fault)")
        if draw < faults.throttle_ratio + faults.error_ratio:
            return injected(500, "InternalFailure", "An internal error occurred (injected fault)")
        content_type = request.headers.get("content-type", CSV).split(";")[0].strip().lower()
        try:
            if content_type != CSV:
                raise BadRequest(f"content type {content_type!r} is not supported: send {CSV}", status=415)
            probabilities = await run_in_threadpool(
                lambda: scorer.predict_matrix(parse_csv_body(body, scorer.spec.n_features))
            )
        except BadRequest as exc:
            if runtime_api:  # SageMaker wraps a container's 4xx this way
                message = f'Received client error ({exc.status}) from primary with message "{exc}"'
                return error(424, "ModelError", message)
            return Response(str(exc) + "\n", status_code=exc.status, media_type="text/plain")
        with lock:
            served["count"] += 1
            last = faults.exit_after_requests and served["count"] >= faults.exit_after_requests
        task = BackgroundTask(_crash, served["count"]) if last else None
        # Exactly "text/csv" as the container answers (Starlette would append a charset to a media type).
        headers = {"Content-Type": CSV}
        if runtime_api:
            headers["x-Amzn-Invoked-Production-Variant"] = "AllTraffic"
        return Response(format_predictions(probabilities), headers=headers, background=task)

    async def container_invocations(request: Request) -> Response:
        return await invoke(request, runtime_api=False)

    async def runtime_invocations(request: Request) -> Response:
        return await invoke(request, runtime_api=True)

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", container_invocations, methods=["POST"]),
            Route("/endpoints/{name}/invocations", runtime_invocations, methods=["POST"]),
        ]
    )


def _crash(count: int) -> None:
    print(f"fault injection: exiting after {count} invocation(s)", file=sys.stderr, flush=True)
    os._exit(17)


def serve(model_dir: str | Path, port: int, host: str = local_services.LOOPBACK, endpoint_name: str | None = None,
          faults: Faults = Faults()) -> None:  # fmt: skip
    import uvicorn

    app = build_app(model_dir, faults, endpoint_name)
    print(f"serving {model_dir} on http://{host}:{port} (faults: {faults})", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, timeout_keep_alive=30)


# --- background start/stop (pid + log files in a run directory) ---------------------------------------

_children: dict[int, subprocess.Popen] = {}


def start_background(model_dir: str | Path, port: int, run_dir: str | Path, endpoint_name: str | None = None,
                     timeout: float = 60, **faults) -> int:  # fmt: skip
    """Start the endpoint in its own session, wait until /ping answers; returns the pid (also in run_dir)."""
    run_dir = Path(run_dir)
    pid_file = local_services.PidFile(run_dir / PID_FILENAME)
    running = pid_file.running_pid()
    if running is not None:
        raise RuntimeError(f"an endpoint is already running with pid {running} ({pid_file.path})")
    if local_services.port_in_use(port):
        raise RuntimeError(f"port {port} on {local_services.LOOPBACK} is already in use; pick another PORT")
    Faults(**faults)  # validate in the caller, not in the child's log
    args = [sys.executable, "-m", "churn_tools.local.endpoint_server", "serve", "--model-dir", str(model_dir),
            "--port", str(port)]  # fmt: skip
    if endpoint_name:
        args += ["--endpoint-name", endpoint_name]
    for name, value in faults.items():
        if value is not None:
            args += [f"--{name.replace('_', '-')}", str(value)]
    process = local_services.start_background(
        args,
        run_dir / LOG_FILENAME,
        ready_url=f"http://{local_services.LOOPBACK}:{port}/ping",
        timeout=timeout,
    )
    _children[process.pid] = process
    pid_file.write(process.pid, url=f"http://{local_services.LOOPBACK}:{port}")
    return process.pid


def stop_background(run_dir: str | Path, timeout: float = 10) -> bool:
    """Stop the endpoint whose pid is in run_dir; False if none was running. Removes the pid file."""
    pid_file = local_services.PidFile(Path(run_dir) / PID_FILENAME)
    record = pid_file.read()
    if record is None:
        return False
    pid = int(record["pid"])
    was_running = local_services.stop_pid(pid, timeout, _children.pop(pid, None))
    pid_file.remove()
    return was_running


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Local SageMaker-compatible model endpoint (text/csv in, probabilities out)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("serve", "serve in the foreground"), ("start", "start in the background")):
        command = commands.add_parser(name, help=help_text)
        command.add_argument(
            "--model-dir", required=True, help="directory with model.tar.gz + feature_spec.json"
        )
        command.add_argument("--port", type=int, default=8080)
        command.add_argument(
            "--endpoint-name", default=None, help="only answer this name on /endpoints/{name}/..."
        )
        command.add_argument("--throttle-ratio", type=float, default=0.0)
        command.add_argument("--error-ratio", type=float, default=0.0)
        command.add_argument("--latency-ms", type=float, default=0.0)
        command.add_argument("--exit-after-requests", type=int, default=0)
        command.add_argument("--seed", type=int, default=None)
        if name == "start":
            command.add_argument("--run-dir", required=True, help="where the pid and log files go")
    stop = commands.add_parser("stop", help="stop the background endpoint of a run directory")
    stop.add_argument("--run-dir", required=True)
    args = parser.parse_args(argv)

    if args.command == "stop":
        stopped = stop_background(args.run_dir)
        print("endpoint stopped" if stopped else f"no endpoint was running for {args.run_dir}")
        return 0
    fault_args = {
        "throttle_ratio": args.throttle_ratio,
        "error_ratio": args.error_ratio,
        "latency_ms": args.latency_ms,
        "exit_after_requests": args.exit_after_requests,
        "seed": args.seed,
    }
    try:
        if args.command == "serve":
            serve(args.model_dir, args.port, endpoint_name=args.endpoint_name, faults=Faults(**fault_args))
            return 0
        pid = start_background(args.model_dir, args.port, args.run_dir, args.endpoint_name, **fault_args)
    except (ValueError, RuntimeError, TimeoutError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"endpoint started: pid {pid}, http://{local_services.LOOPBACK}:{args.port}, log {Path(args.run_dir) / LOG_FILENAME}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
