"""What ships where: the job wheel holds the runtime package alone, and the bundle runs from a built wheel.

The job wheel is what `make deploy` uploads for Glue (`--additional-python-modules`); the bundle wheel is the
workstation install. Both are built here with pip, as a user's build would, never imported from the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from churn_tools.deploy import package as packaging

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIME = REPO_ROOT / "src" / "churn_pipeline"


def _runtime_modules() -> set[str]:
    return {str(p.relative_to(RUNTIME.parent)) for p in RUNTIME.rglob("*.py") if "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def job_wheel(tmp_path_factory) -> Path:
    return packaging.build_job_wheel(REPO_ROOT, tmp_path_factory.mktemp("package-cache"))


def test_the_job_wheel_holds_the_runtime_package_and_nothing_else(job_wheel):
    names = zipfile.ZipFile(job_wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"churn_pipeline", f"churn_pipeline-{_version()}.dist-info"}, top_level
    assert not [n for n in names if n.startswith("churn_tools")]
    assert {n for n in names if n.endswith(".py")} == _runtime_modules()
    assert "churn_pipeline/py.typed" in names
    metadata = zipfile.ZipFile(job_wheel).read(f"churn_pipeline-{_version()}.dist-info/METADATA").decode()
    requires = [
        line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")
    ]
    assert [Requirement(r) for r in requires] == [Requirement(r) for r in _pyproject()["dependencies"]]
    print(f"job wheel {job_wheel.name}: {len(names)} files, {job_wheel.stat().st_size:,} bytes")


def _copy_sources(target: Path) -> Path:
    shutil.copytree(
        REPO_ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    shutil.copy(REPO_ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def test_editing_a_tool_leaves_the_job_wheel_key_unchanged_and_a_runtime_edit_changes_it(tmp_path):
    tree = _copy_sources(tmp_path)
    before = packaging._source_digest(tree)
    with open(tree / "src" / "churn_tools" / "bench" / "suite.py", "a") as handle:
        handle.write("\n# a bench-only edit\n")
    with open(
        tree / "src" / "churn_tools" / "analytics" / "queries" / "data" / "churn_rate_by_feature.sql", "a"
    ) as handle:
        handle.write("\n")
    assert packaging._source_digest(tree) == before
    with open(tree / "src" / "churn_pipeline" / "model.py", "a") as handle:
        handle.write("\n# a runtime edit\n")
    assert packaging._source_digest(tree) != before


def test_the_job_wheel_is_byte_for_byte_reproducible(job_wheel, tmp_path):
    again = packaging.build_job_wheel(REPO_ROOT, tmp_path)
    assert packaging.sha256_file(again) == packaging.sha256_file(job_wheel)


@pytest.fixture(scope="module")
def installed_bundle(tmp_path_factory) -> Path:
    """The bundle's wheel installed (not editable) into a fresh venv; its dependencies are the project venv's
    (added by a .pth line, which does not run the project venv's editable finder), so only the two packages
    under test come from the wheel."""
    root = tmp_path_factory.mktemp("bundle")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(root / "dist"),
         str(REPO_ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    wheel = next((root / "dist").glob("churn_bundle-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
    )  # fmt: skip
    (site / "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
         "--quiet", str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return venv


def test_both_packages_import_from_the_installed_wheel(installed_bundle):
    found = subprocess.run(
        [str(installed_bundle / "bin" / "python"), "-c",
         "import churn_pipeline, churn_tools; print(churn_pipeline.__file__); print(churn_tools.__file__)"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(installed_bundle)) for path in found), found


def test_a_runtime_command_runs_from_the_installed_wheel(installed_bundle, synthetic_csv, tmp_path):
    result = subprocess.run(
        [str(installed_bundle / "bin" / "churn-train"), "--data", str(synthetic_csv), "--model-dir",
         str(tmp_path / "model"), "--min-auc", "0.5"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "model" / "model.tar.gz").is_file()


def test_a_tool_command_reads_its_package_data_from_the_installed_wheel(installed_bundle, tmp_path):
    # churn-contract renders the named queries (package data of churn_tools.analytics) into the contract
    # file; run from the checkout, --check compares with the committed one.
    checked = subprocess.run(
        [str(installed_bundle / "bin" / "churn-contract"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert checked.returncode == 0, checked.stderr
    prices = subprocess.run(
        [str(installed_bundle / "bin" / "python"), "-c",
         "from churn_tools.plan_review.cost import PRICES_DIR, load_prices; "
         "prices, warnings = load_prices('us-east-1'); print(PRICES_DIR, prices['region'], warnings)"],
        capture_output=True, text=True, cwd=tmp_path, check=True,
    ).stdout  # fmt: skip
    assert prices.startswith(str(installed_bundle)) and "us-east-1 []" in prices


def _pyproject() -> dict:
    with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]


def _version() -> str:
    return _pyproject()["version"]
