"""The project checkout the workstation tools work on (its terraform/ tree, jobs/ entry scripts, pyproject).

The tools are installed (editable or not) but operate on a checkout: found from the working directory upwards,
as git and terraform find theirs, or named by CHURN_PROJECT_ROOT. Data files the tools read themselves (prices,
named queries) are package data, read with importlib.resources; only the checkout's own files come from here.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "CHURN_PROJECT_ROOT"
# What makes a directory the project's checkout: the contract file Terraform reads, beside the package sources.
MARKERS = ("pyproject.toml", "terraform/contract.json", "src/churn_pipeline")


class ProjectNotFound(RuntimeError):
    pass


def is_project_root(path: Path) -> bool:
    return all((path / marker).exists() for marker in MARKERS)


def project_root(start: Path | None = None) -> Path:
    """The checkout: $CHURN_PROJECT_ROOT if set, else the nearest directory at or above `start` (the cwd)."""
    named = os.environ.get(ROOT_ENV)
    if named:
        root = Path(named).resolve()
        if not is_project_root(root):
            raise ProjectNotFound(
                f"{ROOT_ENV}={named} is not the project's checkout (it lacks one of {MARKERS})"
            )
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if is_project_root(candidate):
            return candidate
    raise ProjectNotFound(
        f"no project checkout at or above {here} (a directory with {', '.join(MARKERS)}): "
        f"run from the checkout or set {ROOT_ENV}"
    )
