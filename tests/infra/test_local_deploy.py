"""End to end on a local AWS: deploy ENV=local to moto server, check what exists with boto3, plan again,
roll a new model, destroy, check nothing is left. One deployment per module (apply dominates the time)."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from churn_pipeline.contract import metrics, outputs, settings
from churn_pipeline.model import ModelDir
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts
from churn_tools import synthetic
from churn_tools.deploy import package as packaging

from .conftest import REPO_ROOT, load_hcl
from .test_static import JOB_SCRIPTS, is_glue_own, required_args

# One apply (about a minute of it the provider waiting on S3 lifecycle rules), a plan, a new model, a destroy.
pytestmark = pytest.mark.slow(seconds=750)

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
    # With the dependency wheels, as ENV=dev and prod ship them: the Glue runtime matrix below installs the
    # uploaded set on each job's Glue version.
    result = subprocess.run(
        [sys.executable, "-m", "churn_tools.deploy.terraform", command, "--env", "local",
         "--model-dir", str(model_dir), "--work", str(work), "--job-wheel", str(job_wheel),
         "--dependency-wheels", "yes"],
        cwd=REPO_ROOT, env=os.environ.copy(), capture_output=True, text=True,
    )  # fmt: skip
    if succeed:
        assert result.returncode == 0, f"{command} failed:\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
    return result


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")


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
def deployment(own_moto, model_dir, tmp_path_factory):
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


def write_described_csv(description, rows: int, path: Path, seed: int) -> Path:
    """Small data of any description's shape: values within each column's bounds and vocabulary (made-up
    categories where it names none), allowed blanks now and then, a label that follows the first numeric
    feature, so a model learns something."""
    import csv
    import random

    rng = random.Random(seed)
    numeric = description.numeric_features[0]
    low, high = numeric.minimum or 0, numeric.maximum or 100

    def value(column, row: int) -> str:
        if column.role == "id":
            return f"{row:05d}-X"
        if column.vocabulary:
            return str(rng.choice(column.vocabulary))
        if column.blank_allowed and rng.random() < 0.05:
            return ""
        if column.type == "integer":
            return str(rng.randint(int(column.minimum or 0), int(column.maximum or 100)))
        if column.type == "decimal":
            return f"{rng.uniform(column.minimum or 0, column.maximum or 100):.2f}"
        return rng.choice(["north", "south east", "west (coast)"])

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(description.column_names)
        for row in range(rows):
            values = {c.name: value(c, row) for c in description.columns if c.role != "label"}
            level = (float(values[numeric.name] or low) - low) / (high - low)
            positive = rng.random() < 0.8 - 0.6 * level
            label = description.positive_labels[0] if positive else description.negative_labels[0]
            writer.writerow([label if c.role == "label" else values[c.name] for c in description.columns])
    return path


@pytest.fixture(scope="module")
def other_dataset_model_dir(tmp_path_factory, second_description) -> Path:
    """A small model of a second dataset shape (tests/data/telco-shape.dataset.json): it carries that
    description, as `churn-train --dataset` writes it."""
    out = tmp_path_factory.mktemp("other-dataset-model")
    csv = write_described_csv(second_description, 2_000, out / "data.csv", seed=5)
    frame = read_churn_csv(csv, second_description)
    write_artifacts(train(frame, description=second_description), out)
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
    # Live checkpoints (checkpoints/) never expire; retired ones (checkpoints-retired/) do.
    assert {r["ID"]: r.get("Expiration") for r in rules} == {
        "expire-noncurrent-versions": None,
        "expire-checkpoints-retired": {"Days": 30},
        "expire-tmp": {"Days": 7},
    }
    assert client("kms").get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True


def test_the_package_is_uploaded_under_content_addressed_keys(deployment):
    artifacts = deployment["artifacts"]
    listed = client("s3").list_objects_v2(Bucket=BUCKETS["artifacts"])["Contents"]
    expected = {
        artifacts["batch_script_key"], artifacts["stream_script_key"], artifacts["quality_script_key"],
        artifacts["model_artifact_key"],
        artifacts["model_prefix"] + "feature_spec.json", artifacts["model_prefix"] + "baseline.json",
        artifacts["model_prefix"] + "metrics.json",
        artifacts["model_prefix"] + "dataset.json",
        *artifacts["batch_python_modules"], *artifacts["stream_python_modules"],
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


def deployed_arguments(job: str) -> dict[str, str]:
    """DefaultArguments of a deployed Glue job, as Terraform wrote them (read back from moto)."""
    return client("glue").get_job(JobName=JOB_NAMES[job])["Job"]["DefaultArguments"]


def test_glue_jobs_have_every_argument_their_script_resolves(deployment):
    glue, artifacts = client("glue"), deployment["artifacts"]
    model_uri = f"s3://{BUCKETS['artifacts']}/{artifacts['model_prefix']}"
    scoring = {"model_uri": model_uri, "scoring_mode": "endpoint", "endpoint_name": ENDPOINT, "threshold": "0.5",
               "aws_region": "us-east-1"}  # fmt: skip
    expected = {
        "batch": {
            "input_path": f"s3://{BUCKETS['data']}/input/",
            "output_path": f"s3://{BUCKETS['results']}/batch/predictions/",
            "rejects_path": f"s3://{BUCKETS['results']}/batch/rejects/",
            "failed_path": f"s3://{BUCKETS['results']}/batch/failed/",
            "drift_path": f"s3://{BUCKETS['results']}/batch/drift/",
            "output_format": "parquet",
            **scoring,
        },
        "stream": {
            "stream_arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/{PREFIX}-customer-churn",
            "starting_position": "TRIM_HORIZON",
            "checkpoint_path": f"s3://{BUCKETS['data']}/checkpoints/stream-scoring/",
            "output_path": f"s3://{BUCKETS['results']}/stream/predictions/",
            "dead_letter_path": f"s3://{BUCKETS['results']}/stream/dead-letter/",
            "window_size": "100 seconds",
            "drift_path": f"s3://{BUCKETS['results']}/stream/drift/",
            **scoring,
        },
        "quality": {
            "outcomes_path": f"s3://{BUCKETS['data']}/outcomes/",
            "batch_scored_path": f"s3://{BUCKETS['results']}/batch/predictions/",
            "stream_scored_path": f"s3://{BUCKETS['results']}/stream/predictions/",
            "quality_path": f"s3://{BUCKETS['results']}/quality/metrics/",
            "calibration_path": f"s3://{BUCKETS['results']}/quality/calibration/",
            "outcome_rejects_path": f"s3://{BUCKETS['results']}/quality/outcome-rejects/",
            "training_set_path": f"s3://{BUCKETS['results']}/quality/training-set/",
            "horizon_days": str(settings.HORIZON_DAYS.default), "auc_margin": str(settings.AUC_MARGIN.default),
            **{k: scoring[k] for k in ("model_uri", "threshold", "aws_region")},
        },
    }  # fmt: skip
    for job, script in JOB_SCRIPTS.items():
        found = glue.get_job(JobName=JOB_NAMES[job])["Job"]
        job_args = {
            k.removeprefix("--"): v for k, v in found["DefaultArguments"].items() if not is_glue_own(k)
        }
        assert job_args == expected[job]
        assert set(job_args) == set(required_args(script)) - {"JOB_NAME"}
        assert (
            found["Command"]["ScriptLocation"]
            == f"s3://{BUCKETS['artifacts']}/{artifacts[f'{job}_script_key']}"
        )
        # The quality job runs on the batch job's Glue version, with its wheels.
        modules = artifacts["stream_python_modules" if job == "stream" else "batch_python_modules"]
        wheels = [f"s3://{BUCKETS['artifacts']}/{key}" for key in modules]
        assert found["DefaultArguments"]["--additional-python-modules"] == ",".join(wheels)
        assert found["SecurityConfiguration"] == f"{PREFIX}-jobs"
    stream = glue.get_job(JobName=JOB_NAMES["stream"])["Job"]
    assert (stream["Command"]["Name"], stream["GlueVersion"]) == ("gluestreaming", "5.1")
    quality, batch = (glue.get_job(JobName=JOB_NAMES[job])["Job"] for job in ("quality", "batch"))
    assert (quality["Command"]["Name"], quality["GlueVersion"]) == ("glueetl", batch["GlueVersion"])
    assert quality["Role"].endswith(f":role/{PREFIX}-glue-quality") and batch["Role"].endswith(
        f":role/{PREFIX}-glue-jobs"
    )


def test_the_quality_job_is_triggered_daily(deployment):
    """An activated SCHEDULED trigger (the provider starts it on creation) runs the quality job at the tfvars'
    cron (UTC); whether the schedule fires is on the first deployment checklist."""
    trigger = client("glue").get_trigger(Name=f"{PREFIX}-model-quality-schedule")["Trigger"]
    assert (trigger["Type"], trigger["State"], [a["JobName"] for a in trigger["Actions"]]) == (
        "SCHEDULED", "ACTIVATED", [JOB_NAMES["quality"]]
    )  # fmt: skip
    tfvars = load_hcl(REPO_ROOT / "terraform" / "envs" / "local" / "terraform.tfvars")
    assert trigger["Schedule"] == tfvars["settings"]["jobs"]["quality"]["schedule"]


def test_catalog_tables_exist_with_partition_projection(deployment):
    tables = {t["Name"]: t for t in client("glue").get_tables(DatabaseName=DATABASE)["TableList"]}
    assert set(tables) == {"kinesis_customer_churn", *(d.table for d in outputs.DATASETS)}
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
    for name in ("batch_predictions", "batch_rejects", "batch_failed"):
        assert tables[name]["StorageDescriptor"]["Location"].startswith(f"s3://{BUCKETS['results']}/batch/")
        assert not tables[name].get("PartitionKeys")


def writer_schemas(description) -> dict[str, list[tuple[str, str]]]:
    """(name, type) of every catalog table's columns as the jobs write them for a model of `description`."""
    schemas = {
        d.table: [(c["name"], c["type"]) for c in d.for_data(description).catalog_columns()]
        for d in outputs.DATASETS
    }
    source = outputs.catalog_fields(outputs.stream_record_fields(description))
    return {**schemas, "kinesis_customer_churn": [(c["name"], c["type"]) for c in source]}


