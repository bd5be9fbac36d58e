"""Fixture plans made by the project itself: the local root applied to a real moto server, then re-planned
with changed variables (create/update/replace/destroy, IAM widening, encryption loosened) and shown as JSON.

One copy of terraform/ per session (so state and .terraform stay out of the checkout), one apply, then each
plan is made once and cached for the session.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hcl2
import pytest

from churn_pipeline.contract import dataset
from churn_pipeline.contract.dataset import DatasetDescription
from churn_tools.deploy import package as packaging

REPO_ROOT = Path(__file__).resolve().parents[3]
# Artifact keys in the shapes the modules validate; the plans only need the names, not the objects.
ARTIFACTS = {
    "batch_script_key": "code/0123456789abcdef/batch_job.py",
    "stream_script_key": "code/0123456789abcdef/stream_job.py",
    "quality_script_key": "code/0123456789abcdef/quality_job.py",
    "model_artifact_key": "models/0123456789abcdef/model.tar.gz",
    "model_prefix": "models/0123456789abcdef/",
    "model_version": "0123456789abcdef",
    "batch_python_modules": [],
    "stream_python_modules": [],
}


def env_tfvars(env: str) -> dict[str, Any]:
    """The environment's terraform.tfvars as a dict (what `make deploy ENV=env` would pass)."""
    with open(REPO_ROOT / "terraform" / "envs" / env / "terraform.tfvars") as handle:
        return hcl2.load(handle)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        out[key] = (
            merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


class LocalRoot:
    """The local root in a scratch copy of terraform/, on the session's moto server."""

    def __init__(self, workdir: Path, endpoint_url: str, tf_env: dict[str, str], test_auc: float):
        self.tree = workdir / "tree"
        shutil.copytree(
            REPO_ROOT / "terraform",
            self.tree / "terraform",
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfplan"),
        )
        self.root = self.tree / "terraform" / "envs" / "local"
        self.workdir = workdir
        self.endpoint_url = endpoint_url
        self.env = tf_env  # the offline CLI config: discovered provider mirror, this worker's plugin cache
        self.plans: dict[str, Path] = {}
        self.test_auc = test_auc  # the session model's (its metrics.json, as the packaging step reads it)

    def terraform(self, *args: str, workspace: str = "default") -> str:
        result = subprocess.run(
            ["terraform", f"-chdir={self.root}", *args, "-no-color"],
            env={**self.env, "TF_WORKSPACE": workspace},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"terraform {args[0]} failed ({result.returncode}):\n{result.stderr}\n{result.stdout[-3000:]}"
            )
        return result.stdout

    def var_file(
        self, name: str, tfvars: dict[str, Any], description: DatasetDescription | None = None
    ) -> Path:
        """The settings, and the packaging step's variables (its own writer's) for a model of `description`
        (default: the tutorial's)."""
        package = packaging.Package(
            variables=ARTIFACTS, description=description or dataset.tutorial(), test_auc=self.test_auc
        )
        path = self.workdir / f"{name}.tfvars.json"
        path.write_text(
            json.dumps({**tfvars, "endpoint_url": self.endpoint_url, **package.terraform_variables()})
        )
        return path

    def apply(self, tfvars: dict[str, Any]) -> None:
        self.terraform("init", "-input=false")
        self.terraform(
            "apply", "-auto-approve", "-input=false", f"-var-file={self.var_file('applied', tfvars)}"
        )

    def plan_json(
        self,
        name: str,
        tfvars: dict[str, Any],
        *extra: str,
        workspace: str = "default",
        description: DatasetDescription | None = None,
    ) -> Path:
        """`terraform plan -out` then `terraform show -json`; cached by name for the session.

        No refresh: the state was written by the apply a moment ago against the same moto server, and
        refreshing ~50 resources per plan would take most of this suite's time budget.
        """
        if name not in self.plans:
            planfile = self.workdir / f"{name}.tfplan"
            var_file = f"-var-file={self.var_file(name, tfvars, description)}"
            # -lock=false: several plans read the state at once; none of them writes it.
            self.terraform(
                "plan", "-input=false", "-refresh=false", "-lock=false", f"-out={planfile}", var_file, *extra,
                workspace=workspace,
            )  # fmt: skip
            out = self.workdir / f"{name}.json"
            out.write_text(self.terraform("show", "-json", str(planfile), workspace=workspace))
            self.plans[name] = out
        return self.plans[name]


@pytest.fixture(scope="session")
def local_tfvars() -> dict[str, Any]:
    return env_tfvars("local")


@pytest.fixture(scope="session")
def plan_review_moto(tmp_path_factory):
    """A moto server of the plan review's own (its URL given to Terraform, no environment changed): the
    worker's session server may hold another test's churn-local-* resources (a clean-clone run failed 21 applies
    with EntityAlreadyExists on the role churn-local-glue-jobs)."""
    from endpoint_helpers import running_moto

    with running_moto(tmp_path_factory.mktemp("plan-review-moto"), set_environment=False) as url:
        yield url


@pytest.fixture(scope="session")
def local_root(tmp_path_factory, plan_review_moto, local_tfvars, tf_env, model_dir) -> LocalRoot:
    """The local root applied once with its own terraform.tfvars."""
    if shutil.which("terraform") is None:
        pytest.fail("the terraform CLI is required for the plan review tests (CI installs it)")
    from churn_tools.local import services as local_services

    # moto's fake credentials for the provider (the endpoint is a tfvar, endpoint_url)
    root = LocalRoot(
        tmp_path_factory.mktemp("plan-review"),
        plan_review_moto,
        {**tf_env, **local_services.LOCAL_AWS_ENV},
        packaging.model_test_auc(model_dir),
    )
    root.apply(local_tfvars)
    return root


# What each fixture plan changes against the applied local configuration.
SCENARIOS: dict[str, dict[str, Any]] = {
    "noop": {},
    # Create an alarm subscription and a batch schedule, resize the batch job, make the stream provisioned;
    # turn data capture on: the endpoint role may now write to the results bucket (an IAM widening); and go
    # serverless: the endpoint configuration is replaced without its KMS key (SageMaker takes none for
    # serverless), the instances go. One plan for all of it: each plan costs ~10 s of CPU for the provider.
    "grow": {
        "settings": {
            "monitoring": {"alarm_emails": ["oncall@example.com"]},
            "jobs": {"batch": {"number_of_workers": 4, "schedule": "cron(0 2 * * ? *)"}},
            "stream": {"capacity_mode": "PROVISIONED", "shard_count": 2},
            "endpoint": {
                "data_capture_enabled": True,
                "data_capture_sampling_pct": 20,
                "serverless": {"memory_size_in_mb": 2048, "max_concurrency": 5},
            },
        }
    },
    # A new name prefix: every named resource is replaced, data-bearing ones included.
    "rename": {"settings": {"name_prefix": "churn-renamed"}},
}
# An empty workspace of the same root: dev's configuration planned from nothing.
DEV_WORKSPACE = "dev-configuration"
# The same settings, a model of another dataset (tests/data/telco-shape.dataset.json).
OTHER_DATASET = "other-dataset"
FIXTURE_PLANS = (*SCENARIOS, "destroy", "noop-storage", DEV_WORKSPACE, OTHER_DATASET)


@pytest.fixture(scope="session")
def fixture_plans(local_root, local_tfvars, second_description) -> dict[str, Path]:
    """Every fixture plan's JSON by name, made at once, a few in parallel. Besides SCENARIOS:
    - "destroy": `plan -destroy`;
    - "noop-storage": the storage module (buckets, key, policies) re-planned unchanged: nothing to do;
    - "dev-configuration": dev's terraform.tfvars (region, settings) planned from an empty state in another
      workspace of the local root; the dev root itself needs AWS credentials and its S3 backend, its resources
      and settings are the same;
    - "other-dataset": the local settings, the packaging step's variables for a model of a second description.
    """
    local_root.terraform("workspace", "new", DEV_WORKSPACE, workspace=DEV_WORKSPACE)

    def make(name: str) -> Path:
        if name == "destroy":
            return local_root.plan_json(name, local_tfvars, "-destroy")
        if name == "noop-storage":
            return local_root.plan_json(name, local_tfvars, "-target=module.pipeline.module.storage")
        if name == DEV_WORKSPACE:
            return local_root.plan_json(name, env_tfvars("dev"), workspace=DEV_WORKSPACE)
        if name == OTHER_DATASET:
            return local_root.plan_json(name, local_tfvars, description=second_description)
        return local_root.plan_json(name, merged(local_tfvars, SCENARIOS[name]))

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(FIXTURE_PLANS, pool.map(make, FIXTURE_PLANS), strict=True))


@pytest.fixture(scope="session")
def fixture_plan(fixture_plans):
    """fixture_plan(name) -> path of the JSON of that plan."""
    return fixture_plans.__getitem__


@pytest.fixture(scope="session")
def dev_configuration_plan(fixture_plans) -> Path:
    return fixture_plans[DEV_WORKSPACE]
