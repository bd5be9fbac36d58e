"""Deploy what was reviewed, with the model that was chosen: no implicit training outside ENV=local, an explicit
model recorded with its version and metrics, and a saved plan applied only while its inputs are those it was made
from. Real make, real terraform against the session's moto server (ENV=local); nothing is applied."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from churn_tools.deploy import package as packaging

from .conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "deploy-dev.yml"


def deploy_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "churn_tools.deploy.terraform", *args],
        cwd=REPO_ROOT, env=env or os.environ.copy(), capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("target", ["deploy", "plan", "apply"])
def test_make_outside_local_refuses_to_train_a_model_implicitly(tmp_path, target):
    work = tmp_path / "work"
    result = subprocess.run(
        ["make", target, "ENV=dev", f"WORK={work}", f"MODEL_DIR={tmp_path / 'model'}"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "error: ENV=dev does not train a model implicitly: pass MODEL=" in result.stderr
    assert not (tmp_path / "model").exists() and not (work / "data").exists(), "nothing was trained"


@pytest.mark.parametrize("command", ["deploy", "plan", "apply"])
def test_the_cli_outside_local_wants_an_explicit_model(tmp_path, command):
    result = deploy_cli(command, "--env", "prod", "--work", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: ENV=prod deploys only a model chosen explicitly: pass --model" in result.stderr
    assert not (tmp_path / "terraform").exists(), "refused before any packaging or terraform"


@pytest.fixture(scope="module")
def planned(moto_server, model_dir, tmp_path_factory, job_wheel_cache):
    """`churn-deploy plan --env local` of an empty moto account with the session's model: the saved plan."""
    work = tmp_path_factory.mktemp("reviewed-plan")
    wheel = packaging.build_job_wheel(REPO_ROOT, job_wheel_cache)
    common = ["--env", "local", "--work", str(work), "--endpoint-url", moto_server, "--job-wheel", str(wheel)]
    result = deploy_cli("plan", "--model", str(model_dir), *common)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"work": work, "env_work": work / "terraform" / "local", "common": common}


def test_the_plan_records_the_model_and_its_inputs(planned, model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    model = json.loads((planned["env_work"] / "model.json").read_text())
    assert model == {"source": str(model_dir), "version": metrics["model_version"], "metrics": metrics}
    inputs = json.loads((planned["env_work"] / "tfplan.inputs.json").read_text())
    artifacts = planned["env_work"] / "artifacts.tfvars.json"
    assert inputs == {
        "env": "local",
        "model_version": metrics["model_version"],
        "model_source": str(model_dir),
        "artifacts.tfvars.json": packaging.sha256_file(artifacts),
        "terraform.tfvars": packaging.sha256_file(
            REPO_ROOT / "terraform" / "envs" / "local" / "terraform.tfvars"
        ),
    }


def test_a_plan_whose_model_changed_since_the_review_is_refused(planned, model_dir, tmp_path):
    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other)
    metrics = json.loads((other / "metrics.json").read_text())
    reviewed = metrics["model_version"]
    metrics["model_version"] = "0123456789abcdef"
    (other / "metrics.json").write_text(json.dumps(metrics))
    plan_file = planned["env_work"] / "tfplan"
    before = plan_file.read_bytes()
    result = deploy_cli("apply", "--model", str(other), *planned["common"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        f"error: refusing to apply {plan_file}: its inputs changed since the plan was made and reviewed"
        in (result.stderr)
    )
    assert f"model_version: {reviewed} at review, 0123456789abcdef now" in result.stderr
    assert "artifacts.tfvars.json: " in result.stderr and "Plan again (`make plan ENV=local" in result.stderr
    assert "terraform -chdir" not in result.stderr, "no terraform command ran"
    assert plan_file.read_bytes() == before


def test_an_unchanged_plan_of_a_first_deployment_is_refused_naming_make_deploy(planned, model_dir):
    result = deploy_cli("apply", "--model", str(model_dir), *planned["common"])
    assert result.returncode == 2
    assert "error: ENV=local has no artifacts bucket yet" in result.stderr
    assert "the first deployment is `make deploy ENV=local MODEL=...`" in result.stderr
    ran = [line for line in result.stderr.splitlines() if line.startswith("+ terraform ")]
    assert ran and not [line for line in ran if " apply " in line], "init and show ran, terraform apply never"


def test_a_plan_without_its_inputs_record_is_refused(planned, model_dir, tmp_path):
    lone = tmp_path / "tfplan"
    shutil.copy(planned["env_work"] / "tfplan", lone)
    result = deploy_cli("apply", "--model", str(model_dir), "--plan", str(lone), *planned["common"])
    assert result.returncode == 2
    assert f"error: no record of the inputs of {lone}" in result.stderr


def test_a_model_uri_that_holds_no_model_is_refused_naming_the_layout(planned, moto_server):
    result = deploy_cli("plan", "--model", "s3://no-such-bucket/models/x/", *planned["common"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "error: s3://no-such-bucket/models/x/model.tar.gz cannot be read" in result.stderr
    assert "model.tar.gz, feature_spec.json, metrics.json" in result.stderr


def test_the_dev_workflow_applies_the_saved_plan_with_the_chosen_model():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    plan_steps = " ".join(step.get("run", "") for step in jobs["plan-dev"]["steps"])
    apply_steps = " ".join(step.get("run", "") for step in jobs["apply-dev"]["steps"])
    assert 'make plan ENV=dev MODEL="$CHURN_MODEL_URI"' in plan_steps
    assert 'make apply ENV=dev MODEL="$CHURN_MODEL_URI" PLAN="$WORK/terraform/dev/tfplan"' in apply_steps
    assert jobs["apply-dev"]["needs"] == ["plan-dev"] and jobs["apply-dev"]["environment"] == "dev"
    uploaded = next(s for s in jobs["plan-dev"]["steps"] if "upload-artifact" in s.get("uses", ""))["with"][
        "path"
    ]
    assert "tfplan\n" in uploaded and "tfplan.inputs.json" in uploaded
    everything = WORKFLOW.read_text()
    assert (
        "-auto-approve" not in everything
        and "make deploy" not in everything
        and "make train" not in everything
    )
