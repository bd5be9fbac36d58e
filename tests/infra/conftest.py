"""Fixtures of the infrastructure tests: the offline Terraform environment and parsed HCL."""

from __future__ import annotations

import functools
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hcl2
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = REPO_ROOT / "terraform"
MODULE_DIRS = sorted(p for p in (TERRAFORM / "modules").iterdir() if p.is_dir())
ROOT_DIRS = sorted(p for p in (TERRAFORM / "envs").iterdir() if p.is_dir())
JOBS_DIR = REPO_ROOT / "jobs"


@functools.cache
def load_hcl(path: Path) -> dict:
    with open(path) as handle:
        return hcl2.load(handle)


def blocks(directory: Path, kind: str) -> list[tuple[str, str, dict]]:
    """(type, name, body) of every `resource`/`data` block of one kind in a directory's .tf files."""
    found = []
    for path in sorted(directory.glob("*.tf")):
        for block in load_hcl(path).get(kind, []):
            for type_name, named in block.items():
                for name, body in named.items():
                    found.append((type_name, name, body))
    return found


def run_terraform(env: dict, directory: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["terraform", f"-chdir={directory}", *args, "-no-color"], env=env, capture_output=True, text=True
    )
    if check and result.returncode != 0:
        pytest.fail(f"terraform {' '.join(args)} in {directory} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def initialized_dirs(tf_env) -> list[Path]:
    """Every module and root, `terraform init -backend=false` once per session (the plugin cache makes it quick).

    The first init runs alone: it fills the plugin cache, which Terraform does not guarantee to be safe for
    concurrent writers (two inits into an empty cache race on mkdir: "file exists"). Later inits only read it.
    """
    directories = [*MODULE_DIRS, *ROOT_DIRS]
    first, *rest = directories
    run_terraform(tf_env, first, "init", "-backend=false", "-input=false")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda d: run_terraform(tf_env, d, "init", "-backend=false", "-input=false"), rest))
    return directories
