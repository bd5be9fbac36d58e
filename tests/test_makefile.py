"""The Makefile documents itself and the setup checks fail with messages, not stack traces."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path


def _declared_targets(repo_root: Path) -> set[str]:
    targets = set()
    for path in [repo_root / "Makefile", *sorted((repo_root / "mk").glob("*.mk"))]:
        for line in path.read_text().splitlines():
            match = re.match(r"^([a-zA-Z0-9][a-zA-Z0-9_.-]*):(?!=)", line)
            if match and not match.group(1).startswith("."):
                targets.add(match.group(1))
    return targets


def test_make_help_lists_every_target_with_a_description(repo_root):
    result = subprocess.run(["make"], cwd=repo_root, capture_output=True, text=True, check=True)
    listed = {}
    for line in result.stdout.splitlines():
        match = re.match(r"^\s+(\S+)\s{2,}(\S.*)$", line)
        if match:
            listed[match.group(1)] = match.group(2)
    # Every target a person can call is listed, each with a one-line description.
    assert _declared_targets(repo_root) == set(listed)
    assert all(len(description) > 10 for description in listed.values())
    assert {"setup", "test", "data", "train", "help", "clean"} <= set(listed)


def test_missing_java_is_a_clear_message(repo_root, tmp_path):
    # A PATH with the tools the check needs but no java.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "awk", "cut", "env"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(bin_dir / "bash"), str(repo_root / "scripts/check-java.sh")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Java 17+ is required" in result.stderr and "JAVA_HOME" in result.stderr


def test_old_java_is_refused(repo_root, tmp_path):
    fake_home = tmp_path / "jdk"
    (fake_home / "bin").mkdir(parents=True)
    java = fake_home / "bin" / "java"
    java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    java.chmod(0o755)
    env = {**os.environ, "JAVA_HOME": str(fake_home)}
    result = subprocess.run(["scripts/check-java.sh"], cwd=repo_root, env=env, capture_output=True, text=True)
    assert result.returncode == 1
    assert "found '11.0.2'" in result.stderr


def test_the_model_archive_the_makefile_looks_for_is_the_model_directorys(repo_root):
    from churn_pipeline.model import ModelDir

    result = subprocess.run(
        ["make", "--no-print-directory", "-pn", "MODEL_DIR=/m", "help"],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
    )
    assigned = re.search(r"^MODEL_ARCHIVE = (.+)$", result.stdout, re.M)
    assert assigned, "the Makefile defines MODEL_ARCHIVE"
    assert assigned.group(1).replace("$(MODEL_DIR)", "/m") == f"/m/{ModelDir.ARCHIVE}"


def test_the_makefile_calls_console_scripts_not_module_paths(repo_root):
    """Every CLI of the package is a [project.scripts] entry, and the Makefile calls those."""
    import tomllib

    with open(repo_root / "pyproject.toml", "rb") as handle:
        scripts = tomllib.load(handle)["project"]["scripts"]
    texts = {
        p.name: p.read_text() for p in [repo_root / "Makefile", *sorted((repo_root / "mk").glob("*.mk"))]
    }
    calls_module = {name: re.findall(r"\$\(PY\) -m (churn_\w+(?:\.\w+)*)", t) for name, t in texts.items()}
    assert not any(calls_module.values()), calls_module
    called = set().union(*(re.findall(r"\$\(BIN\)/(churn-[\w-]+)", t) for t in texts.values()))
    assert called <= set(scripts), called - set(scripts)


def test_the_tests_reference_library_is_on_the_tests_path_only(spark):
    """scikit-learn (the quality tests' reference) is importable here but not by a job's process or Spark's
    Python workers, whose xgboost would otherwise import it each time (the Makefile's setup)."""
    import sys

    import sklearn

    assert Path(sklearn.__file__).is_relative_to(Path(sys.prefix) / "test-oracles")
    probe = "import sys, xgboost; print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    job_process = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert job_process.stdout.strip() == "[]"

    def imported_in_a_worker(_rows):
        import xgboost  # noqa: F401 - what the embedded scorer imports in a worker

        yield sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")

    assert spark.sparkContext.parallelize([0], 1).mapPartitions(imported_in_a_worker).collect() == [[]]