def test_catalog_tables_hold_the_deployed_model_s_columns(deployment):
    from churn_pipeline.model import ModelDir

    description = ModelDir(deployment["model_dir"]).description()
    assert {table: catalog_schema(table)[0] for table in writer_schemas(description)} == writer_schemas(
        description
    )


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
    for role in (f"{PREFIX}-glue-jobs", f"{PREFIX}-glue-quality", f"{PREFIX}-sagemaker-endpoint"):
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
        f"{PREFIX}-batch-scoring-drift", f"{PREFIX}-stream-scoring-drift", f"{PREFIX}-model-quality-failed-tasks",
        QUALITY_ALARM,
    }  # fmt: skip


def quality_margin_as_deployed() -> float:
    """The auc_margin the deployed quality job reads from its own arguments."""
    from churn_pipeline.quality import glue as quality_glue

    arguments = {k.removeprefix("--"): v for k, v in deployed_arguments("quality").items()}
    return quality_glue.config_from_glue_args(arguments).auc_margin


def test_the_quality_alarm_watches_what_the_deployed_model_s_scores_carry(deployment):
    """As deployed: the threshold is the model's own test AUC (its metrics.json) minus the margin the quality job
    reads from its deployed arguments, and the alarm's ModelVersion is the version the scorers write beside
    each score of that model (ModelDir.version, from its files), so the job's ModelAUC for it is the one watched."""
    from churn_pipeline.quality import glue as quality_glue

    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[QUALITY_ALARM])["MetricAlarms"]
    config = quality_glue.config_from_glue_args(
        {k.removeprefix("--"): v for k, v in deployed_arguments("quality").items()}
    )
    test_auc = ModelDir(deployment["model_dir"]).metrics()["test"]["auc"]
    assert alarm["Threshold"] == pytest.approx(
        settings.auc_alarm_threshold(test_auc, config.auc_margin), abs=1e-12
    )
    assert (alarm["Namespace"], alarm["MetricName"], alarm["ComparisonOperator"]) == (
        metrics.NAMESPACE, metrics.MODEL_AUC, "LessThanThreshold"
    )  # fmt: skip
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        metrics.DIMENSION: JOB_NAMES["quality"],
        metrics.MODEL_VERSION_DIMENSION: ModelDir(deployment["model_dir"]).version(),
    }


