"""One local deployment per test module: `deploy --env local` on a moto server of the module's own, and what
its tests share (names, the deploy command, what the deployed jobs and tables hold). The fixtures that
deploy are in tests/infra/conftest.py.

Two modules deploy: tests/infra/test_local_deploy.py checks what the deploy made and runs the deployed jobs'
entry scripts on it; tests/infra/test_local_rollouts.py plans and rolls new models on its own and destroys. Each
deployment's tests run in order on one worker (tests/conftest.py), and the two modules run side by side: one
module of both took about 1,400 s, the longest unit of `make test`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3

from churn_pipeline.contract import outputs

from .conftest import REPO_ROOT

ACCOUNT = "123456789012"
PREFIX = "churn-local"
BUCKETS = {purpose: f"{PREFIX}-{purpose}-{ACCOUNT}" for purpose in ("data", "artifacts", "results")}
ENDPOINT = f"{PREFIX}-churn"
DATABASE = "churn_local_churn"
MODEL_ENDPOINT = "module.pipeline.module.model_endpoint"
# The Glue job of each entry script (modules/glue: the scoring jobs and the model-quality job).
JOB_NAMES = {
    "batch": f"{PREFIX}-batch-scoring",
    "stream": f"{PREFIX}-stream-scoring",
    "quality": f"{PREFIX}-model-quality",
}
QUALITY_ALARM = f"{PREFIX}-model-quality-auc"
# What a plan right after apply still changes, because moto does not keep what was sent (terraform/README.md):
# the model's network isolation (and an empty vpc_config it adds), an endpoint configuration's absent data
# capture (returned as a disabled one), hence the endpoint's configuration, the stream's tags, and the streaming
# job's maintenance window (moto 5.2.5's Glue keeps no MaintenanceWindow).
EMULATOR_DRIFT = {
    f"{MODEL_ENDPOINT}.aws_sagemaker_model.this": "replace (create before destroy)",
    f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint_configuration.this": "replace (create before destroy)",
    f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint.this": "update in place",
    "module.pipeline.module.stream.aws_kinesis_stream.this": "update in place",
    'module.pipeline.module.glue.aws_glue_job.this["stream"]': "update in place",
}


def deploy_cli(
    command: str, deployment: dict, model_dir: Path, succeed: bool = True
) -> subprocess.CompletedProcess:
    work, job_wheel = deployment["work"], deployment["job_wheel"]
    # With the dependency wheels (as ENV=dev and prod ship them) where a module installs or reads the uploaded set:
    # downloading and uploading them costs every deployment that ships them.
    wheels = "yes" if deployment["dependency_wheels"] else "no"
    result = subprocess.run(
        [sys.executable, "-m", "churn_tools.deploy.terraform", command, "--env", "local",
         "--model-dir", str(model_dir), "--work", str(work), "--job-wheel", str(job_wheel),
         "--dependency-wheels", wheels],
        cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True,
    )  # fmt: skip
    if succeed:
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


def deployed_arguments(job: str) -> dict[str, str]:
    """DefaultArguments of a deployed Glue job, as Terraform wrote them (read back from moto)."""
    return client("glue").get_job(JobName=JOB_NAMES[job])["Job"]["DefaultArguments"]


def writer_schemas(description) -> dict[str, list[tuple[str, str]]]:
    """(name, type) of every catalog table's columns as the jobs write them for a model of `description`."""
    schemas = {
        d.table: [(c["name"], c["type"]) for c in d.for_data(description).catalog_columns()]
        for d in outputs.DATASETS
    }
    source = outputs.catalog_fields(outputs.stream_record_fields(description))
    return {**schemas, "kinesis_customer_churn": [(c["name"], c["type"]) for c in source]}


def quality_margin_as_deployed() -> float:
    """The auc_margin the deployed quality job reads from its own arguments."""
    from churn_pipeline.quality import glue as quality_glue

    arguments = {k.removeprefix("--"): v for k, v in deployed_arguments("quality").items()}
    return quality_glue.config_from_glue_args(arguments).auc_margin
