"""`make demo`: the tutorial's whole story on one machine, with no AWS account.

generate data -> train -> start moto server + the local endpoint -> terraform apply envs/local (moto) ->
batch job -> produce into Kinesis (moto) -> streaming job until every record is scored or dead-lettered ->
the quality job over the data's own labels as outcomes -> the Athena named queries, run by DuckDB -> report.

Every step runs a CLI of the package (or terraform) as a child process with its output in a log file; the
console shows each step with its elapsed time and, for long steps, periodic counts. Whatever happens
(a failed step, Ctrl-C, SIGTERM) every background process the demo started is stopped before it exits, and the
exit code is 0 only when every step succeeded.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from churn_pipeline.contract import settings
from churn_tools.demo.report import DemoReport
from churn_tools.demo.steps import DemoSteps, StepFailed, _quietly
from churn_tools.local import services as local_services
from churn_tools.local import stack as local_stack
from churn_tools.project import project_root

# Kept between runs: re-running must not copy the Terraform provider or rebuild the package each time.
KEPT_BETWEEN_RUNS = ("terraform/plugin-cache", "package-cache")


class Interrupted(BaseException):
    """SIGINT/SIGTERM: unwinds like KeyboardInterrupt, from either signal."""


@dataclass
class DemoConfig:
    work: Path
    data: Path | None
    dataset: Path | None  # the data's description (None: the tutorial's)
    rows: int
    seed: int
    moto_port: int
    endpoint_port: int
    batch_mode: str
    stream_mode: str
    trigger_seconds: float
    stream_timeout: float
    python: str = sys.executable


@dataclass
class Outcome:
    report: dict = field(default_factory=dict)
    step_seconds: dict[str, float] = field(default_factory=dict)


class Demo(DemoSteps, DemoReport):
    """The run: the steps in order (steps.py), the report (report.py), and the plumbing every step uses."""

    def __init__(self, config: DemoConfig, out=sys.stdout):
        self.config = config
        self.out = out
        self.work = config.work
        self.logs = self.work / "logs"
        self.run_dir = self.work / "run"
        self.lake = self.work / "lake"
        self.children: list[subprocess.Popen] = []
        self.outcome = Outcome()
        self.started = time.monotonic()
        self.stack_up = False
        self.project = project_root()  # the checkout: terraform/ and jobs/ the deploy step reads

    # ------------------------------------------------------------------ plumbing
    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:6.1f}s"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.stack_up:
            env.update(local_services.LOCAL_AWS_ENV)
            env["AWS_ENDPOINT_URL"] = self.moto_url
            env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = self.endpoint_url
        return env

    @property
    def moto_url(self) -> str:
        return f"http://{local_services.LOOPBACK}:{self.config.moto_port}"

    @property
    def endpoint_url(self) -> str:
        return f"http://{local_services.LOOPBACK}:{self.config.endpoint_port}"

    def start(self, name: str, args: list[str], stdout: Path | None = None) -> subprocess.Popen:
        """A child in its own process group (so Ctrl-C reaches only the demo, which then stops it cleanly)."""
        process = local_services.start_background(
            [self.config.python, *args],
            self.logs / f"{name}.log",
            env=self.env(),
            cwd=self.project,
            stdout=stdout,
        )
        self.children.append(process)
        return process

    def run_child(
        self,
        name: str,
        args: list[str],
        *,
        stdout: Path | None = None,
        heartbeat: Callable[[], str | None] | None = None,
        ok_codes: tuple[int, ...] = (0,),
    ) -> int:
        """Run a child to completion, printing a status line every few seconds; raise StepFailed on error."""
        process = self.start(name, args, stdout)
        log = self.logs / f"{name}.log"
        last_beat = time.monotonic()
        while process.poll() is None:
            time.sleep(0.2)
            if time.monotonic() - last_beat >= 5:
                last_beat = time.monotonic()
                status = heartbeat() if heartbeat else _last_line(log)
                if status:
                    self.say(f"          {self.elapsed()}  {status}")
        self.children.remove(process)
        if process.returncode not in ok_codes:
            raise StepFailed(f"{name} exited with code {process.returncode}", [log])
        return process.returncode

    def stop_children(self) -> None:
        for process in list(self.children):
            local_services.stop_process(process, timeout=20)
            self.children.remove(process)

    # ------------------------------------------------------------------ the run
    def run(self) -> int:
        self.prepare_work_dir()
        steps: list[tuple[str, Callable[[], str]]] = [
            ("Generate data", self.step_data),
            ("Train the model", self.step_train),
            ("Start the local AWS (moto server) and the local endpoint", self.step_local_up),
            ("Apply terraform/envs/local and upload the artifacts", self.step_deploy),
            ("Batch job", self.step_batch),
            ("Drift: a shifted copy of the data against the model's baseline", self.step_drift),
            ("Produce the data set into Kinesis", self.step_produce),
            ("Streaming job until every record is scored or dead-lettered", self.step_stream),
            ("Model quality: the data's own labels as outcomes, joined to the scores", self.step_quality),
            ("Query the results with DuckDB (the Athena named queries)", self.step_query),
        ]
        exit_code = 0
        try:
            # Before the first step, so a taken port stops the demo at once, not after the data and training.
            self.check_ports_free()
            for index, (title, step) in enumerate(steps, 1):
                self.say(f"[{index}/{len(steps)}] {title} ...")
                began = time.monotonic()
                detail = step()
                self.outcome.step_seconds[title] = time.monotonic() - began
                self.say(f"      done {self.elapsed()}  ({time.monotonic() - began:.1f}s) {detail}")
            self.print_report()
        except StepFailed as exc:
            exit_code = 1
            self.say(f"\nFAILED: {exc}")
            for log in [*exc.logs, *self.service_logs()]:
                if log.exists():
                    self.say(f"  log: {log}")
                    for line in _tail(log, 15):
                        self.say(f"    | {line}")
        except Interrupted:
            exit_code = 130
            self.say("\ninterrupted: stopping everything the demo started")
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)
            self.shutdown()
        return exit_code

    def service_logs(self) -> list[Path]:
        return [self.run_dir / "moto.log", self.run_dir / "endpoint.log"]

    def shutdown(self) -> None:
        self.stop_children()
        if self.stack_up or (self.run_dir / local_stack.MOTO_PID).exists():
            with open(self.logs / "local-down.log", "a") as log:
                code = _quietly(lambda: local_stack.down(self.run_dir), log)
            if code != 0:
                self.say(f"error: could not stop the local services; see {self.logs / 'local-down.log'}")
            self.stack_up = False

    def prepare_work_dir(self) -> None:
        """Start clean, keeping only caches; stop what a killed earlier run may have left running."""
        if (self.run_dir / local_stack.MOTO_PID).exists():
            self.shutdown()
        if self.work.exists():
            for child in self.work.iterdir():
                if child.name not in {p.split("/")[0] for p in KEPT_BETWEEN_RUNS}:
                    _remove(child)
            terraform_dir = self.work / "terraform"
            if terraform_dir.exists():
                for child in terraform_dir.iterdir():
                    if child.name != "plugin-cache":
                        _remove(child)
        for directory in (self.logs, self.run_dir, self.lake):
            directory.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ steps


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _tail(path: Path, lines: int) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-lines:]


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _last_line(path: Path) -> str | None:
    """The last non-blank line of a log, without terminal colour codes (Terraform's), cut to fit a line."""
    if not path.exists():
        return None
    for line in reversed(_tail(path, 5)):
        text = _ANSI_ESCAPE.sub("", line).strip()
        if text:
            return text[:150]
    return None


def _raise_interrupted(signum, _frame) -> None:
    raise Interrupted(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole churn pipeline locally, end to end.")
    parser.add_argument("--work", type=Path, default=Path(".work/demo"))
    parser.add_argument("--data", type=Path, default=None, help="a churn CSV (default: synthetic data)")
    parser.add_argument(
        "--dataset", type=Path, default=None, help="the data's description (default: the tutorial's dataset)"
    )
    parser.add_argument("--rows", type=int, default=20_000, help="synthetic rows when --data is not given")
    parser.add_argument("--seed", type=int, default=1729)
    parser.add_argument("--moto-port", type=int, default=5000)
    parser.add_argument("--endpoint-port", type=int, default=8080)
    parser.add_argument("--batch-mode", choices=settings.SCORING_MODES, default="embedded")
    parser.add_argument("--stream-mode", choices=settings.SCORING_MODES, default="endpoint")
    parser.add_argument("--trigger-seconds", type=float, default=2.0)
    parser.add_argument("--stream-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    config = DemoConfig(
        work=args.work.resolve(),
        data=args.data.resolve() if args.data else None,
        dataset=args.dataset.resolve() if args.dataset else None,
        rows=args.rows,
        seed=args.seed,
        moto_port=args.moto_port,
        endpoint_port=args.endpoint_port,
        batch_mode=args.batch_mode,
        stream_mode=args.stream_mode,
        trigger_seconds=args.trigger_seconds,
        stream_timeout=args.stream_timeout,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _raise_interrupted)
    config.work.mkdir(parents=True, exist_ok=True)
    return Demo(config).run()


if __name__ == "__main__":
    sys.exit(main())
