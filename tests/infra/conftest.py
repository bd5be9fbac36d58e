"""Fixtures of the infrastructure tests: the offline Terraform environment and parsed HCL."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import hcl2
import pytest

from churn_pipeline.contract import dataset
from churn_pipeline.contract.dataset import DatasetDescription
from churn_tools.deploy import package as packaging
from churn_tools.local import services as local_services

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


# The environments planned as they are, for the tests that read dev's and prod's plans
# (test_deployed_arguments.py, test_rollout_plan.py: one worker, tests/conftest.py SHARED_UNITS).
ENVIRONMENTS = ("dev", "prod")
ARTIFACTS = {
    "batch_script_key": "code/0123456789abcdef/glue_batch_scoring.py",
    "stream_script_key": "code/0123456789abcdef/glue_stream_scoring.py",
    "quality_script_key": "code/0123456789abcdef/glue_quality.py",
    "model_artifact_key": "models/0123456789abcdef/model.tar.gz",
    "model_prefix": "models/0123456789abcdef/",
    "model_version": "0123456789abcdef",
    "batch_python_modules": [],
    "stream_python_modules": [],
}
OVERRIDE = """
terraform {{
  backend "local" {{}}
}}

provider "aws" {{
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  endpoints {{
    sts = "{url}"
  }}
}}
"""


class EnvPlans:
    """envs/dev and envs/prod in a scratch copy of terraform/, initialised once, planned per (env, description):
    the variables written by the packaging step's own writer (package.write_variables), for a model of that
    description. Each plan is made once per session."""

    def __init__(self, tree: Path, process_env: dict[str, str], moto_url: str, test_auc: float):
        shutil.copytree(
            REPO_ROOT / "terraform",
            tree / "terraform",
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*"),
        )
        self.tree, self.env = tree, process_env
        self.roots = {env: tree / "terraform" / "envs" / env for env in ENVIRONMENTS}
        # Inits one after the other: concurrent writers race in an empty plugin cache.
        for root in self.roots.values():
            (root / "seam_test_override.tf").write_text(OVERRIDE.format(url=moto_url))
            self.terraform(root, "init", "-input=false")
        self.plans: dict[tuple[str, str], dict] = {}
        self.test_auc = test_auc  # the session model's, read by the packaging step's own reader

    def terraform(self, root: Path, *args: str) -> str:
        result = subprocess.run(
            ["terraform", f"-chdir={root}", *args, "-no-color"], env=self.env, capture_output=True, text=True
        )
        assert result.returncode == 0, (
            f"terraform {args[0]} in {root}:\n{result.stderr}\n{result.stdout[-3000:]}"
        )
        return result.stdout

    def plan(self, env: str, description: DatasetDescription) -> dict:
        """{address: planned values} of every resource of `terraform plan` of the root."""
        key = (env, description.name)
        if key not in self.plans:
            var_file = self.tree / f"{env}-{description.name}.tfvars.json"
            packaging.write_variables(
                packaging.Package(variables=ARTIFACTS, description=description, test_auc=self.test_auc),
                var_file,
            )
            plan_file = f"{env}-{description.name}.tfplan"
            self.terraform(self.roots[env], "plan", "-input=false", "-lock=false", f"-out={plan_file}",
                           f"-var-file={var_file}")  # fmt: skip
            shown = json.loads(self.terraform(self.roots[env], "show", "-json", plan_file))
            self.plans[key] = {rc["address"]: rc["change"]["after"] for rc in shown["resource_changes"]}
        return self.plans[key]


@pytest.fixture(scope="session")
def env_plans(moto_server, tf_env, tmp_path_factory, model_dir) -> EnvPlans:
    # moto's fake credentials: the session's Terraform environment may predate the moto server.
    return EnvPlans(
        tmp_path_factory.mktemp("env-plans"),
        {**tf_env, **local_services.LOCAL_AWS_ENV},
        moto_server,
        packaging.model_test_auc(model_dir),
    )


@pytest.fixture(scope="session")
def planned(env_plans) -> dict[str, dict]:
    """{env: {address: planned values}} of envs/dev and envs/prod for a model of the tutorial's description."""
    # Both plans at once: each mostly waits on the provider.
    with ThreadPoolExecutor(max_workers=len(ENVIRONMENTS)) as pool:
        plans = pool.map(lambda env: env_plans.plan(env, dataset.tutorial()), ENVIRONMENTS)
        return dict(zip(ENVIRONMENTS, plans, strict=True))


# ---------------------------------------------------------------- one local deployment per module
# tests/infra/local_deployment.py holds what its tests share; these fixtures are per module (each its own moto).
@pytest.fixture(scope="module")
def rollout_outcome(tmp_path_factory) -> Path:
    """The file that says how the module's moto server answers the next UpdateEndpoint: succeed or rollback."""
    return tmp_path_factory.mktemp("rollout") / "outcome"


@pytest.fixture(scope="module")
def own_moto(tmp_path_factory, rollout_outcome):
    """A moto server of this module's own: the worker's session server may already hold another unit's
    churn-local-* resources (tests/tools/plan_review applies the same root and keeps it for its plans). It
    has SageMaker's UpdateEndpoint and Glue's UpdateJob (tests/rollout_moto.py), which moto lacks, so rollouts apply."""
    import rollout_moto

    from churn_tools.local import services as local_services

    port = local_services.free_port()
    process = rollout_moto.start(port, tmp_path_factory.mktemp("deploy-moto") / "moto.log", rollout_outcome)
    url = f"http://{local_services.LOOPBACK}:{port}"
    try:
        with pytest.MonkeyPatch.context() as env:
            for key, value in {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": url}.items():
                env.setenv(key, value)
            yield url
    finally:
        local_services.stop_process(process)


@pytest.fixture(scope="module")
def deployment(request, own_moto, model_dir, tmp_path_factory, job_wheel_cache):
    """`deploy --env local` once, on the module's own moto server; the module's tests run in order on it. Nothing
    to tear down: the server, and with it every resource, goes when the module ends."""
    work = tmp_path_factory.mktemp("deploy-work")
    # One wheel for the whole module: the checkout's sources may change meanwhile, and a new wheel is a new key.
    deployment = {
        "work": work,
        "job_wheel": packaging.build_job_wheel(REPO_ROOT, job_wheel_cache),
        # A module ships the dependency wheels if it says so (SHIP_DEPENDENCY_WHEELS): the Glue runtime matrix
        # installs them; the rollouts only plan and apply.
        "dependency_wheels": getattr(request.module, "SHIP_DEPENDENCY_WHEELS", False),
    }
    from .local_deployment import deploy_cli

    printed = deploy_cli("deploy", deployment, model_dir).stdout
    env_work = work / "terraform" / "local"
    # stdout is the outputs as JSON and nothing else (Terraform's progress goes to stderr): scripts parse it.
    assert set(json.loads(printed)) == {"pipeline"}, printed[:2000]
    artifacts = json.loads((env_work / "artifacts.tfvars.json").read_text())["artifacts"]
    deployment.update(env_work=env_work, artifacts=artifacts, model_dir=model_dir)
    return deployment
