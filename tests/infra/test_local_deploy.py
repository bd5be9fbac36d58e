"""End to end on a local AWS: deploy ENV=local to moto server, check what exists with boto3, plan again,
roll a new model, destroy, check nothing is left. One deployment per module (apply dominates the time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from churn_pipeline import synthetic
from churn_pipeline.datasets import read_churn_csv
from churn_pipeline.deploy import package as packaging
from churn_pipeline.training import train, write_artifacts

from .conftest import REPO_ROOT
from .test_static import JOB_SCRIPTS, required_args

# One apply (about a minute of it the provider waiting on S3 lifecycle rules), a plan, a new model, a destroy.
pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
PREFIX = "churn-local"
BUCKETS = {purpose: f"{PREFIX}-{purpose}-{ACCOUNT}" for purpose in ("data", "artifacts", "results")}
ENDPOINT = f"{PREFIX}-churn"
DATABASE = "churn_local_churn"
MODEL_ENDPOINT = "module.pipeline.module.model_endpoint"
# What a plan right after apply still changes, because moto does not keep what was sent (terraform/README.md):
# the model's network isolation (and an empty vpc_config it adds), an endpoint configuration's absent data
# capture (returned as a disabled one), hence the endpoint's configuration, and the stream's tags.
EMULATOR_DRIFT = {
    f"{MODEL_ENDPOINT}.aws_sagemaker_model.this": "replace (create before destroy)",
    f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint_configuration.this": "replace (create before destroy)",
    f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint.this": "update in place",
    "module.pipeline.module.stream.aws_kinesis_stream.this": "update in place",
}


def deploy_cli(command: str, deployment: dict, model_dir: Path) -> subprocess.CompletedProcess:
    work, job_wheel = deployment["work"], deployment["job_wheel"]
    result = subprocess.run(
        [sys.executable, "-m", "churn_pipeline.deploy.terraform", command, "--env", "local",
         "--model-dir", str(model_dir), "--work", str(work), "--job-wheel", str(job_wheel)],
        cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


@pytest.fixture(scope="module")
def deployment(moto_server, model_dir, tmp_path_factory):
    """`deploy --env local` once; the tests below run in order on it, the last one destroys it."""
    work = tmp_path_factory.mktemp("deploy-work")
    # One wheel for the whole module: the checkout's sources may change meanwhile, and a new wheel is a new key.
    deployment = {"work": work, "job_wheel": packaging.build_job_wheel(REPO_ROOT, work / "wheel-cache")}
    printed = deploy_cli("deploy", deployment, model_dir).stdout
    env_work = work / "terraform" / "local"
    # stdout is the outputs as JSON and nothing else (Terraform's progress goes to stderr): scripts parse it.
    assert set(json.loads(printed)) == {"pipeline"}, printed[:2000]
    artifacts = json.loads((env_work / "artifacts.tfvars.json").read_text())["artifacts"]
    deployment.update(env_work=env_work, artifacts=artifacts, model_dir=model_dir)
    yield deployment
    state = env_work / "terraform.tfstate"
    if state.exists() and json.loads(state.read_text()).get("resources"):
        deploy_cli("destroy", deployment, model_dir)  # the destroy test did not get to run: clean up, loudly


@pytest.fixture(scope="module")
def second_model_dir(tmp_path_factory) -> Path:
    """Another small model: only the model artifact differs from the deployed one."""
    out = tmp_path_factory.mktemp("second-model")
    csv = synthetic.write_csv(3_000, out / "data.csv", seed=99)
    write_artifacts(train(read_churn_csv(csv)), out)
    return out


def test_buckets_are_encrypted_versioned_private(deployment):
    s3 = client("s3")
    key_arn = client("kms").describe_key(KeyId="alias/churn-local")["KeyMetadata"]["Arn"]
    for bucket in BUCKETS.values():
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": key_arn,
        }
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        }  # fmt: skip
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKETS["data"])["Rules"]
    assert {r["ID"]: r.get("Expiration") for r in rules} == {
        "expire-noncurrent-versions": None, "expire-checkpoints": {"Days": 30}, "expire-tmp": {"Days": 7},
    }  # fmt: skip
    assert client("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True


def test_the_package_is_uploaded_under_content_addressed_keys(deployment):
    artifacts = deployment["artifacts"]
    listed = client("s3").list_objects_v2(Bucket=BUCKETS["artifacts"])["Contents"]
    expected = {
        artifacts["batch_script_key"], artifacts["stream_script_key"], artifacts["model_artifact_key"],
        artifacts["model_prefix"] + "feature_spec.json", *artifacts["batch_python_modules"], *artifacts["stream_python_modules"],
    }  # fmt: skip
    assert {o["Key"] for o in listed} == expected
    body = (
        client("s3")
        .get_object(Bucket=BUCKETS["artifacts"], Key=artifacts["model_artifact_key"])["Body"]
        .read()
    )
    assert body == (deployment["model_dir"] / "model.tar.gz").read_bytes()


def test_stream_is_active_and_encrypted(deployment):
    summary = client("kinesis").describe_stream_summary(StreamName=f"{PREFIX}-customer-churn")[
        "StreamDescriptionSummary"
    ]
    assert summary["StreamStatus"] == "ACTIVE" and summary["EncryptionType"] == "KMS"
    assert (
        summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"} and summary["RetentionPeriodHours"] == 24
    )


def test_glue_jobs_have_every_argument_their_script_resolves(deployment):
    glue, artifacts = client("glue"), deployment["artifacts"]
    model_uri = f"s3://{BUCKETS['artifacts']}/{artifacts['model_prefix']}"
    expected = {
        "batch": {
            "input_path": f"s3://{BUCKETS['data']}/input/",
            "output_path": f"s3://{BUCKETS['results']}/batch/predictions/",
            "rejects_path": f"s3://{BUCKETS['results']}/batch/rejects/",
            "failed_path": f"s3://{BUCKETS['results']}/batch/failed/",
            "model_uri": model_uri, "mode": "endpoint", "endpoint_name": ENDPOINT, "threshold": "0.5",
            "output_format": "parquet",
        },
        "stream": {
            "stream_arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{PREFIX}-customer-churn",
            "starting_position": "TRIM_HORIZON",
            "checkpoint_path": f"s3://{BUCKETS['data']}/checkpoints/stream-scoring/",
            "output_path": f"s3://{BUCKETS['results']}/stream/predictions/",
            "dead_letter_path": f"s3://{BUCKETS['results']}/stream/dead-letter/",
            "model_uri": model_uri, "mode": "endpoint", "endpoint_name": ENDPOINT, "threshold": "0.5",
            "window_size": "100 seconds",
        },
    }  # fmt: skip
    for job, script in JOB_SCRIPTS.items():
        found = glue.get_job(JobName=f"{PREFIX}-{job}-scoring")["Job"]
        job_args = {
            k.removeprefix("--"): v
            for k, v in found["DefaultArguments"].items()
            if k[2:].islower() and "-" not in k[2:]
        }
        assert job_args == expected[job]
        assert set(job_args) == set(required_args(script)) - {"JOB_NAME"}
        assert (
            found["Command"]["ScriptLocation"]
            == f"s3://{BUCKETS['artifacts']}/{artifacts[f'{job}_script_key']}"
        )
        wheels = [f"s3://{BUCKETS['artifacts']}/{key}" for key in artifacts[f"{job}_python_modules"]]
        assert found["DefaultArguments"]["--additional-python-modules"] == ",".join(wheels)
        assert found["SecurityConfiguration"] == f"{PREFIX}-jobs"
    stream = glue.get_job(JobName=f"{PREFIX}-stream-scoring")["Job"]
    assert (stream["Command"]["Name"], stream["GlueVersion"]) == ("gluestreaming", "5.1")


def test_catalog_tables_exist_with_partition_projection(deployment):
    tables = {t["Name"]: t for t in client("glue").get_tables(DatabaseName=DATABASE)["TableList"]}
    assert set(tables) == {
        "kinesis_customer_churn",
        "batch_predictions",
        "batch_rejects",
        "stream_predictions",
        "stream_dead_letter",
    }
    assert tables["kinesis_customer_churn"]["Parameters"]["streamARN"].endswith(
        f":stream/{PREFIX}-customer-churn"
    )
    for name in ("stream_predictions", "stream_dead_letter"):
        assert tables[name]["Parameters"]["projection.enabled"] == "true"
        assert [k["Name"] for k in tables[name]["PartitionKeys"]] == [
            "ingest_year",
            "ingest_month",
            "ingest_day",
            "ingest_hour",
        ]
    for name in ("batch_predictions", "batch_rejects"):
        assert tables[name]["StorageDescriptor"]["Location"].startswith(f"s3://{BUCKETS['results']}/batch/")
        assert not tables[name].get("PartitionKeys")


def test_endpoint_is_in_service_on_the_packaged_model(deployment):
    sagemaker, artifacts = client("sagemaker"), deployment["artifacts"]
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert endpoint["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model_name = f"{ENDPOINT}-{artifacts['model_version']}"
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [model_name]
    assert config["KmsKeyId"].startswith("arn:aws:kms:")
    container = sagemaker.describe_model(ModelName=model_name)["PrimaryContainer"]
    assert container["ModelDataUrl"] == f"s3://{BUCKETS['artifacts']}/{artifacts['model_artifact_key']}"
    assert container["Image"].endswith("/sagemaker-xgboost:3.0-5")


def test_roles_have_inline_least_privilege_only(deployment):
    iam = client("iam")
    for role in (f"{PREFIX}-glue-jobs", f"{PREFIX}-sagemaker-endpoint"):
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["least-privilege"]


def test_analytics_and_monitoring_exist(deployment):
    workgroup = client("athena").get_work_group(WorkGroup=f"{PREFIX}-churn")["WorkGroup"]["Configuration"]
    assert workgroup["ResultConfiguration"]["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    alarms = {
        a["AlarmName"] for a in client("cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    }
    assert alarms == {
        f"{PREFIX}-endpoint-5xx", f"{PREFIX}-endpoint-latency", f"{PREFIX}-stream-iterator-age",
        f"{PREFIX}-dead-letter-growth", f"{PREFIX}-batch-scoring-failed-tasks", f"{PREFIX}-stream-scoring-failed-tasks",
    }  # fmt: skip


def test_a_second_plan_changes_only_what_the_emulator_cannot_hold(deployment):
    deploy_cli("plan", deployment, deployment["model_dir"])
    summary = json.loads((deployment["env_work"] / "plan-summary.json").read_text())
    assert {c["address"]: c["action"] for c in summary["changes"]} == EMULATOR_DRIFT


def test_a_new_model_rolls_the_endpoint_without_destroying_it(deployment, second_model_dir):
    deploy_cli("plan", deployment, second_model_dir)
    summary = json.loads((deployment["env_work"] / "plan-summary.json").read_text())
    print((deployment["env_work"] / "plan-summary.txt").read_text())
    assert {c["address"]: c["action"] for c in summary["changes"]} == {
        **EMULATOR_DRIFT,
        # model_uri of both jobs points at the new model's prefix
        'module.pipeline.module.glue.aws_glue_job.this["batch"]': "update in place",
        'module.pipeline.module.glue.aws_glue_job.this["stream"]': "update in place",
    }
    plan = json.loads((deployment["env_work"] / "tfplan.json").read_text())
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    new_version = json.loads((second_model_dir / "metrics.json").read_text())["model_version"]
    model = changes[f"{MODEL_ENDPOINT}.aws_sagemaker_model.this"]
    assert model["actions"] == ["create", "delete"] and model["after"]["name"] == f"{ENDPOINT}-{new_version}"
    endpoint = changes[f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint.this"]
    assert endpoint["actions"] == ["update"] and endpoint["after"]["name"] == ENDPOINT


def test_destroy_leaves_nothing_behind(deployment):
    deploy_cli("destroy", deployment, deployment["model_dir"])
    names = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert not names & set(BUCKETS.values())
    assert f"{PREFIX}-customer-churn" not in client("kinesis").list_streams()["StreamNames"]
    assert DATABASE not in {d["Name"] for d in client("glue").get_databases()["DatabaseList"]}
    assert not [j for j in client("glue").list_jobs()["JobNames"] if j.startswith(PREFIX)]
    sagemaker = client("sagemaker")
    assert not [e for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"].startswith(PREFIX)]
    assert not [
        c
        for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        if c["EndpointConfigName"].startswith(PREFIX)
    ]
    assert not [m for m in sagemaker.list_models()["Models"] if m["ModelName"].startswith(PREFIX)]
    assert not [r for r in client("iam").list_roles()["Roles"] if r["RoleName"].startswith(PREFIX)]
    assert not client("cloudwatch").describe_alarms(AlarmNamePrefix=PREFIX)["MetricAlarms"]
    assert not [t for t in client("sns").list_topics()["Topics"] if f":{PREFIX}-" in t["TopicArn"]]
    assert f"{PREFIX}-churn" not in {w["Name"] for w in client("athena").list_work_groups()["WorkGroups"]}
    # A KMS key cannot be deleted at once, anywhere: it waits out its deletion window.
    kms = client("kms")
    aliases = {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert "alias/churn-local" not in aliases
    states = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    assert all(s["KeyState"] == "PendingDeletion" for s in states if s["Description"].startswith(PREFIX))
    assert not json.loads((deployment["env_work"] / "terraform.tfstate").read_text())["resources"]
