"""The Glue runtime matrix: a job's code on its Glue version's pyspark and Python, installed from the files a
deploy uploaded for it, as a Glue worker installs them.

Glue installs `--additional-python-modules` with pip into its own Python, beside its own pyspark; with
`--python-modules-installer-option --no-index` pip may use the listed files only
(https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-python-libraries.html). Here, per Glue version:
- a venv on the CPython closest to the version's that this machine has, with only that version's pyspark
  (GLUE_RUNTIMES of churn_tools.deploy.package): Glue's own part, built once and reused between runs under
  ${XDG_CACHE_HOME:-~/.cache}/churn-bundle/glue-runtimes, keyed by Glue version, pyspark, interpreter, pip and
  the hash of requirements.lock;
- the uploaded files (job wheel + dependency wheels, fetched from the artifacts bucket), installed per run with
  `pip install --no-index` into a directory of their own, ahead of the venv's site-packages: the job wheel
  changes with every source change, and a missing wheel must fail here as it would on Glue. No pip
  configuration of this machine (its find-links, its extra indexes) takes part.
What remains different from a Glue worker (the `gap`): the interpreter's patch release, Glue's preinstalled
libraries (here only pyspark and py4j; the uploaded pins replace Glue's on a worker too), EMRFS, and awsglue
itself (tests/glue_fakes.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from churn_tools.deploy.package import GLUE_RUNTIMES

REPO_ROOT = Path(__file__).resolve().parent.parent
PIP = "pip==25.3"  # the Makefile's pip
# The report `make test` prints at its end (tests/conftest.py, pytest_terminal_summary).
REPORT_DIR = REPO_ROOT / ".work" / "test-reports" / "glue-runtimes"


class RuntimeInstallError(RuntimeError):
    pass


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "churn-bundle" / "glue-runtimes"


def _python_version(interpreter: str) -> str | None:
    try:
        result = subprocess.run(
            [interpreter, "-c", "import platform; print(platform.python_version())"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def interpreter_for(python: str) -> tuple[str, str]:
    """(path, full version) of a `python<major.minor>` this machine has (on PATH, or installed by pyenv but not
    selected), else of the running interpreter."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [shutil.which(f"python{python}")]
    candidates += [str(p) for p in sorted((pyenv_root / "versions").glob(f"{python}.*/bin/python{python}"))]
    for found in filter(None, candidates):
        if (version := _python_version(found)) and version.startswith(f"{python}."):
            return found, version
    return sys.executable, _python_version(sys.executable) or sys.version.split()[0]


@dataclass(frozen=True)
class RuntimeVenv:
    glue_version: str
    spark: str  # Glue's
    python: str  # Glue's major.minor
    python_used: str  # the full version of the interpreter here
    root: Path

    @property
    def interpreter(self) -> Path:
        return self.root / "bin" / "python"

    @property
    def gap(self) -> str:
        if self.python_used.startswith(f"{self.python}."):
            return f"Glue {self.glue_version}'s Python {self.python} as {self.python_used} (patch release may differ)"
        return f"Python {self.python_used} here for Glue {self.glue_version}'s Python {self.python}"


def _pip_env() -> dict[str, str]:
    """This process's environment without pip's configuration (files and PIP_* variables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def runtime_venv(glue_version: str) -> RuntimeVenv:
    """The venv with Glue `glue_version`'s pyspark, built once per key (one builder at a time, file lock)."""
    import fcntl

    runtime = GLUE_RUNTIMES[glue_version]
    interpreter, full = interpreter_for(runtime.python)
    lock_text = (REPO_ROOT / "requirements.lock").read_text()
    key = hashlib.sha256("|".join([glue_version, runtime.spark, full, PIP, lock_text]).encode()).hexdigest()
    root = cache_root() / f"glue{glue_version}-py{full}-{key[:12]}"
    venv = RuntimeVenv(glue_version, runtime.spark, runtime.python, full, root)
    complete = root / ".complete"
    root.parent.mkdir(parents=True, exist_ok=True)
    with open(root.with_name(root.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            shutil.rmtree(root, ignore_errors=True)
            # From the package registry, with this machine's pip settings (its certificates): Glue's own part.
            for command in (
                [interpreter, "-m", "venv", str(root)],
                [str(venv.interpreter), "-m", "pip", "install", "--quiet", PIP],
                [str(venv.interpreter), "-m", "pip", "install", "--quiet", f"pyspark=={runtime.spark}"],
            ):
                result = subprocess.run(command, capture_output=True, text=True)
                if result.returncode != 0:
                    raise RuntimeInstallError(
                        f"building the Glue {glue_version} runtime failed ({' '.join(command)}):\n{result.stderr}"
                    )
            complete.write_text(json.dumps({"spark": runtime.spark, "python": full}) + "\n")
    return venv


@dataclass(frozen=True)
class Installed:
    site: Path
    files: list[Path]
    installer_options: list[str]

    @property
    def megabytes(self) -> float:
        return sum(f.stat().st_size for f in self.files) / 1e6


def install_uploaded(
    venv: RuntimeVenv, files: list[Path], site: Path, installer_options: list[str]
) -> Installed:
    """`pip install <the job's --python-modules-installer-option>` of exactly these files into `site`, as Glue
    installs the uploaded modules (the deployed options: --no-index). --no-compile: pip would byte-compile all
    ~150 MB (11 of its 15 CPU-s here); the job compiles what it imports when it imports it."""
    command = [str(venv.interpreter), "-m", "pip", "install", "--quiet", *installer_options, "--no-cache-dir",
               "--no-compile", "--target", str(site), *map(str, files)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, env=_pip_env())
    if result.returncode != 0:
        missing = re.findall(r"No matching distribution found for (\S+)", result.stderr)
        raise RuntimeInstallError(
            f"pip install --no-index of the {len(files)} uploaded files fails on Glue {venv.glue_version} "
            f"(Python {venv.python_used}, pyspark {venv.spark})"
            + (f": nothing uploaded provides {', '.join(missing)}" if missing else "")
            + f"\n{result.stderr[-3000:]}"
        )
    return Installed(site, list(files), list(installer_options))


def run_python(venv: RuntimeVenv, installed: Installed, fake_glue: Path, argv: list[str], env: dict,
               timeout: int = 900) -> subprocess.CompletedProcess:  # fmt: skip
    """`python argv...` on the runtime: the fake awsglue and the installed files on the path of the driver and
    of Spark's Python workers (local mode, as small as a test needs)."""
    process_env = {
        **env,
        "PYTHONPATH": os.pathsep.join([str(fake_glue), str(installed.site)]),
        "PYSPARK_PYTHON": str(venv.interpreter),
        "PYSPARK_DRIVER_PYTHON": str(venv.interpreter),
        "PYSPARK_SUBMIT_ARGS": "--master local[2] --driver-memory 1g --conf spark.ui.enabled=false "
        "--conf spark.sql.shuffle.partitions=2 pyspark-shell",
    }
    return subprocess.run(
        [str(venv.interpreter), *argv], env=process_env, capture_output=True, text=True, timeout=timeout
    )


def report(glue_version: str, job: str, figures: dict) -> None:
    """One line of the matrix report (printed at the end of `make test`), kept as a file per runtime and job."""
    REPORT_DIR.mkdir(parents=True, exist_ok=True)
    (REPORT_DIR / f"glue{glue_version}-{job}.json").write_text(json.dumps(figures, sort_keys=True) + "\n")