# ---------------------------------------------------------------- the jobs, run with what was deployed
# The entry scripts run with the DefaultArguments Terraform gave the deployed Glue jobs (read back from moto),
# against the deployed stream and buckets, the uploaded model and a local endpoint serving the deployed
# endpoint name. Only awsglue is a fake (tests/glue_fakes.py).
def download_prefix(bucket: str, prefix: str, target: Path) -> Path:
    """Copy an S3 prefix of moto to a local directory, key for key, to read it as the datasets' readers do."""
    s3 = client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            path = target / obj["Key"][len(prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(path))
    return target


def catalog_schema(table: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(columns, partition keys) of a deployed catalog table, as (name, type)."""
    found = client("glue").get_table(DatabaseName=DATABASE, Name=table)["Table"]
    columns = [(c["Name"], c["Type"]) for c in found["StorageDescriptor"]["Columns"]]
    return columns, [(k["Name"], k["Type"]) for k in found.get("PartitionKeys", [])]


def file_schema(directory: Path) -> list[tuple[str, str]]:
    """(lower-cased name, catalog type) of every column of the Parquet files under a directory: one schema."""
    import pyarrow.parquet as pq

    hive = {
        "string": "string",
        "large_string": "string",
        "int32": "int",
        "int64": "bigint",
        "double": "double",
        "timestamp[us, tz=UTC]": "timestamp",
        "timestamp[us]": "timestamp",
        "timestamp[ns]": "timestamp",
        "binary": "binary",
    }  # fmt: skip  (Spark writes INT96, read as ns)
    schemas = {
        tuple((f.name.lower(), hive[str(f.type)]) for f in pq.read_schema(path))
        for path in directory.rglob("*.parquet")
    }
    assert len(schemas) == 1, f"files under {directory} disagree on their schema: {schemas}"
    return list(schemas.pop())


@pytest.fixture
def deployed_endpoint(deployment, tmp_path, monkeypatch):
    """The local model server answering for the deployed endpoint name only (any other name: 400)."""
    from churn_tools.local import endpoint_server
    from churn_tools.local import services as local_services

    port = local_services.free_port()
    endpoint_server.start_background(
        deployment["model_dir"], port, tmp_path / "endpoint", endpoint_name=ENDPOINT
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://{local_services.LOOPBACK}:{port}")
    yield
    endpoint_server.stop_background(tmp_path / "endpoint")


@pytest.mark.usefixtures("deployed_endpoint")
def test_streaming_entry_script_scores_a_micro_batch_with_the_deployed_arguments(
    deployment, spark, synthetic_csv, tmp_path, monkeypatch
):
    import glue_fakes

    from churn_pipeline.streaming import sink
    from churn_tools.local import producer

    arguments = deployed_arguments("stream")
    stream_name = arguments["--stream_arn"].rsplit("/", 1)[1]
    records = list(producer.csv_records(synthetic_csv, "seam-"))[:30] + [(b"{not json", "bad")]
    producer.send(client("kinesis"), stream_name, records)
    # A Glue worker's environment names no region: every client must take the job's --aws_region.
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    job_name = f"{PREFIX}-stream-scoring"
    monkeypatch.setattr(sys, "argv", glue_fakes.glue_argv("glue_stream_scoring.py", job_name, arguments))

    def run_entry_script() -> list[tuple]:
        with glue_fakes.fake_awsglue(tmp_path / "glue", monkeypatch, glue_fakes.STREAM_FILES):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_stream_scoring.py"), run_name="__main__")
            from awsglue.context import CALLS

            return list(CALLS)

    calls = run_entry_script()
    assert calls[0][:2] == ("from_options", "kinesis") and calls[0][2]["startingPosition"] == "trim_horizon"
    assert calls[1] == (
        "forEachBatch",
        {"windowSize": "100 seconds", "checkpointLocation": arguments["--checkpoint_path"]},
    )
    batches = [c[1] for c in calls if c[0] == "batch"]
    assert batches, calls

    results, data = BUCKETS["results"], BUCKETS["data"]
    scored = sink.read_committed(str(download_prefix(results, "stream/predictions/", tmp_path / "scored")))
    dead = sink.read_committed(str(download_prefix(results, "stream/dead-letter/", tmp_path / "dead")))
    assert sorted(scored["record_id"]) == sorted(json.loads(d)["record_id"] for d, _ in records[:30])
    assert scored["churn_probability"].between(0, 1).all()
    assert [bytes(p) for p in dead["raw_payload"]] == [b"{not json"] and list(dead["error_code"]) == [
        "NOT_JSON"
    ]
    # The query id of the commit markers is the one Spark wrote in the checkpoint's metadata, in the data bucket.
    metadata = client("s3").get_object(Bucket=data, Key="checkpoints/stream-scoring/metadata")["Body"].read()
    query_id = json.loads(metadata.decode().splitlines()[0])["id"]
    markers = client("s3").list_objects_v2(Bucket=results, Prefix=f"stream/predictions/{sink.COMMITS}/")
    assert {o["Key"].split("/")[3] for o in markers["Contents"]} == {query_id}
    # The files and the catalog tables agree (names, types, partition keys).
    for table, folder in (("stream_predictions", "scored"), ("stream_dead_letter", "dead")):
        columns, partitions = catalog_schema(table)
        assert file_schema(tmp_path / folder) == columns, table
        assert partitions == [(f.name, f.type) for f in outputs.INGEST_PARTITIONS]

    # The dead-letter alarm's metric was published, in the job's region, under the job's name.
    def dead_letters_published() -> float:
        stats = client("cloudwatch").get_metric_statistics(
            Namespace="ChurnPipeline", MetricName="DeadLetterRecords",
            Dimensions=[{"Name": "JobName", "Value": job_name}], StartTime=time.time() - 3600,
            EndTime=time.time() + 60, Period=60, Statistics=["Sum"],
        )  # fmt: skip
        return sum(point["Sum"] for point in stats["Datapoints"])

    assert dead_letters_published() == 1.0

    # The same micro-batch delivered again (the job stopped after its sink committed, before Spark did): it is
    # replayed with the same id and offsets, and neither dataset nor the metric counts it twice.
    local_checkpoint = next((tmp_path / "glue" / "checkpoints").iterdir())
    for name in (str(batches[-1]), f".{batches[-1]}.crc"):  # the commit and its checksum file
        (local_checkpoint / "commits" / name).unlink()
    replay = run_entry_script()
    assert [c[1] for c in replay if c[0] == "batch"][0] == batches[-1]
    again = sink.read_committed(str(download_prefix(results, "stream/predictions/", tmp_path / "scored-2")))
    assert sorted(again["record_id"]) == sorted(scored["record_id"])
    assert (
        len(sink.read_committed(str(download_prefix(results, "stream/dead-letter/", tmp_path / "dead-2"))))
        == 1
    )
    assert dead_letters_published() == 1.0


@pytest.mark.usefixtures("deployed_endpoint")
def test_batch_entry_script_runs_with_the_deployed_arguments_as_far_as_spark_can_here(
    deployment, spark, tmp_path, monkeypatch
):
    import dataclasses

    import glue_fakes

    from churn_pipeline.batch.glue import config_from_glue_args
    from churn_pipeline.batch.job import run
    from churn_pipeline.streaming.job import forward_aws_environment

    arguments = deployed_arguments("batch")
    monkeypatch.setattr(
        sys, "argv", glue_fakes.glue_argv("glue_batch_scoring.py", f"{PREFIX}-batch-scoring", arguments)
    )
    with glue_fakes.fake_awsglue(tmp_path / "glue", monkeypatch, glue_fakes.BASE_FILES):
        # Everything up to Spark's first read of s3://: on Glue, EMRFS serves it; local Spark has no S3
        # file system (terraform/README.md, first deployment checklist).
        with pytest.raises(Exception, match='No FileSystem for scheme "s3"'):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_batch_scoring.py"), run_name="__main__")
        from awsglue.job import EVENTS

        assert [e[0] for e in EVENTS] == ["init"] and EVENTS[0][2]["scoring_mode"] == "endpoint"

    # The rest with the deployed scoring (model from the artifacts bucket, the deployed endpoint name, the
    # threshold, the region), the paths swapped for local ones.
    from batch.helpers import GOOD_ROW, HEADER, write_lines

    deployed = config_from_glue_args({k.removeprefix("--"): v for k, v in arguments.items()})
    source = write_lines(tmp_path / "in.csv", [HEADER, GOOD_ROW, GOOD_ROW.replace(",265.1,", ",-1,"), "KS,1"])
    out = tmp_path / "out"
    local = dataclasses.replace(
        deployed, input_path=str(source), output_path=str(out / "scored"), rejects_path=str(out / "rejects"),
        failed_path=str(out / "failed"), drift_path=str(out / "drift"),
    )  # fmt: skip
    forward_aws_environment(spark)  # Spark's Python workers reach the local endpoint as this process does
    summary = run(spark, local)
    assert (summary.scored, summary.rejected, summary.failed) == (1, 2, 0), summary.failure_reasons
    # A name the endpoint does not serve: the row fails (kept, with the endpoint's answer), not scored.
    unknown = dataclasses.replace(
        local, scoring=dataclasses.replace(deployed.scoring, endpoint_name="not-deployed", max_attempts=1),
        batch_id="unknown-endpoint",
    )  # fmt: skip
    assert run(spark, unknown).failed == 1
    for table, folder in (
        ("batch_predictions", "scored"),
        ("batch_rejects", "rejects"),
        ("batch_failed", "failed"),
        ("batch_drift", "drift"),
    ):
        columns, partitions = catalog_schema(table)
        assert file_schema(out / folder) == columns, table
        assert partitions == []


@pytest.mark.usefixtures("deployed_endpoint")
def test_quality_entry_script_runs_with_the_deployed_arguments_and_publishes_what_the_alarm_watches(
    deployment, spark, synthetic_csv, tmp_path, monkeypatch
):
    """The quality job's entry script with its deployed arguments as far as local Spark can (its first s3://
    read), then its run() with the deployed config on local paths, over scores the deployed batch job's config
    wrote and outcomes of those customers: its files are what its catalog tables say, and the ModelAUC it
    publishes (to moto, in the job's region, under the job's name) is the very series the deployed alarm reads."""
    import csv
    import dataclasses
    from datetime import UTC, datetime

    import glue_fakes

    from churn_pipeline.batch.glue import config_from_glue_args as batch_config
    from churn_pipeline.batch.job import run as run_batch
    from churn_pipeline.quality.glue import config_from_glue_args as quality_config
    from churn_pipeline.quality.job import run as run_quality
    from churn_pipeline.streaming.job import forward_aws_environment

    arguments = deployed_arguments("quality")
    monkeypatch.setattr(sys, "argv", glue_fakes.glue_argv("glue_quality.py", JOB_NAMES["quality"], arguments))
    with glue_fakes.fake_awsglue(tmp_path / "glue", monkeypatch, glue_fakes.BASE_FILES):
        # Model and metrics.json come from the artifacts bucket (boto3); then Spark's first s3:// read stops it.
        with pytest.raises(Exception, match='No FileSystem for scheme "s3"'):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_quality.py"), run_name="__main__")
        from awsglue.job import EVENTS

        assert [e[0] for e in EVENTS] == ["init"]

    # Scores, by the deployed batch job's config on local paths; then outcomes of those customers.
    forward_aws_environment(spark)
    source = tmp_path / "in.csv"
    source.write_text("\n".join(synthetic_csv.read_text().splitlines()[:301]) + "\n")
    out = tmp_path / "out"
    batch = dataclasses.replace(
        batch_config({k.removeprefix("--"): v for k, v in deployed_arguments("batch").items()}),
        input_path=str(source), output_path=str(out / "scored"), rejects_path=str(out / "batch-rejects"),
        failed_path=str(out / "failed"), drift_path=str(out / "drift"),
    )  # fmt: skip
    assert run_batch(spark, batch).scored == 300
    description = ModelDir(deployment["model_dir"]).description()
    label = next(c.name for c in description.columns if c.role == "label")
    known_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(source, newline="") as handle, open(out / "outcomes.csv", "w", newline="") as outcomes:
        writer = csv.writer(outcomes)
        writer.writerow([description.id_column, label, "known_at"])
        writer.writerows([row[description.id_column], row[label], known_at] for row in csv.DictReader(handle))

    deployed = quality_config(
        {**{k.removeprefix("--"): v for k, v in arguments.items()}, "JOB_NAME": JOB_NAMES["quality"]}
    )
    local = dataclasses.replace(
        deployed, outcomes_path=str(out / "outcomes.csv"), batch_scored_paths=(str(out / "scored"),),
        stream_scored_paths=(str(out / "no-stream-yet"),), quality_path=str(out / "quality"),
        calibration_path=str(out / "calibration"), rejects_path=str(out / "outcome-rejects"),
        training_set_path=str(out / "training-set"),
    )  # fmt: skip
    summary = run_quality(spark, local)
    version = ModelDir(deployment["model_dir"]).version()
    assert summary.joined == 300 and summary.deployed_model_version == version, summary.describe()
    # The job's own threshold is the deployed alarm's: the model's test AUC (metrics.json, uploaded with it)
    # minus the deployed margin.
    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[QUALITY_ALARM])["MetricAlarms"]
    assert summary.alarm_threshold == pytest.approx(alarm["Threshold"], abs=1e-12)
    for table, folder in (("model_quality", "quality"), ("model_calibration", "calibration"),
                          ("outcome_rejects", "outcome-rejects")):  # fmt: skip
        if any((out / folder).rglob("*.parquet")):
            columns, partitions = catalog_schema(table)
            assert file_schema(out / folder) == columns, table
            assert partitions == []
    assert any((out / "quality").rglob("*.parquet")) and any((out / "calibration").rglob("*.parquet"))

    # What the job published is the series the deployed alarm reads: its namespace, metric and dimensions.
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        StartTime=time.time() - 3600, EndTime=time.time() + 60, Period=60, Statistics=["Minimum"],
    )  # fmt: skip
    assert [point["Minimum"] for point in stats["Datapoints"]] == [summary.latest_auc[version]["auc"]]

    # A degraded world: the outcomes of 30% of the customers flipped (seeded). Its run publishes an AUC that meets
    # the deployed alarm's condition, read from the alarm itself (as the demo's drift step checks its alarm).
    import random

    flip = random.Random(29)
    with open(out / "outcomes.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    opposite = {description.positive_labels[0]: description.negative_labels[0],
                description.negative_labels[0]: description.positive_labels[0]}  # fmt: skip
    flipped = [[i, opposite[y] if flip.random() < 0.30 else y, k] for i, y, k in rows]
    with open(out / "degraded.csv", "w", newline="") as handle:
        csv.writer(handle).writerows([header, *flipped])
    degraded = run_quality(spark, dataclasses.replace(local, outcomes_path=str(out / "degraded.csv"),
                                                      run_id="degraded"))  # fmt: skip
    assert degraded.alarm and summary.alarm is False, (summary.describe(), degraded.describe())
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Statistic"] == "Minimum"
    stats = client("cloudwatch").get_metric_statistics(
        Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm["Dimensions"],
        StartTime=time.time() - 3600, EndTime=time.time() + 60, Period=alarm["Period"], Statistics=["Minimum"],
    )  # fmt: skip
    [period] = stats["Datapoints"]  # both runs fall in the alarm's one daily period
    assert period["Minimum"] == degraded.latest_auc[version]["auc"] < alarm["Threshold"]


# ---------------------------------------------------------------- the Glue runtime matrix
# Each job on its deployed Glue version's pyspark and Python, from the files the deploy uploaded for it
# (--additional-python-modules, fetched from the artifacts bucket), installed with --no-index as Glue does
# (tests/glue_runtimes.py). The entry script is the uploaded one too. Figures: the report at the end of the run.
def uploaded_job_files(job: str, target: Path) -> tuple[Path, list[Path]]:
    """(entry script, module files) of a deployed job, downloaded from the S3 locations its Glue job names."""
    found = client("glue").get_job(JobName=f"{PREFIX}-{job}-scoring")["Job"]
    s3 = client("s3")
    target.mkdir(parents=True, exist_ok=True)

    def download(uri: str) -> Path:
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        path = target / key.rsplit("/", 1)[1]
        s3.download_file(bucket, key, str(path))
        return path

    modules = found["DefaultArguments"]["--additional-python-modules"].split(",")
    return download(found["Command"]["ScriptLocation"]), [download(uri) for uri in modules]


@pytest.fixture(scope="module")
def glue_runtimes(deployment, tmp_path_factory) -> dict:
    """{job: (venv, installed upload set, entry script)} on the Glue version each deployed job names."""
    import glue_runtimes

    runtimes = {}
    for job in ("batch", "stream"):
        version = client("glue").get_job(JobName=f"{PREFIX}-{job}-scoring")["Job"]["GlueVersion"]
        venv = glue_runtimes.runtime_venv(version)
        work = tmp_path_factory.mktemp(f"glue-{job}")
        script, files = uploaded_job_files(job, work / "uploaded")
        # pip's options as Terraform deployed them (--python-modules-installer-option), not written here.
        options = deployed_arguments(job)["--python-modules-installer-option"].split()
        assert "--no-index" in options
        runtimes[job] = (venv, glue_runtimes.install_uploaded(venv, files, work / "site", options), script)
    return runtimes


def test_the_install_fails_when_a_dependency_wheel_is_missing_from_the_upload(glue_runtimes, tmp_path):
    import glue_runtimes as runtime_matrix

    venv, installed, _script = glue_runtimes["stream"]
    without_pyarrow = [f for f in installed.files if not f.name.startswith("pyarrow-")]
    assert len(without_pyarrow) == len(installed.files) - 1
    with pytest.raises(runtime_matrix.RuntimeInstallError, match="nothing uploaded provides pyarrow"):
        runtime_matrix.install_uploaded(venv, without_pyarrow, tmp_path / "site", installed.installer_options)


def stream_payloads() -> list[bytes]:
    """Every record the deployed stream holds, from its start."""
    kinesis, name = client("kinesis"), f"{PREFIX}-customer-churn"
    payloads = []
    for shard in kinesis.list_shards(StreamName=name)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=name, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator and (got := kinesis.get_records(ShardIterator=iterator))["Records"]:
            payloads += [r["Data"] for r in got["Records"]]
            iterator = got.get("NextShardIterator")
    return payloads


def clear_prefix(bucket: str, prefix: str) -> None:
    """Every version under a prefix, deleted for good. (A plain delete in a versioned bucket leaves a delete
    marker, and moto answers 500 to deleting one: the destroy's bucket emptying would then retry for an hour.)"""
    s3 = client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        versions = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", [])]
        if versions:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": versions})
    assert not s3.list_object_versions(Bucket=bucket, Prefix=prefix).get("DeleteMarkers")


def runtime_env(monkeypatch) -> dict[str, str]:
    """The job process's environment: moto, the local endpoint, no region (the job takes --aws_region)."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    return dict(os.environ)


def logged_json(stdout: str, prefix: str) -> dict:
    lines = [line.split(prefix, 1)[1] for line in stdout.splitlines() if prefix in line]
    assert len(lines) == 1, f"expected one {prefix!r} line in the job's output:\n{stdout[-3000:]}"
    return json.loads(lines[0])


@pytest.mark.usefixtures("deployed_endpoint")
def test_streaming_job_scores_a_micro_batch_on_its_glue_runtime(
    deployment, glue_runtimes, synthetic_csv, tmp_path, monkeypatch
):
    import glue_fakes
    import glue_runtimes as runtime_matrix

    from churn_pipeline.streaming import sink
    from churn_tools.local import producer

    venv, installed, script = glue_runtimes["stream"]
    results, data = BUCKETS["results"], BUCKETS["data"]
    # This run's outputs alone: a new query (its checkpoint is new) over everything the stream holds.
    clear_prefix(results, "stream/")
    clear_prefix(data, "checkpoints/")
    records = list(producer.csv_records(synthetic_csv, f"glue{venv.glue_version}-"))[100:120]
    producer.send(client("kinesis"), f"{PREFIX}-customer-churn", [*records, (b"{not json either", "bad")])
    on_stream = stream_payloads()
    good = [p for p in on_stream if p.startswith(b"{") and not p.startswith(b"{not")]
    fake = glue_fakes.write_fake(tmp_path / "fake", glue_fakes.RUNTIME_STREAM_FILES)
    env = {**runtime_env(monkeypatch), "FAKE_GLUE_CHECKPOINTS": str(tmp_path / "checkpoints")}
    argv = glue_fakes.glue_argv(str(script), f"{PREFIX}-stream-scoring", deployed_arguments("stream"))
    result = runtime_matrix.run_python(venv, installed, fake, argv, env)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"

    # The job logged what it runs on: this runtime's Spark and Python, the uploaded pins.
    facts = logged_json(result.stdout, "runtime: ")
    assert (facts["spark"], facts["pyspark"], facts["python"]) == (venv.spark, venv.spark, venv.python_used)
    from packaging.utils import canonicalize_name, parse_wheel_filename

    pins = {canonicalize_name(name): str(version) for name, version, _, _ in map(parse_wheel_filename,
            (f.name for f in installed.files))}  # fmt: skip
    libraries = ("numpy", "pandas", "pyarrow", "xgboost-cpu", "churn-pipeline")
    assert {d: facts[d] for d in libraries} == {d: pins[d] for d in libraries}
    # ... and the connector's frame, in the parsed form the job asks for (payload fields, no `data`).
    schema = logged_json(result.stdout, "source frame schema: ")
    names = [f["name"] for f in schema["fields"]]
    assert "data" not in names and {"Day Mins", "record_id", "_corrupt_record"} <= set(names)

    scored = sink.read_committed(str(download_prefix(results, "stream/predictions/", tmp_path / "scored")))
    dead = sink.read_committed(str(download_prefix(results, "stream/dead-letter/", tmp_path / "dead")))
    assert sorted(scored["record_id"]) == sorted(json.loads(p)["record_id"] for p in good)
    assert scored["churn_probability"].between(0, 1).all()
    assert sorted(bytes(p) for p in dead["raw_payload"]) == sorted(set(on_stream) - set(good))
    assert set(dead["error_code"]) == {"NOT_JSON"}
    for table, folder in (("stream_predictions", "scored"), ("stream_dead_letter", "dead")):
        assert file_schema(tmp_path / folder) == catalog_schema(table)[0], table
    runtime_matrix.report(venv.glue_version, "stream", {
        "spark": facts["spark"], "python": facts["python"], "gap": venv.gap, "wheels": len(installed.files),
        "megabytes": round(installed.megabytes, 1), "scored": len(scored), "dead_lettered": len(dead),
    })  # fmt: skip


@pytest.mark.usefixtures("deployed_endpoint")
def test_batch_job_runs_on_its_glue_runtime_as_far_as_spark_can_here(
    deployment, glue_runtimes, spark, synthetic_csv, tmp_path, monkeypatch
):
    import dataclasses

    import glue_fakes
    import glue_runtimes as runtime_matrix
    import pandas as pd

    from churn_pipeline.batch.glue import config_from_glue_args
    from churn_pipeline.batch.job import run
    from churn_pipeline.streaming.job import forward_aws_environment

    venv, installed, script = glue_runtimes["batch"]
    arguments = deployed_arguments("batch")
    lines = synthetic_csv.read_text().splitlines()[:201]
    source = tmp_path / "in.csv"
    source.write_text("\n".join([*lines, lines[1].replace(",", ",x", 3), "KS,1"]) + "\n")

    def local_paths(out: Path) -> dict[str, str]:
        return {"input_path": str(source), **{f"{name}_path": str(out / name)
                for name in ("output", "rejects", "failed", "drift")}}  # fmt: skip

    request = {
        "argv": glue_fakes.glue_argv(str(script), f"{PREFIX}-batch-scoring", arguments),
        "entry_script": str(script),
        "arguments": {k.removeprefix("--"): v for k, v in arguments.items()},
        "local_paths": local_paths(tmp_path / "runtime"),
    }
    (tmp_path / "request.json").write_text(json.dumps(request))
    fake = glue_fakes.write_fake(tmp_path / "fake", glue_fakes.BASE_FILES)
    runner = str(Path(__file__).resolve().parents[1] / "glue_job_runner.py")
    result = runtime_matrix.run_python(
        venv, installed, fake, [runner, "batch", str(tmp_path / "request.json")], runtime_env(monkeypatch)
    )
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    outcome = logged_json(result.stdout, "RESULT ")
    assert 'No FileSystem for scheme "s3"' in outcome["entry_error"] and outcome["events"] == ["init"]
    assert (outcome["runtime"]["spark"], outcome["runtime"]["python"]) == (venv.spark, venv.python_used)

    # The same rows through this process's Spark (the checkout's pyspark) with the same deployed config: the
    # runtime's outputs are the same, row for row.
    forward_aws_environment(spark)
    host = dataclasses.replace(config_from_glue_args(request["arguments"]), **local_paths(tmp_path / "host"))
    summary = run(spark, host)
    assert outcome["summary"] == {"scored": summary.scored, "rejected": summary.rejected,
                                  "failed": summary.failed, "reject_codes": summary.reject_codes}  # fmt: skip
    assert (summary.scored, summary.rejected, summary.failed) == (200, 2, 0), summary.failure_reasons

    def table(directory: Path) -> pd.DataFrame:
        frame = pd.read_parquet(directory)
        frame = frame[[c for c in frame.columns if c not in ("scored_at", "batch_id")]]
        return frame.sort_values(list(frame.columns)).reset_index(drop=True)

    for folder in ("output", "rejects"):
        pd.testing.assert_frame_equal(table(tmp_path / "runtime" / folder), table(tmp_path / "host" / folder))
    runtime_matrix.report(venv.glue_version, "batch", {
        "spark": outcome["runtime"]["spark"], "python": outcome["runtime"]["python"], "gap": venv.gap,
        "wheels": len(installed.files), "megabytes": round(installed.megabytes, 1),
        "scored": summary.scored, "rejected": summary.rejected, "failed": summary.failed,
    })  # fmt: skip


# A new model has its own version and test AUC: the quality alarm and the dashboard's AUC widget follow it.
NEW_MODEL_QUALITY_ALARM = {
    "module.pipeline.module.monitoring.aws_cloudwatch_metric_alarm.model_quality": "update in place",
    "module.pipeline.module.monitoring.aws_cloudwatch_dashboard.this": "update in place",
}


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
        # model_uri of every job points at the new model's prefix
        'module.pipeline.module.glue.aws_glue_job.this["batch"]': "update in place",
        'module.pipeline.module.glue.aws_glue_job.this["stream"]': "update in place",
        'module.pipeline.module.glue.aws_glue_job.this["quality"]': "update in place",
        # the quality alarm (and its dashboard line) follows the new model's version and test AUC
        **NEW_MODEL_QUALITY_ALARM,
    }
    plan = json.loads((deployment["env_work"] / "tfplan.json").read_text())
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    new_version = json.loads((second_model_dir / "metrics.json").read_text())["model_version"]
    model = changes[f"{MODEL_ENDPOINT}.aws_sagemaker_model.this"]
    assert model["actions"] == ["create", "delete"] and model["after"]["name"] == f"{ENDPOINT}-{new_version}"
    endpoint = changes[f"{MODEL_ENDPOINT}.aws_sagemaker_endpoint.this"]
    assert endpoint["actions"] == ["update"] and endpoint["after"]["name"] == ENDPOINT


def test_a_model_of_another_dataset_changes_the_tables_that_hold_its_columns_in_place(
    deployment, other_dataset_model_dir, second_description
):
    deploy_cli("plan", deployment, other_dataset_model_dir)
    summary = json.loads((deployment["env_work"] / "plan-summary.json").read_text())
    glue = "module.pipeline.module.glue"
    tables = {f'{glue}.aws_glue_catalog_table.results["{d.table}"]': d.table for d in outputs.DATASETS
              if d.data_columns_first} | {f"{glue}.aws_glue_catalog_table.kinesis_source": "kinesis_customer_churn"}  # fmt: skip
    assert {c["address"]: c["action"] for c in summary["changes"]} == {
        **EMULATOR_DRIFT,
        f'{glue}.aws_glue_job.this["batch"]': "update in place",  # model_uri: the new model's prefix
        f'{glue}.aws_glue_job.this["stream"]': "update in place",
        f'{glue}.aws_glue_job.this["quality"]': "update in place",
        **NEW_MODEL_QUALITY_ALARM,
        **dict.fromkeys(tables, "update in place"),
    }
    plan = json.loads((deployment["env_work"] / "tfplan.json").read_text())
    after = {c["address"]: c["change"]["after"] for c in plan["resource_changes"]}
    planned = {
        table: [(c["name"], c["type"]) for c in after[address]["storage_descriptor"][0]["columns"]]
        for address, table in tables.items()
    }
    expected = writer_schemas(second_description)
    assert planned == {table: expected[table] for table in tables.values()}


def endpoint_state(deployment) -> dict:
    """What Terraform's state records of the endpoint and its configuration (deposed objects apart)."""
    state = json.loads((deployment["env_work"] / "terraform.tfstate").read_text())
    found = {}
    for resource in state["resources"]:
        if resource.get("module") == MODEL_ENDPOINT and resource["mode"] == "managed":
            for instance in resource["instances"]:
                key = resource["type"] + (" (deposed)" if "deposed" in instance else "")
                found.setdefault(key, []).append(instance["attributes"])
    return found


def test_a_rolled_back_rollout_fails_the_deploy_and_keeps_what_the_endpoint_serves(
    deployment, second_model_dir, rollout_outcome
):
    sagemaker = client("sagemaker")
    served = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    served_model = sagemaker.describe_endpoint_config(EndpointConfigName=served)["ProductionVariants"][0][
        "ModelName"
    ]
    rollout_outcome.write_text("rollback")  # SageMaker takes the update, then the guardrails roll it back
    result = deploy_cli("deploy", deployment, second_model_dir, succeed=False)
    print(result.stderr[-3000:])
    assert result.returncode != 0, "a deploy whose rollout was rolled back must fail"
    # The endpoint still serves the old configuration, and neither it nor its model was deleted.
    assert sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == served
    assert (
        sagemaker.describe_endpoint_config(EndpointConfigName=served)["ProductionVariants"][0]["ModelName"]
        == served_model
    )
    assert sagemaker.describe_model(ModelName=served_model)["ModelName"] == served_model
    # The deploy says what happened. The provider reads the endpoint back after UpdateEndpoint, so the state
    # already records the configuration it serves (else the message names `make refresh ENV=local`).
    assert "rolled back" in result.stderr and served in result.stderr
    assert f"Terraform's state already records that the endpoint serves {served}" in result.stderr
    [recorded_endpoint] = endpoint_state(deployment)["aws_sagemaker_endpoint"]
    assert recorded_endpoint["endpoint_config_name"] == served
    deploy_cli("refresh", deployment, second_model_dir)  # changes nothing here, and must not fail
    recorded = endpoint_state(deployment)
    assert [e["endpoint_config_name"] for e in recorded["aws_sagemaker_endpoint"]] == [served]
    # The old configuration and model stay in state (deposed): the next rollout that succeeds deletes them.
    assert [c["name"] for c in recorded["aws_sagemaker_endpoint_configuration (deposed)"]] == [served]
    assert [m["name"] for m in recorded["aws_sagemaker_model (deposed)"]] == [served_model]


def test_a_rollout_keeps_the_autoscaled_instance_count(deployment, second_model_dir, rollout_outcome):
    sagemaker, autoscaling = client("sagemaker"), client("application-autoscaling")
    # The autoscaler has moved the variant to 2 instances (registered target, desired count set).
    target = {"ServiceNamespace": "sagemaker", "ResourceId": f"endpoint/{ENDPOINT}/variant/primary",
              "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}  # fmt: skip
    autoscaling.register_scalable_target(**target, MinCapacity=1, MaxCapacity=3)
    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=ENDPOINT,
        DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 2}],
    )
    before = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    rollout_outcome.write_text("succeed")
    try:
        deploy_cli("deploy", deployment, second_model_dir)
    finally:
        autoscaling.deregister_scalable_target(**target)
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    new_version = json.loads((second_model_dir / "metrics.json").read_text())["model_version"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert endpoint["EndpointConfigName"] != before
    assert config["ProductionVariants"][0]["ModelName"] == f"{ENDPOINT}-{new_version}"
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert endpoint["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    # The rollout succeeded: the configuration and model the rollback had kept are gone now.
    recorded = endpoint_state(deployment)
    assert "aws_sagemaker_endpoint_configuration (deposed)" not in recorded
    assert before not in {
        c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
    }
    # Both jobs score with the new model (Glue UpdateJob carried the new model prefix).
    new_prefix = json.loads((deployment["env_work"] / "artifacts.tfvars.json").read_text())["artifacts"]
    model_uri = f"s3://{BUCKETS['artifacts']}/{new_prefix['model_prefix']}"
    assert {job: deployed_arguments(job)["--model_uri"] for job in JOB_NAMES} == dict.fromkeys(
        JOB_NAMES, model_uri
    )
    # ... and the quality alarm watches the new model's version, below its own test AUC.
    [alarm] = client("cloudwatch").describe_alarms(AlarmNames=[QUALITY_ALARM])["MetricAlarms"]
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]}[
        metrics.MODEL_VERSION_DIMENSION
    ] == new_version
    margin = quality_margin_as_deployed()
    test_auc = ModelDir(second_model_dir).metrics()["test"]["auc"]
    assert alarm["Threshold"] == pytest.approx(settings.auc_alarm_threshold(test_auc, margin), abs=1e-12)


def test_destroy_leaves_nothing_behind(deployment):
    deploy_cli("destroy", deployment, deployment["model_dir"])
    names = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert not names & set(BUCKETS.values())
    assert f"{PREFIX}-customer-churn" not in client("kinesis").list_streams()["StreamNames"]
    assert DATABASE not in {d["Name"] for d in client("glue").get_databases()["DatabaseList"]}
    assert not [j for j in client("glue").list_jobs()["JobNames"] if j.startswith(PREFIX)]
    assert not [t for t in client("glue").list_triggers()["TriggerNames"] if t.startswith(PREFIX)]
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
