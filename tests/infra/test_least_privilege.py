"""Least privilege, proven on a policy-enforcing local AWS: each role's real calls, under that role's credentials.

One moto server (tests/iam_enforcing_moto.py: moto's IAM check, with the resource of each request named) and
one `deploy --env local` for the module. Then, under credentials from sts:AssumeRole into the deployed roles,
and those only:
- the streaming entry script scores a micro-batch (fake awsglue, tests/glue_fakes.py; the rest real code) under
  the streaming job's role, and InvokeEndpoint through its scorer's client;
- the batch job's boto3 calls, made by its own functions (the model download, the endpoint, its Iceberg commit of
  its four tables), under the batch job's role;
- the model-quality job's boto3 calls, made by its own functions (model and test AUC download, both scored
  Iceberg tables' data files, planned by pyiceberg through the Glue catalog, the ModelAUC metric) under
  its own role;
- what Glue and SageMaker do under the role outside our code (script, wheel and model downloads, EMRFS's S3
  reads and writes, KMS on behalf of S3 and Kinesis, logs, catalog, Glue metrics): the same boto3 calls,
  each saying what it mirrors.
Every call the server decided is in its decision log. ALLOWED: each expected call is a case of its own, named
by role, action and resource, that fails if the call was denied or never made. PROBES: calls the roles must not
make, each a case that must be denied (among them: the batch role touches none of the stream's tables, stream
or checkpoint, the stream role none of the batch job's input and tables, neither the old batch/ prefix). Then: no denial during the workload,
and each statement of each Glue role's policy is needed by at least one call made (remove it and a named ALLOWED
case fails).
What moto cannot evaluate (trust and resource policies, most condition keys, iam:PassRole) is covered by
static tests at the end, against the form AWS documents; terraform/README.md lists it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import runpy
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import iam_enforcing_moto as moto_iam
import pytest
from botocore.exceptions import ClientError

from churn_pipeline.contract import outputs

from .conftest import REPO_ROOT
from .local_deployment import ACCOUNT, BUCKETS, ENDPOINT, JOB_NAMES, PREFIX, deploy_cli

pytestmark = pytest.mark.slow(
    seconds=250
)  # one apply (about a minute) and one micro-batch of the streaming job

REGION = "us-east-1"
STREAM = f"{PREFIX}-customer-churn"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{STREAM}"
# The scoring jobs run as a role each: the batch job's may not touch the stream's tables, stream or checkpoint, the
# streaming job's may not touch the batch job's input and tables.
BATCH_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-glue-batch"
STREAM_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-glue-stream"
QUALITY_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-glue-quality"
SAGEMAKER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-sagemaker-endpoint"
DATABASE = "churn_local_churn"
# The jobs' Iceberg tables (created by the deploy step) and where their files are.
STREAM_TABLES = tuple(d.table for d in outputs.STREAM_ICEBERG_DATASETS)
BATCH_TABLES = tuple(d.table for d in outputs.BATCH_ICEBERG_DATASETS)
TABLE_ARN = f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{DATABASE}/{{}}"
TABLE_FILES = f"tables/{DATABASE}/{{}}"
# What the roles must not reach: made by the admin before enforcement starts.
OTHER_BUCKET = f"{PREFIX}-other-{ACCOUNT}"
OTHER_STREAM = f"{PREFIX}-other-stream"
OTHER_ENDPOINT = f"{PREFIX}-other"
# One assumed-role session per part of the workload: the decision log tells them apart by session name.
SESSIONS = {"stream-job": STREAM_ROLE, "stream-runtime": STREAM_ROLE, "batch-job": BATCH_ROLE,
            "batch-runtime": BATCH_ROLE, "quality-job": QUALITY_ROLE, "quality-runtime": QUALITY_ROLE,
            "endpoint": SAGEMAKER_ROLE, "batch-probe": BATCH_ROLE, "stream-probe": STREAM_ROLE,
            "quality-probe": QUALITY_ROLE, "sagemaker-probe": SAGEMAKER_ROLE}  # fmt: skip
# Objects the quality job's reads find (put by the admin before enforcement): an outcome drop.
OUTCOME_OBJECT = "outcomes/2026-01.csv"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def s3_arn(purpose: str, key: str = "") -> str:
    return f"arn:aws:s3:::{BUCKETS[purpose]}" + (f"/{key}" if key else "")


def principal(session: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{SESSIONS[session].rsplit('/', 1)[1]}/{session}"


def client(service: str, credentials: dict, **kwargs):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION,
                        **credentials, **kwargs)  # fmt: skip


def as_keys(credentials: dict) -> dict:
    return {"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"]}  # fmt: skip


@pytest.fixture(scope="module")
def stack(model_dir, synthetic_csv, tmp_path_factory, job_wheel_cache):
    """Enforcing moto, the local deployment, an admin, decoys, records, and assumed-role credentials."""
    from churn_tools.deploy import package as packaging
    from churn_tools.local import producer
    from churn_tools.local import services as local_services

    work = tmp_path_factory.mktemp("least-privilege")
    port = local_services.free_port()
    decisions = work / "decisions.jsonl"
    process = moto_iam.start(port, work / "moto.log", decisions)
    url = f"http://{local_services.LOOPBACK}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for key, value in {**local_services.LOCAL_AWS_ENV, "AWS_ENDPOINT_URL": url}.items():
            env.setenv(key, value)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", raising=False)
        try:
            deployment = {
                "work": work,
                "job_wheel": packaging.build_job_wheel(REPO_ROOT, job_wheel_cache),
                "dependency_wheels": True,  # the job roles read the uploaded set, as on AWS
            }
            deploy_cli("deploy", deployment, model_dir)
            artifacts = json.loads((work / "terraform" / "local" / "artifacts.tfvars.json").read_text())[
                "artifacts"
            ]
            testing = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
            iam = client("iam", testing)
            iam.create_user(UserName="admin")
            iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(ADMIN_POLICY))
            key = iam.create_access_key(UserName="admin")["AccessKey"]
            admin = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
            s3, kinesis, kms = client("s3", admin), client("kinesis", admin), client("kms", admin)
            s3.create_bucket(Bucket=OTHER_BUCKET)
            s3.put_object(Bucket=OTHER_BUCKET, Key="input/other.csv", Body=b"other")
            s3.put_object(
                Bucket=BUCKETS["data"], Key="input/batch.csv", Body=synthetic_csv.read_bytes()[:4096]
            )
            s3.put_object(Bucket=BUCKETS["data"], Key=OUTCOME_OBJECT, Body=b"Phone,Churn?,known_at\n")
            kinesis.create_stream(StreamName=OTHER_STREAM, ShardCount=1)
            other_key = kms.create_key(Description=f"{PREFIX} other key")["KeyMetadata"]["Arn"]
            other_ciphertext = kms.encrypt(KeyId=other_key, Plaintext=b"not yours")["CiphertextBlob"]
            key_ciphertext = kms.encrypt(KeyId="alias/churn-local", Plaintext=b"ours")["CiphertextBlob"]
            records = list(producer.csv_records(synthetic_csv, "lp-"))[:20] + [(b"{not json", "bad")]
            producer.send(kinesis, STREAM, records)
            glue = client("glue", admin)
            job_arguments = {job: glue.get_job(JobName=name)["Job"]["DefaultArguments"]
                             for job, name in JOB_NAMES.items()}  # fmt: skip
            # moto checks no trust policy of a service principal (it fails on one: terraform/README.md), so the
            # roles are assumed before enforcement starts; the trust policies are checked statically below.
            sts = client("sts", admin)
            credentials = {
                session: as_keys(sts.assume_role(RoleArn=role, RoleSessionName=session)["Credentials"])
                for session, role in SESSIONS.items()
            }
            moto_iam.enforce(url, True)
            yield {
                "url": url, "decisions": decisions, "admin": admin, "credentials": credentials,
                "artifacts": artifacts, "job_arguments": job_arguments, "records": records,
                "key_arn": client("kms", admin).describe_key(KeyId="alias/churn-local")["KeyMetadata"]["Arn"],
                "other_key": other_key, "other_ciphertext": other_ciphertext, "key_ciphertext": key_ciphertext, "model_dir": model_dir, "work": work,
            }  # fmt: skip
        finally:
            local_services.stop_process(process)  # the server is this module's alone: nothing to undo in it


@pytest.fixture(scope="module")
def workload(stack, spark):
    """Every call of the roles, made under their credentials; returns what it found and the decisions made."""
    from pytest import MonkeyPatch

    outcome: dict = {}
    saved_spark_env = dict(spark.sparkContext.environment)
    parts = {"stream": lambda env: run_streaming_job(stack, spark, env),
             "stream-endpoint": lambda env: run_stream_endpoint_call(stack, env),
             "batch": lambda env: run_batch_job_calls(stack, env),
             "stream-runtime": lambda env: run_glue_runtime_calls(stack, "stream"),
             "batch-runtime": lambda env: run_glue_runtime_calls(stack, "batch"),
             "quality": lambda env: run_quality_job_calls(stack, env),
             "quality-runtime": lambda env: run_quality_runtime_calls(stack),
             "endpoint": lambda env: run_endpoint_model_download(stack)}  # fmt: skip
    for part, run in parts.items():
        with MonkeyPatch.context() as env:
            try:
                outcome[part] = run(env)
            except Exception as exc:  # noqa: BLE001 - kept, and raised by test_workload_ran, not lost:
                outcome.setdefault("errors", {})[part] = exc  # the other parts' calls still get their cases
            finally:
                spark.sparkContext.environment.clear()
                spark.sparkContext.environment.update(saved_spark_env)
    outcome["decisions"] = moto_iam.decisions(stack["decisions"])
    return outcome


def use_session(env: pytest.MonkeyPatch, stack: dict, session: str) -> None:
    """The role's credentials and nothing else in the environment; boto3's default session made anew."""
    keys = stack["credentials"][session]
    env.setenv("AWS_ACCESS_KEY_ID", keys["aws_access_key_id"])
    env.setenv("AWS_SECRET_ACCESS_KEY", keys["aws_secret_access_key"])
    env.setenv("AWS_SESSION_TOKEN", keys["aws_session_token"])
    # A Glue worker's environment names no region: every client must take the job's --aws_region.
    env.delenv("AWS_REGION", raising=False)
    env.delenv("AWS_DEFAULT_REGION", raising=False)
    env.setattr(boto3, "DEFAULT_SESSION", None)


def run_streaming_job(stack: dict, spark, env: pytest.MonkeyPatch) -> dict:
    """jobs/glue_stream_scoring.py with the deployed arguments, on one micro-batch, as the streaming job's role."""
    import glue_fakes

    from churn_pipeline import model
    from churn_tools.local import endpoint_server
    from churn_tools.local import services as local_services

    work, arguments = stack["work"], stack["job_arguments"]["stream"]
    port = local_services.free_port()
    # The runtime API is the local model server (moto's answers no scores); InvokeEndpoint's permission is
    # exercised on moto by run_stream_endpoint_call, under the same role.
    endpoint_server.start_background(stack["model_dir"], port, work / "endpoint", endpoint_name=ENDPOINT)
    try:
        env.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://{local_services.LOOPBACK}:{port}")
        use_session(env, stack, "stream-job")
        model._fetched.cache_clear()  # the model is downloaded under this role, not reused
        env.setattr(
            sys, "argv", glue_fakes.glue_argv("glue_stream_scoring.py", f"{PREFIX}-stream-scoring", arguments)
        )
        with glue_fakes.fake_awsglue(work / "glue", env, glue_fakes.STREAM_FILES):
            runpy.run_path(str(REPO_ROOT / "jobs" / "glue_stream_scoring.py"), run_name="__main__")
            from awsglue.context import CALLS

            return {"batches": [c[1] for c in CALLS if c[0] == "batch"]}
    finally:
        endpoint_server.stop_background(work / "endpoint")


def run_stream_endpoint_call(stack: dict, env: pytest.MonkeyPatch) -> dict:
    """InvokeEndpoint as the streaming job's role, through the client its scorer uses
    (scoring.endpoint_client.runtime_client), with its deployed arguments, against moto, which checks it."""
    import numpy as np

    from churn_pipeline import model
    from churn_pipeline.scoring import config, endpoint_client
    from churn_pipeline.scoring.endpoint_protocol import format_csv

    use_session(env, stack, "stream-job")
    scoring = config.from_glue_args(
        {k.removeprefix("--"): v for k, v in stack["job_arguments"]["stream"].items()}
    )
    spec = model.ModelDir(model._fetched.__wrapped__(scoring.model_uri, scoring.region)).spec()
    runtime = endpoint_client.runtime_client.__wrapped__(2, 1, 5.0, 30.0, scoring.region)
    body = format_csv(np.zeros((1, spec.n_features), dtype=np.float32))
    answer = runtime.invoke_endpoint(EndpointName=scoring.endpoint_name, ContentType="text/csv", Body=body)
    return {"invoked": answer["Body"].read()}


def run_batch_job_calls(stack: dict, env: pytest.MonkeyPatch) -> dict:
    """The batch job's boto3 calls, by its own functions, as the batch job's role: the model download
    (model.ModelDir.fetch), InvokeEndpoint through the client its scorer uses
    (scoring.endpoint_client.runtime_client), and its tables' commit (a task's data file, batch.files; the
    driver's tables.ensure_tables and batch.table_layout.commit_run), here against moto, which checks the
    permission."""
    import numpy as np
    import pyarrow as pa

    from churn_pipeline import drift, model, tables
    from churn_pipeline.batch import files, table_layout
    from churn_pipeline.batch.glue import config_from_glue_args
    from churn_pipeline.scoring import endpoint_client
    from churn_pipeline.scoring.endpoint_protocol import format_csv

    use_session(env, stack, "batch-job")
    config = config_from_glue_args(
        {k.removeprefix("--"): v for k, v in stack["job_arguments"]["batch"].items()}
    )
    scoring = config.scoring
    model_dir = model._fetched.__wrapped__(scoring.model_uri, scoring.region)  # uncached: under this role
    spec = model.ModelDir(model_dir).spec()
    runtime = endpoint_client.runtime_client.__wrapped__(2, 1, 5.0, 30.0, scoring.region)
    body = format_csv(np.zeros((1, spec.n_features), dtype=np.float32))
    answer = runtime.invoke_endpoint(EndpointName=scoring.endpoint_name, ContentType="text/csv", Body=body)
    # The run's drift metric (churn_pipeline.drift.publish_max_psi, called by batch.job.run under JOB_NAME).
    report = drift.report(model.ModelDir(model_dir).baseline(), {}, drift.MIN_ROWS)  # enough rows to publish
    report.psi = {name: 0.01 for name in report.psi}  # a value to publish; the figure itself is not the point
    published = drift.publish_max_psi(report, f"{PREFIX}-batch-scoring", scoring.region)
    # The run's tables, checked as the driver does (created by the deploy step: no change here), one scored row
    # written as a task writes it, then the commits of every table, scored last.
    specs = table_layout.table_specs(
        table_layout.datasets(model.ModelDir(model_dir).description()), drift=True
    )
    catalog = tables.catalog_from_settings(config.tables.catalog)
    identifiers = tables.ensure_tables(
        catalog, config.tables.catalog, config.tables.database, specs, evolve=True
    )
    scored = specs[table_layout.SCORED].schema
    row = {**dict.fromkeys(scored.names), table_layout.PARTITION_COLUMN: "lp"}
    folder = (
        f"{catalog.load_table(identifiers[table_layout.SCORED]).location_provider().data_path}/batch_id=lp"
    )
    written = dict.fromkeys(identifiers, [])
    written[table_layout.SCORED] = [
        files.write_file(folder, "part-00000-lp", pa.Table.from_pylist([row], scored), scoring.region)
    ]
    table_layout.commit_run(catalog, identifiers, written, "lp", "lp")
    return {
        "model_files": sorted(p.name for p in Path(model_dir).iterdir()),
        "invoked": answer["Body"].read(),
        "drift_published": published,
        "committed": {role: len(tables.data_file_paths(catalog, i)) for role, i in identifiers.items()},
    }


class Mirrored:
    """A client whose denied calls are recorded, not raised: a mirrored sequence goes on past a denial, so each
    denied call fails its own case (the server logged the decision) and the calls after it are still made."""

    def __init__(self, client, denied: list[str]):
        self._client, self._denied = client, denied

    def __getattr__(self, name: str):
        method = getattr(self._client, name)

        def call(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except ClientError as error:
                if not is_access_denied(error):
                    raise
                self._denied.append(f"{name}: {error}")
                return None

        return call


def mirrored(service: str, credentials: dict, denied: list[str]) -> Mirrored:
    return Mirrored(client(service, credentials), denied)


def run_glue_runtime_calls(stack: dict, job: str) -> dict:
    """What Glue itself does under a scoring job's role (job: "batch" or "stream"), outside our code: the same
    requests, made with boto3."""
    session = f"{job}-runtime"
    keys, artifacts, key_arn = stack["credentials"][session], stack["artifacts"], stack["key_arn"]
    arguments = stack["job_arguments"][job]
    denied: list[str] = []
    s3, kms = mirrored("s3", keys, denied), mirrored("kms", keys, denied)
    # Glue downloads the entry script (Command.ScriptLocation) and the --additional-python-modules wheels.
    for object_key in (artifacts[f"{job}_script_key"], *artifacts[f"{job}_python_modules"]):
        s3.get_object(Bucket=BUCKETS["artifacts"], Key=object_key)
    s3.get_bucket_location(Bucket=BUCKETS["data"])
    if job == "batch":
        # EMRFS for Spark's s3:// reads of the batch job: its input and the --TempDir. Its outputs are not Spark's:
        # its tasks write their tables' data files with boto3 (the batch-job part).
        s3.list_objects_v2(Bucket=BUCKETS["data"], Prefix="input/")
        s3.get_object(Bucket=BUCKETS["data"], Key="input/batch.csv")
        written: tuple[tuple[str, str], ...] = ((BUCKETS["data"], "tmp/glue/part-00000"),)
    else:
        # The streaming checkpoint's housekeeping under the job's --checkpoint_path (Spark deletes old offset and
        # commit files) and the --TempDir.
        checkpoint = arguments["--checkpoint_path"].removeprefix(f"s3://{BUCKETS['data']}/")
        s3.list_objects_v2(
            Bucket=BUCKETS["data"], Prefix=f"{checkpoint}offsets/"
        )  # the latest batch's offsets
        written = ((BUCKETS["data"], f"{checkpoint}offsets/.0.tmp"), (BUCKETS["data"], "tmp/glue/part-00000"))
    for bucket, object_key in written:
        s3.put_object(Bucket=bucket, Key=object_key, Body=b"x")
        s3.get_object(Bucket=bucket, Key=object_key)
        s3.delete_object(Bucket=bucket, Key=object_key)
    # KMS on the role's behalf: S3 SSE-KMS writes (GenerateDataKey) and reads (Decrypt), the stream's SSE
    # (Decrypt), key lookups. No Encrypt: no job writes a bookmark (the batch job disables them, a streaming job
    # has none), the only thing the security configuration encrypts with the key itself.
    kms.describe_key(KeyId=key_arn)
    kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    kms.decrypt(CiphertextBlob=stack["key_ciphertext"])
    # Job logs into the KMS-encrypted group a security configuration gives, /aws-glue/jobs-<role>-<configuration>/
    # (https://docs.aws.amazon.com/glue/latest/webapi/API_JobRun.html, LogGroupName).
    logs = mirrored("logs", keys, denied)
    group = f"/aws-glue/jobs-{SESSIONS[session].rsplit('/', 1)[1]}-{PREFIX}-jobs/output"
    logs.create_log_group(logGroupName=group)  # with the key (logs:AssociateKmsKey: moto has no such call)
    logs.create_log_stream(logGroupName=group, logStreamName=f"jr_{job}")
    logs.put_log_events(logGroupName=group, logStreamName=f"jr_{job}",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "started"}])  # fmt: skip
    # Glue's own job metrics (--enable-metrics), namespace Glue; the streaming job's connector describes its stream.
    mirrored("cloudwatch", keys, denied).put_metric_data(Namespace="Glue", MetricData=[{"MetricName": "glue.driver.aggregate.numCompletedTasks", "Value": 1.0}])  # fmt: skip
    if job == "stream":
        mirrored("kinesis", keys, denied).describe_stream(StreamName=STREAM)
    return {"denied": denied}


def run_quality_job_calls(stack: dict, env: pytest.MonkeyPatch) -> dict:
    """The quality job's boto3 calls, by its own functions, as its role, with its deployed arguments: the model
    download (model.ModelDir.fetch) and its test AUC (quality.job.model_test_auc), the streaming dataset's
    scored table's data files (tables.data_file_paths through the Glue catalog, as quality.scores plans them
    for Spark; the streaming part above committed some), and ModelAUC (quality.job.publish_latest_auc)."""
    from churn_pipeline import model, tables
    from churn_pipeline.quality import job
    from churn_pipeline.quality.glue import config_from_glue_args

    use_session(env, stack, "quality-job")
    config = config_from_glue_args(
        {k.removeprefix("--"): v for k, v in stack["job_arguments"]["quality"].items()}
    )
    model_dir = model._fetched.__wrapped__(config.model_uri, config.region)  # uncached: under this role
    committed = {
        ref.identifier: len(tables.data_file_paths(ref.catalog(), ref.identifier))
        for ref in (*config.batch_scored_tables, *config.stream_scored_tables)
    }
    version = model.ModelDir(model_dir).version()
    latest = {version: {"auc": 0.75}}  # a figure to publish; the figure itself is not the point
    return {
        "model_files": sorted(p.name for p in Path(model_dir).iterdir()),
        "test_auc": job.model_test_auc(config.model_uri, config.region),
        "committed_files": committed,
        "published": job.publish_latest_auc(latest, JOB_NAMES["quality"], config.region),
    }


def run_quality_runtime_calls(stack: dict) -> dict:
    """What Glue and Spark do under the quality role outside our code: the script and wheel downloads, EMRFS's
    reads of both scored datasets and the outcome drops, its writes of the quality datasets, the training set
    and --TempDir, KMS on behalf of S3, logs, Glue's metrics. The same requests, made with boto3."""
    keys, artifacts, key_arn = stack["credentials"]["quality-runtime"], stack["artifacts"], stack["key_arn"]
    arguments = stack["job_arguments"]["quality"]
    denied: list[str] = []
    s3, kms = mirrored("s3", keys, denied), mirrored("kms", keys, denied)
    for object_key in (artifacts["quality_script_key"], *artifacts["batch_python_modules"]):
        s3.get_object(Bucket=BUCKETS["artifacts"], Key=object_key)

    def bucket_and_prefix(uri: str) -> tuple[str, str]:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return bucket, prefix

    bucket, prefix = bucket_and_prefix(arguments["--outcomes_path"])
    s3.get_bucket_location(Bucket=bucket)
    s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    s3.get_object(Bucket=bucket, Key=OUTCOME_OBJECT)
    # Spark reads the data files pyiceberg planned of both scored tables (whichever the scoring parts above
    # committed), under <warehouse><database>/<table>/data/.
    listed: dict = {}
    for table in ("batch_predictions", "stream_predictions"):
        bucket, prefix = bucket_and_prefix(arguments["--table_warehouse"])
        s3.get_bucket_location(Bucket=bucket)
        found = s3.list_objects_v2(
            Bucket=bucket, Prefix=f"{prefix}{arguments['--table_database']}/{table}/data/"
        )
        listed[table] = (found or {}).get("Contents", [])[:1]
        for obj in listed[table]:
            s3.get_object(Bucket=bucket, Key=obj["Key"])
    for argument in ("--quality_path", "--calibration_path", "--outcome_rejects_path", "--training_set_path",
                     "--TempDir"):  # fmt: skip
        bucket, prefix = bucket_and_prefix(arguments[argument])
        object_key = f"{prefix}batch_id=lp/part-00000"
        s3.put_object(Bucket=bucket, Key=object_key, Body=b"x")
        s3.get_object(Bucket=bucket, Key=object_key)
        s3.delete_object(Bucket=bucket, Key=object_key)  # the writer replaces its run's folder
    kms.describe_key(KeyId=key_arn)
    kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    kms.decrypt(CiphertextBlob=stack["key_ciphertext"])
    logs = mirrored("logs", keys, denied)
    group = f"/aws-glue/jobs-{PREFIX}-glue-quality-{PREFIX}-jobs/output"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="jr_0002")
    logs.put_log_events(logGroupName=group, logStreamName="jr_0002",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "started"}])  # fmt: skip
    mirrored("cloudwatch", keys, denied).put_metric_data(Namespace="Glue", MetricData=[{"MetricName": "glue.driver.aggregate.numCompletedTasks", "Value": 1.0}])  # fmt: skip
    return {"denied": denied, "files_read": {table: len(objects) for table, objects in listed.items()}}


def run_endpoint_model_download(stack: dict) -> dict:
    """What SageMaker does under the execution role when it starts the endpoint: fetch ModelDataUrl (an
    SSE-KMS object: Decrypt), then create its log stream and publish its metrics."""
    keys, admin = stack["credentials"]["endpoint"], stack["admin"]
    denied: list[str] = []
    sagemaker = client("sagemaker", admin)
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    bucket, _, object_key = model["PrimaryContainer"]["ModelDataUrl"].removeprefix("s3://").partition("/")
    target = stack["work"] / "sagemaker-model.tar.gz"
    mirrored("s3", keys, denied).download_file(bucket, object_key, str(target))
    kms = mirrored("kms", keys, denied)
    kms.generate_data_key(KeyId=stack["key_arn"], KeySpec="AES_256")
    kms.decrypt(CiphertextBlob=stack["key_ciphertext"])
    kms.describe_key(KeyId=stack["key_arn"])
    logs, group = mirrored("logs", keys, denied), f"/aws/sagemaker/Endpoints/{ENDPOINT}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="AllTraffic/i-0001")
    logs.put_log_events(logGroupName=group, logStreamName="AllTraffic/i-0001",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "serving"}])  # fmt: skip
    mirrored("cloudwatch", keys, denied).put_metric_data(Namespace="/aws/sagemaker/Endpoints", MetricData=[{"MetricName": "CPUUtilization", "Value": 1.0}])  # fmt: skip
    mirrored("ecr", keys, denied).get_authorization_token()
    return {"model_bytes": target.read_bytes() if target.exists() else None, "denied": denied}


# ---------------------------------------------------------------- the calls each role makes: allowed
@dataclass(frozen=True)
class Call:
    session: str
    action: str
    resource: str  # fnmatch pattern
    context: tuple[tuple[str, str], ...] = ()

    @property
    def id(self) -> str:
        short = self.resource.replace(f"arn:aws:s3:::{PREFIX}-", "s3:").replace(f"-{ACCOUNT}", "")
        short = short.replace("arn:aws:", "").replace(f":{REGION}:{ACCOUNT}:", ":")
        extra = "".join(f" [{v}]" for _, v in self.context)
        return f"{self.session}: {self.action} {short}{extra}"

    def matches(self, decision: dict) -> bool:
        return (decision["principal"] == principal(self.session) and decision["action"] == self.action
                and fnmatch.fnmatchcase(decision["resource"], self.resource)
                and all(decision["context"].get(k) == v for k, v in self.context))  # fmt: skip


KEY = "arn:aws:kms:us-east-1:123456789012:key/*"
LOGS = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
ALLOWED = [
    # the streaming job, jobs/glue_stream_scoring.py (churn_pipeline.streaming)
    Call("stream-job", "kinesis:ListShards", STREAM_ARN),
    Call("stream-job", "kinesis:GetShardIterator", STREAM_ARN),
    Call("stream-job", "kinesis:GetRecords", STREAM_ARN),
    Call("stream-job", "s3:GetObject", s3_arn("artifacts", "models/*/model.tar.gz")),
    Call("stream-job", "s3:GetObject", s3_arn("artifacts", "models/*/feature_spec.json")),
    Call("stream-job", "s3:GetObject", s3_arn("artifacts", "models/*/baseline.json")),
    Call("stream-job", "s3:GetObject", s3_arn("artifacts", "models/*/dataset.json")),
    Call("stream-job", "s3:PutObject", s3_arn("data", "checkpoints/stream-scoring/*")),
    Call("stream-job", "s3:GetObject", s3_arn("data", "checkpoints/stream-scoring/metadata")),
    # Its Iceberg commits (churn_pipeline.tables, pyiceberg 0.12.0), each table: GetTable (load: the current
    # metadata_location), the metadata and manifests read, the tasks' data files and the new metadata, manifest
    # list and manifests put, UpdateTable (the pointer moved, with the VersionId read). Nothing deleted.
    *[
        call
        for table in STREAM_TABLES
        for call in (
            Call("stream-job", "glue:GetTable", TABLE_ARN.format(table)),
            Call("stream-job", "glue:UpdateTable", TABLE_ARN.format(table)),
            Call("stream-job", "s3:GetObject", s3_arn("results", TABLE_FILES.format(table) + "/metadata/*")),
            Call("stream-job", "s3:PutObject", s3_arn("results", TABLE_FILES.format(table) + "/metadata/*")),
            Call("stream-job", "s3:PutObject", s3_arn("results", TABLE_FILES.format(table) + "/data/*")),
            # add_files reads each data file's footer (its statistics) before the commit
            Call("stream-job", "s3:GetObject", s3_arn("results", TABLE_FILES.format(table) + "/data/*")),
        )
    ],
    # ... and once per commit the database (pyiceberg 0.12.0 GlueCatalog.commit_table: _is_s3tables_database).
    Call("stream-job", "glue:GetDatabase", f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog"),
    Call("stream-job", "glue:GetDatabase", f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{DATABASE}"),
    # A request on a table is checked on the catalog and the database too (tests/iam_enforcing_moto.py).
    *[
        Call("stream-job", action, f"arn:aws:glue:{REGION}:{ACCOUNT}:{resource}")
        for action in ("glue:GetTable", "glue:UpdateTable")
        for resource in ("catalog", f"database/{DATABASE}")
    ],
    # pyarrow's S3 file system: a HEAD of a key not yet there (pyiceberg creates files with overwrite=False) is
    # followed by a listing of it as a directory.
    Call("stream-job", "s3:ListBucket", s3_arn("results")),
    Call("stream-job", "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "ChurnPipeline"),)),
    # the batch job's boto3 calls (churn_pipeline.model, churn_pipeline.scoring.endpoint_client)
    Call("batch-job", "s3:GetObject", s3_arn("artifacts", "models/*/model.tar.gz")),
    Call("batch-job", "s3:GetObject", s3_arn("artifacts", "models/*/feature_spec.json")),
    Call("batch-job", "s3:GetObject", s3_arn("artifacts", "models/*/baseline.json")),
    Call("batch-job", "s3:GetObject", s3_arn("artifacts", "models/*/dataset.json")),
    Call(
        "batch-job", "sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"
    ),
    Call("batch-job", "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "ChurnPipeline"),)),
    # Its Iceberg commits (batch.table_layout.commit_run), each table: GetTable, its metadata and manifests read,
    # the new ones put, UpdateTable; the run's data file (a task's, batch.files) put under the scored table's data/
    # and read back by add_files (its statistics). A re-run's partition is replaced in the same commit: nothing
    # is deleted from S3.
    *[
        call
        for table in BATCH_TABLES
        for call in (
            Call("batch-job", "glue:GetTable", TABLE_ARN.format(table)),
            Call("batch-job", "glue:UpdateTable", TABLE_ARN.format(table)),
            Call("batch-job", "s3:GetObject", s3_arn("results", TABLE_FILES.format(table) + "/metadata/*")),
            Call("batch-job", "s3:PutObject", s3_arn("results", TABLE_FILES.format(table) + "/metadata/*")),
        )
    ],
    Call("batch-job", "s3:PutObject", s3_arn("results", TABLE_FILES.format("batch_predictions") + "/data/*")),
    Call("batch-job", "s3:GetObject", s3_arn("results", TABLE_FILES.format("batch_predictions") + "/data/*")),
    Call("batch-job", "glue:GetDatabase", f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog"),
    Call("batch-job", "glue:GetDatabase", f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{DATABASE}"),
    *[
        Call("batch-job", action, f"arn:aws:glue:{REGION}:{ACCOUNT}:{resource}")
        for action in ("glue:GetTable", "glue:UpdateTable")
        for resource in ("catalog", f"database/{DATABASE}")
    ],
    Call("batch-job", "s3:ListBucket", s3_arn("results")),
    # InvokeEndpoint as the streaming job's role (its scorer's client, against moto: run_stream_endpoint_call)
    Call(
        "stream-job", "sagemaker:InvokeEndpoint", f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"
    ),
    # Glue itself, under each scoring job's role: its script and wheels, the --TempDir, KMS, logs, Glue's metrics
    *[
        call
        for job in ("batch", "stream")
        for call in (
            Call(f"{job}-runtime", "s3:GetObject", s3_arn("artifacts", f"code/*/glue_{job}_scoring.py")),
            Call(f"{job}-runtime", "s3:GetObject", s3_arn("artifacts", "wheels/*")),
            Call(f"{job}-runtime", "s3:GetBucketLocation", s3_arn("data")),
            Call(f"{job}-runtime", "s3:ListBucket", s3_arn("data")),
            Call(f"{job}-runtime", "s3:PutObject", s3_arn("data", "tmp/glue/*")),
            Call(f"{job}-runtime", "s3:GetObject", s3_arn("data", "tmp/glue/*")),
            Call(f"{job}-runtime", "s3:DeleteObject", s3_arn("data", "tmp/glue/*")),
            Call(f"{job}-runtime", "kms:DescribeKey", KEY),
            Call(f"{job}-runtime", "kms:GenerateDataKey", KEY),
            Call(f"{job}-runtime", "kms:Decrypt", KEY),
            Call(f"{job}-runtime", "logs:CreateLogGroup", f"{LOGS}/aws-glue/jobs-{PREFIX}-glue-{job}-*"),
            Call(f"{job}-runtime", "logs:CreateLogStream", f"{LOGS}/aws-glue/jobs-*:log-stream:jr_{job}"),
            Call(f"{job}-runtime", "logs:PutLogEvents", f"{LOGS}/aws-glue/jobs-*:log-stream:jr_{job}"),
            Call(f"{job}-runtime", "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "Glue"),)),
        )
    ],
    # EMRFS for the batch job: its input (its outputs are its tables' files, the batch-job part's)
    Call("batch-runtime", "s3:GetObject", s3_arn("data", "input/*")),
    # the streaming job's checkpoint housekeeping, and Glue's Kinesis connector describing the stream
    *[
        Call("stream-runtime", f"s3:{action}", s3_arn("data", "checkpoints/stream-scoring/*"))
        for action in ("PutObject", "GetObject", "DeleteObject")
    ],
    Call("stream-runtime", "kinesis:DescribeStream", STREAM_ARN),
    # the quality job's boto3 calls (churn_pipeline.model, churn_pipeline.quality.job, churn_pipeline.tables)
    Call("quality-job", "s3:GetObject", s3_arn("artifacts", "models/*/model.tar.gz")),
    Call("quality-job", "s3:GetObject", s3_arn("artifacts", "models/*/feature_spec.json")),
    Call("quality-job", "s3:GetObject", s3_arn("artifacts", "models/*/baseline.json")),
    Call("quality-job", "s3:GetObject", s3_arn("artifacts", "models/*/dataset.json")),
    Call("quality-job", "s3:GetObject", s3_arn("artifacts", "models/*/metrics.json")),
    *[
        call
        for table in ("batch_predictions", "stream_predictions")
        for call in (
            Call("quality-job", "glue:GetTable", TABLE_ARN.format(table)),
            Call("quality-job", "s3:GetObject", s3_arn("results", TABLE_FILES.format(table) + "/metadata/*")),
        )
    ],
    Call("quality-job", "glue:GetTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:catalog"),
    Call("quality-job", "glue:GetTable", f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{DATABASE}"),
    Call("quality-job", "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "ChurnPipeline"),)),
    # Glue and Spark under the quality role
    Call("quality-runtime", "s3:GetObject", s3_arn("artifacts", "code/*/glue_quality.py")),
    Call("quality-runtime", "s3:GetObject", s3_arn("artifacts", "wheels/*")),
    Call("quality-runtime", "s3:GetBucketLocation", s3_arn("results")),
    Call("quality-runtime", "s3:GetBucketLocation", s3_arn("data")),
    Call("quality-runtime", "s3:ListBucket", s3_arn("results")),
    Call("quality-runtime", "s3:ListBucket", s3_arn("data")),
    *[
        Call("quality-runtime", "s3:GetObject", s3_arn("results", TABLE_FILES.format(table) + "/data/*"))
        for table in ("batch_predictions", "stream_predictions")
    ],
    Call("quality-runtime", "s3:GetObject", s3_arn("data", "outcomes/*")),
    *[
        Call("quality-runtime", f"s3:{action}", s3_arn(purpose, f"{prefix}/*"))
        for purpose, prefix in (
            ("results", "quality/metrics"),
            ("results", "quality/calibration"),
            ("results", "quality/outcome-rejects"),
            ("results", "quality/training-set"),
            ("data", "tmp/glue"),
        )
        for action in ("PutObject", "GetObject", "DeleteObject")
    ],  # fmt: skip
    Call("quality-runtime", "kms:DescribeKey", KEY),
    Call("quality-runtime", "kms:GenerateDataKey", KEY),
    Call("quality-runtime", "kms:Decrypt", KEY),
    Call("quality-runtime", "logs:CreateLogGroup", f"{LOGS}/aws-glue/jobs-{PREFIX}-glue-quality-*"),
    Call("quality-runtime", "logs:CreateLogStream", f"{LOGS}/aws-glue/jobs-*:log-stream:jr_0002"),
    Call("quality-runtime", "logs:PutLogEvents", f"{LOGS}/aws-glue/jobs-*:log-stream:jr_0002"),
    Call("quality-runtime", "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "Glue"),)),
    # SageMaker, under the execution role
    Call("endpoint", "s3:GetObject", s3_arn("artifacts", "models/*/model.tar.gz")),
    Call("endpoint", "kms:Decrypt", KEY),
    Call("endpoint", "kms:GenerateDataKey", KEY),
    Call("endpoint", "kms:DescribeKey", KEY),
    Call("endpoint", "logs:CreateLogGroup", f"{LOGS}/aws/sagemaker/Endpoints/{ENDPOINT}"),
    Call("endpoint", "logs:CreateLogStream", f"{LOGS}/aws/sagemaker/Endpoints/{ENDPOINT}:log-stream:*"),
    Call("endpoint", "logs:PutLogEvents", f"{LOGS}/aws/sagemaker/Endpoints/{ENDPOINT}:log-stream:*"),
    Call(
        "endpoint", "cloudwatch:PutMetricData", "*", (("cloudwatch:namespace", "/aws/sagemaker/Endpoints"),)
    ),
    Call("endpoint", "ecr:GetAuthorizationToken", "*"),
]


@pytest.mark.parametrize(
    "part",
    [
        "stream",
        "stream-endpoint",
        "batch",
        "stream-runtime",
        "batch-runtime",
        "quality",
        "quality-runtime",
        "endpoint",
    ],
)
def test_workload_ran(workload, part):
    """Each part of the workload ran to its end under its role's credentials."""
    error = workload.get("errors", {}).get(part)
    if error is not None:
        raise error


def test_streaming_job_scores_under_its_own_role(stack, workload):
    """The entry script ran to its end as the streaming job's role; its commits are in the tables the deployment made, read
    as any reader reads them (churn_pipeline.tables.read, here with the admin's credentials)."""
    from churn_pipeline import tables

    assert workload["stream"]["batches"], workload
    arguments = stack["job_arguments"]["stream"]
    settings = tables.CatalogSettings("glue", arguments["--table_warehouse"], REGION)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", stack["admin"]["aws_access_key_id"])
        env.setenv("AWS_SECRET_ACCESS_KEY", stack["admin"]["aws_secret_access_key"])
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.setattr(boto3, "DEFAULT_SESSION", None)
        catalog = tables.catalog_from_settings(settings)
        scored = tables.read_pandas(catalog, f"{arguments['--table_database']}.stream_predictions")
        dead = tables.read_pandas(catalog, f"{arguments['--table_database']}.stream_dead_letter")
    records = stack["records"]
    assert sorted(scored["record_id"]) == sorted(json.loads(d)["record_id"] for d, _ in records[:-1])
    assert [bytes(p) for p in dead["raw_payload"]] == [b"{not json"]


def test_the_quality_job_s_calls_returned_what_was_deployed(stack, workload):
    """Under its role the quality job got the deployed model with its metrics.json (its own test AUC), both scored
    tables' committed files, and published ModelAUC."""
    quality = workload["quality"]
    assert quality["model_files"] == ["baseline.json", "dataset.json", "feature_spec.json", "model.tar.gz"]
    assert quality["test_auc"] == json.loads((stack["model_dir"] / "metrics.json").read_text())["test"]["auc"]
    assert (
        quality["committed_files"]
        == {
            f"{DATABASE}.batch_predictions": 1,  # the batch part's one file
            f"{DATABASE}.stream_predictions": quality["committed_files"][f"{DATABASE}.stream_predictions"],
        }
        and quality["committed_files"][f"{DATABASE}.stream_predictions"]
    ), "the scoring parts committed files"
    assert quality["published"]
    assert workload["quality-runtime"]["files_read"] == {"batch_predictions": 1, "stream_predictions": 1}


def test_batch_and_endpoint_calls_returned_what_was_deployed(stack, workload):
    assert workload["batch"]["model_files"] == [
        "baseline.json",
        "dataset.json",
        "feature_spec.json",
        "model.tar.gz",
    ]
    assert workload["batch"]["drift_published"]
    assert workload["batch"]["invoked"]  # moto's runtime answers a canned body
    # Its commits landed: the scored table holds the run's one file, the others none (nothing to add).
    assert workload["batch"]["committed"] == {"rejects": 0, "failed": 0, "drift": 0, "scored": 1}
    assert workload["stream-endpoint"]["invoked"]
    assert workload["endpoint"]["model_bytes"] == (stack["model_dir"] / "model.tar.gz").read_bytes()


@pytest.mark.parametrize("call", ALLOWED, ids=lambda c: c.id)
def test_allowed(workload, call):
    made = [d for d in workload["decisions"] if call.matches(d)]
    denied = [d for d in made if not d["allowed"]]
    assert made, f"{call.id}: never made (a part stopped earlier?): {workload.get('errors')!r}"
    assert not denied, f"{call.id}: DENIED on {denied[0]['resource']}"


def test_no_call_of_the_workload_was_denied(workload):
    """0 unexpected outcomes: no denial at all while the roles did their work, expected case or not."""
    denied = [f"{d['principal'].rsplit('/', 1)[1]}: {d['action']} {d['resource']}"
              for d in workload["decisions"] if not d["allowed"]]  # fmt: skip
    assert not denied, "\n".join(denied)


def test_every_call_made_is_an_expected_case(workload):
    """What the roles did is what ALLOWED names: a new call shows up here and gets its case (and its row)."""
    ours = [d for d in workload["decisions"] if ":assumed-role/" in d["principal"]]
    unnamed = {f"{d['principal'].rsplit('/', 1)[1]}: {d['action']} {d['resource']}"
               for d in ours if not any(c.matches(d) for c in ALLOWED)}  # fmt: skip
    assert not unnamed, "\n".join(sorted(unnamed))


def role_policy(stack, role: str) -> dict:
    iam = client("iam", stack["admin"])
    document = iam.get_role_policy(RoleName=role.rsplit("/", 1)[1], PolicyName="least-privilege")[
        "PolicyDocument"
    ]
    return document if isinstance(document, dict) else json.loads(document)


# Each Glue role and the sessions that act under it.
GLUE_ROLE_SESSIONS = {
    BATCH_ROLE: ("batch-job", "batch-runtime"),
    STREAM_ROLE: ("stream-job", "stream-runtime"),
    QUALITY_ROLE: ("quality-job", "quality-runtime"),
}


@pytest.mark.parametrize("role", GLUE_ROLE_SESSIONS, ids=lambda r: r.rsplit("/", 1)[1])
def test_every_statement_of_a_glue_role_s_policy_is_needed_by_a_call_made(stack, workload, role):
    """Without any one statement, moto's own evaluator denies at least one call the workload made: each
    statement is needed (none is dead weight), and removing it fails the ALLOWED cases of those calls."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policy = role_policy(stack, role)
    made = [d for d in workload["decisions"] if d["allowed"] and any(
        d["principal"] == principal(s) for s in GLUE_ROLE_SESSIONS[role])]  # fmt: skip
    needed_by: dict[str, list[str]] = {}
    for index, statement in enumerate(policy["Statement"]):
        without = {**policy, "Statement": [s for i, s in enumerate(policy["Statement"]) if i != index]}
        evaluator = IAMPolicy(json.dumps(without))
        needed_by[statement.get("Sid", str(index))] = sorted({
            f"{d['action']} {d['resource']}" for d in made
            if evaluator.is_action_permitted(d["action"], d["resource"], None, d["context"] or None)
            != PermissionResult.PERMITTED
        })  # fmt: skip
    unused = [sid for sid, calls in needed_by.items() if not calls]
    assert not unused, f"statements no call needs (too wide?): {unused}"


# ---------------------------------------------------------------- what the roles must not do: denied
@dataclass(frozen=True)
class Probe:
    name: str
    session: str
    service: str
    operation: str
    params: dict

    def call(self, stack):
        method = getattr(client(self.service, stack["credentials"][self.session]), self.operation)
        return method(**{k: (v(stack) if callable(v) else v) for k, v in self.params.items()})


def model_key(stack) -> str:
    return stack["artifacts"]["model_artifact_key"]


PROBES = [
    Probe("read another bucket", "batch-probe", "s3", "get_object", {"Bucket": OTHER_BUCKET, "Key": "input/other.csv"}),
    Probe("list another bucket", "batch-probe", "s3", "list_objects_v2", {"Bucket": OTHER_BUCKET}),
    Probe("write another bucket", "batch-probe", "s3", "put_object", {"Bucket": OTHER_BUCKET, "Key": "x", "Body": b"x"}),
    Probe("write the batch input", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["data"], "Key": "input/x.csv", "Body": b"x"}),
    Probe("write outside the job prefixes", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": "data-capture/x", "Body": b"x"}),
    Probe("overwrite the model", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["artifacts"], "Key": model_key, "Body": b"x"}),
    Probe("delete the model artifact", "batch-probe", "s3", "delete_object", {"Bucket": BUCKETS["artifacts"], "Key": model_key}),
    Probe("replace a job script", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["artifacts"], "Key": lambda s: s["artifacts"]["stream_script_key"], "Body": b"x"}),
    Probe("change a bucket policy", "batch-probe", "s3", "put_bucket_policy", {"Bucket": BUCKETS["results"], "Policy": json.dumps(ADMIN_POLICY)}),
    Probe("delete a bucket", "batch-probe", "s3", "delete_bucket", {"Bucket": BUCKETS["results"]}),
    Probe("read another stream", "stream-probe", "kinesis", "list_shards", {"StreamName": OTHER_STREAM}),
    Probe("put to the stream", "stream-probe", "kinesis", "put_record", {"StreamName": STREAM, "Data": b"x", "PartitionKey": "x"}),
    Probe("delete the stream", "stream-probe", "kinesis", "delete_stream", {"StreamName": STREAM}),
    Probe("invoke another endpoint", "batch-probe", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": OTHER_ENDPOINT, "ContentType": "text/csv", "Body": b"0"}),
    Probe("delete the endpoint", "batch-probe", "sagemaker", "delete_endpoint", {"EndpointName": ENDPOINT}),
    Probe("metrics to another namespace", "batch-probe", "cloudwatch", "put_metric_data", {"Namespace": "Other", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
    Probe("decrypt with another key", "batch-probe", "kms", "decrypt", {"CiphertextBlob": lambda s: s["other_ciphertext"]}),
    Probe("encrypt with another key", "batch-probe", "kms", "generate_data_key", {"KeyId": lambda s: s["other_key"], "KeySpec": "AES_256"}),
    Probe("schedule the key's deletion", "batch-probe", "kms", "schedule_key_deletion", {"KeyId": lambda s: s["key_arn"], "PendingWindowInDays": 7}),
    Probe("read a catalog table not the stream's", "stream-probe", "glue", "get_table", {"DatabaseName": DATABASE, "Name": "batch_predictions"}),
    Probe("update a catalog table not the stream's", "stream-probe", "glue", "update_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "batch_predictions"}}),
    Probe("create a catalog table (the deploy step creates the stream's)", "stream-probe", "glue", "create_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "x"}}),
    Probe("delete a stream table", "stream-probe", "glue", "delete_table", {"DatabaseName": DATABASE, "Name": "stream_predictions"}),
    Probe("list the database's tables", "stream-probe", "glue", "get_tables", {"DatabaseName": DATABASE}),
    Probe("create a partition", "stream-probe", "glue", "create_partition", {"DatabaseName": DATABASE, "TableName": "batch_predictions", "PartitionInput": {"Values": ["x"]}}),
    Probe("delete a stream table's data file (orphan cleanup is the optimizer's)", "stream-probe", "s3", "delete_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_predictions/data/x.parquet"}),
    Probe("delete a stream table's metadata", "stream-probe", "s3", "delete_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_drift/metadata/x.metadata.json"}),
    Probe("write the warehouse outside the stream's tables", "stream-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/other/data/x", "Body": b"x"}),
    Probe("logs outside /aws-glue/", "batch-probe", "logs", "create_log_group", {"logGroupName": "/other/group"}),
    Probe("iam: read roles", "batch-probe", "iam", "list_roles", {}),
    Probe("iam: widen its own policy", "batch-probe", "iam", "put_role_policy", {"RoleName": BATCH_ROLE.rsplit("/", 1)[1], "PolicyName": "more", "PolicyDocument": json.dumps(ADMIN_POLICY)}),
    Probe("sts: assume the SageMaker role", "batch-probe", "sts", "assume_role", {"RoleArn": SAGEMAKER_ROLE, "RoleSessionName": "escalate"}),
    Probe("pass its role to a new job", "batch-probe", "glue", "create_job", {"Name": "x", "Role": BATCH_ROLE, "Command": {"Name": "glueetl", "ScriptLocation": "s3://x/y.py"}}),
    Probe("read the outcome drops (the quality job's)", "batch-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": OUTCOME_OBJECT}),
    Probe("write the quality datasets", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": "quality/metrics/x", "Body": b"x"}),
    # The batch job's role: no catalog table but its four, no table deleted, none created, no file of its tables
    # deleted (orphan cleanup is the optimizer's), nothing under the old batch/ prefix or outside its tables.
    Probe("batch: read a catalog table not the jobs'", "batch-probe", "glue", "get_table", {"DatabaseName": DATABASE, "Name": "model_quality"}),
    Probe("batch: update a catalog table not the jobs'", "batch-probe", "glue", "update_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "model_quality"}}),
    Probe("batch: create a catalog table (the deploy step creates the jobs')", "batch-probe", "glue", "create_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "x"}}),
    Probe("batch: delete a batch table", "batch-probe", "glue", "delete_table", {"DatabaseName": DATABASE, "Name": "batch_predictions"}),
    Probe("batch: delete a batch table's data file (orphan cleanup is the optimizer's)", "batch-probe", "s3", "delete_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_predictions/data/x.parquet"}),
    Probe("batch: write the old batch prefix", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": "batch/predictions/x.parquet", "Body": b"x"}),
    Probe("batch: write the warehouse outside its tables", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/other/data/x", "Body": b"x"}),
    # The batch job's role reaches nothing of the streaming job's: its tables, their files, its stream, its checkpoint.
    Probe("batch: load a stream table", "batch-probe", "glue", "get_table", {"DatabaseName": DATABASE, "Name": "stream_predictions"}),
    Probe("batch: commit to a stream table", "batch-probe", "glue", "update_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "stream_dead_letter"}}),
    Probe("batch: write a stream table's data file", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_predictions/data/x.parquet", "Body": b"x"}),
    Probe("batch: write a stream table's metadata", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_drift/metadata/x.metadata.json", "Body": b"x"}),
    Probe("batch: read a stream table's files", "batch-probe", "s3", "get_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_dead_letter/metadata/x.metadata.json"}),
    Probe("batch: read the stream", "batch-probe", "kinesis", "list_shards", {"StreamName": STREAM}),
    Probe("batch: describe the stream", "batch-probe", "kinesis", "describe_stream", {"StreamName": STREAM}),
    Probe("batch: read the streaming checkpoint", "batch-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": "checkpoints/stream-scoring/metadata"}),
    Probe("batch: write the streaming checkpoint", "batch-probe", "s3", "put_object", {"Bucket": BUCKETS["data"], "Key": "checkpoints/stream-scoring/offsets/9", "Body": b"x"}),
    # The streaming job's role reaches nothing of the batch job's: its input, its tables and their files (and the
    # old batch/ prefix); nor another checkpoint.
    Probe("stream: read the batch input", "stream-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": "input/batch.csv"}),
    Probe("stream: read the batch scores", "stream-probe", "s3", "get_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_predictions/data/x.parquet"}),
    Probe("stream: read a batch table's metadata", "stream-probe", "s3", "get_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_rejects/metadata/x.metadata.json"}),
    Probe("stream: write the batch scores", "stream-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_predictions/data/x.parquet", "Body": b"x"}),
    Probe("stream: write a batch table's metadata", "stream-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_failed/metadata/x.metadata.json", "Body": b"x"}),
    Probe("stream: delete a batch table's file", "stream-probe", "s3", "delete_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_drift/data/x.parquet"}),
    Probe("stream: commit to a batch table", "stream-probe", "glue", "update_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "batch_drift"}}),
    Probe("stream: write the old batch prefix", "stream-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": "batch/predictions/x.parquet", "Body": b"x"}),
    Probe("stream: write another query's checkpoint", "stream-probe", "s3", "put_object", {"Bucket": BUCKETS["data"], "Key": "checkpoints/other-query/metadata", "Body": b"x"}),
    Probe("stream: read another bucket", "stream-probe", "s3", "get_object", {"Bucket": OTHER_BUCKET, "Key": "input/other.csv"}),
    Probe("stream: overwrite the model", "stream-probe", "s3", "put_object", {"Bucket": BUCKETS["artifacts"], "Key": model_key, "Body": b"x"}),
    Probe("stream: invoke another endpoint", "stream-probe", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": OTHER_ENDPOINT, "ContentType": "text/csv", "Body": b"0"}),
    Probe("stream: metrics to another namespace", "stream-probe", "cloudwatch", "put_metric_data", {"Namespace": "Other", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
    Probe("stream: decrypt with another key", "stream-probe", "kms", "decrypt", {"CiphertextBlob": lambda s: s["other_ciphertext"]}),
    Probe("stream: read the outcome drops", "stream-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": OUTCOME_OBJECT}),
    Probe("stream: iam: widen its own policy", "stream-probe", "iam", "put_role_policy", {"RoleName": STREAM_ROLE.rsplit("/", 1)[1], "PolicyName": "more", "PolicyDocument": json.dumps(ADMIN_POLICY)}),
    Probe("stream: pass its role to a new job", "stream-probe", "glue", "create_job", {"Name": "x", "Role": STREAM_ROLE, "Command": {"Name": "gluestreaming", "ScriptLocation": "s3://x/y.py"}}),
    # S3 SSE-KMS needs GenerateDataKey and Decrypt, and no job writes a bookmark: no Glue role encrypts with the key.
    Probe("batch: encrypt with the key", "batch-probe", "kms", "encrypt", {"KeyId": lambda s: s["key_arn"], "Plaintext": b"x"}),
    Probe("stream: encrypt with the key", "stream-probe", "kms", "encrypt", {"KeyId": lambda s: s["key_arn"], "Plaintext": b"x"}),
    Probe("quality: encrypt with the key", "quality-probe", "kms", "encrypt", {"KeyId": lambda s: s["key_arn"], "Plaintext": b"x"}),
    Probe("quality: write the batch scores", "quality-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_predictions/data/x.parquet", "Body": b"x"}),
    Probe("quality: commit to the batch scored table", "quality-probe", "glue", "update_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "batch_predictions"}}),
    Probe("quality: delete a stream score", "quality-probe", "s3", "delete_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_predictions/data/x.parquet"}),
    Probe("quality: write into the stream's scored table", "quality-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_predictions/metadata/x.metadata.json", "Body": b"x"}),
    Probe("quality: commit to the stream's scored table", "quality-probe", "glue", "update_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "stream_predictions"}}),
    Probe("quality: read the dead-letter table", "quality-probe", "glue", "get_table", {"DatabaseName": DATABASE, "Name": "stream_dead_letter"}),
    Probe("quality: read the dead-letter table's files", "quality-probe", "s3", "get_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/stream_dead_letter/metadata/x.metadata.json"}),
    Probe("quality: write an outcome drop", "quality-probe", "s3", "put_object", {"Bucket": BUCKETS["data"], "Key": "outcomes/x.csv", "Body": b"x"}),
    Probe("quality: delete an outcome drop", "quality-probe", "s3", "delete_object", {"Bucket": BUCKETS["data"], "Key": OUTCOME_OBJECT}),
    Probe("quality: read the batch input", "quality-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": "input/batch.csv"}),
    Probe("quality: read the batch rejects", "quality-probe", "s3", "get_object", {"Bucket": BUCKETS["results"], "Key": f"tables/{DATABASE}/batch_rejects/metadata/x.metadata.json"}),
    Probe("quality: read the batch rejects table", "quality-probe", "glue", "get_table", {"DatabaseName": DATABASE, "Name": "batch_rejects"}),
    Probe("quality: read the streaming checkpoint", "quality-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": "checkpoints/stream-scoring/metadata"}),
    Probe("quality: write results outside quality/", "quality-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": "data-capture/x", "Body": b"x"}),
    Probe("quality: overwrite the model", "quality-probe", "s3", "put_object", {"Bucket": BUCKETS["artifacts"], "Key": model_key, "Body": b"x"}),
    Probe("quality: read another bucket", "quality-probe", "s3", "get_object", {"Bucket": OTHER_BUCKET, "Key": "input/other.csv"}),
    Probe("quality: read the stream", "quality-probe", "kinesis", "describe_stream_summary", {"StreamName": STREAM}),
    Probe("quality: invoke the endpoint", "quality-probe", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Body": b"0"}),
    Probe("quality: metrics to another namespace", "quality-probe", "cloudwatch", "put_metric_data", {"Namespace": "Other", "MetricData": [{"MetricName": "m", "Value": 1.0}]}),
    Probe("quality: decrypt with another key", "quality-probe", "kms", "decrypt", {"CiphertextBlob": lambda s: s["other_ciphertext"]}),
    Probe("quality: create a catalog table", "quality-probe", "glue", "create_table", {"DatabaseName": DATABASE, "TableInput": {"Name": "x"}}),
    Probe("quality: start a job run", "quality-probe", "glue", "start_job_run", {"JobName": JOB_NAMES["batch"]}),
    Probe("quality: iam: widen its own policy", "quality-probe", "iam", "put_role_policy", {"RoleName": f"{PREFIX}-glue-quality", "PolicyName": "more", "PolicyDocument": json.dumps(ADMIN_POLICY)}),
    Probe("sagemaker: read the batch input", "sagemaker-probe", "s3", "get_object", {"Bucket": BUCKETS["data"], "Key": "input/batch.csv"}),
    Probe("sagemaker: overwrite the model", "sagemaker-probe", "s3", "put_object", {"Bucket": BUCKETS["artifacts"], "Key": model_key, "Body": b"x"}),
    Probe("sagemaker: write results", "sagemaker-probe", "s3", "put_object", {"Bucket": BUCKETS["results"], "Key": "data-capture/x", "Body": b"x"}),
    Probe("sagemaker: read the stream", "sagemaker-probe", "kinesis", "describe_stream_summary", {"StreamName": STREAM}),
    Probe("sagemaker: decrypt with another key", "sagemaker-probe", "kms", "decrypt", {"CiphertextBlob": lambda s: s["other_ciphertext"]}),
    Probe("sagemaker: invoke the endpoint", "sagemaker-probe", "sagemaker-runtime", "invoke_endpoint", {"EndpointName": ENDPOINT, "ContentType": "text/csv", "Body": b"0"}),
    Probe("sagemaker: iam", "sagemaker-probe", "iam", "list_roles", {}),
]  # fmt: skip


def is_access_denied(error: ClientError) -> bool:
    """AccessDenied as moto answers it (some clients cannot parse its XML error body and keep only the 403)."""
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("AccessDenied", "AccessDeniedException") or (
        status == 403 and "AccessDenied" in str(error)
    )


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: p.name)
def test_denied(stack, workload, probe):
    before = len(moto_iam.decisions(stack["decisions"]))
    with pytest.raises(ClientError) as raised:
        probe.call(stack)
    assert is_access_denied(raised.value), (
        f"{probe.name}: failed, but not for lack of permission: {raised.value}"
    )
    # The denial is the IAM check's, on this principal (not, say, a KMS key mismatch moto reports alike).
    logged = moto_iam.decisions(stack["decisions"])[before:]
    assert any(not d["allowed"] and d["principal"] == principal(probe.session) for d in logged), logged


# ---------------------------------------------------------------- what moto does not evaluate: the documented form
def deployed_policies(stack) -> dict[str, dict]:
    iam = client("iam", stack["admin"])
    found = {}
    for role in (BATCH_ROLE, STREAM_ROLE, QUALITY_ROLE, SAGEMAKER_ROLE):
        name = role.rsplit("/", 1)[1]
        document = iam.get_role_policy(RoleName=name, PolicyName="least-privilege")["PolicyDocument"]
        found[name] = document if isinstance(document, dict) else json.loads(document)
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("role", "service"),
    [
        (BATCH_ROLE, "glue.amazonaws.com"),
        (STREAM_ROLE, "glue.amazonaws.com"),
        (QUALITY_ROLE, "glue.amazonaws.com"),
        (SAGEMAKER_ROLE, "sagemaker.amazonaws.com"),
    ],
)
def test_trust_policy_lets_only_its_service_assume_the_role_for_this_account(stack, role, service):
    """moto does not evaluate a trust policy naming a service principal (its check fails on one), so the roles
    were assumed before enforcement. The form AWS documents for a service role with confused-deputy protection:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html (aws:SourceAccount) and
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-service.html."""
    found = client("iam", stack["admin"]).get_role(RoleName=role.rsplit("/", 1)[1])["Role"]
    document = found["AssumeRolePolicyDocument"]
    document = document if isinstance(document, dict) else json.loads(document)
    [statement] = document["Statement"]
    assert statement["Effect"] == "Allow" and as_list(statement["Action"]) == ["sts:AssumeRole"]
    assert statement["Principal"] == {"Service": service}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_key_policy_grants_the_roles_nothing_the_identity_policies_do_not(stack):
    """moto evaluates no key policy. The key's policy delegates to IAM through the account root (AWS's default
    key policy, https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html) and names neither
    job role, so the identity policies tested above are the roles' only grant on the key."""
    kms = client("kms", stack["admin"])
    policy = json.loads(kms.get_key_policy(KeyId=stack["key_arn"], PolicyName="default")["Policy"])
    principals = [json.dumps(s.get("Principal")) for s in policy["Statement"]]
    assert any(f"arn:aws:iam::{ACCOUNT}:root" in p for p in principals)
    assert not any(
        role in p for p in principals for role in (BATCH_ROLE, STREAM_ROLE, QUALITY_ROLE, SAGEMAKER_ROLE)
    ), principals


def test_no_role_may_pass_a_role_or_act_on_iam_or_sts(stack):
    """moto never checks iam:PassRole (not an API call); no statement may grant it, nor any iam: or sts: action
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html)."""
    for role, policy in deployed_policies(stack).items():
        actions = [a for s in policy["Statement"] for a in as_list(s["Action"])]
        assert not [a for a in actions if a.split(":")[0] in ("iam", "sts") or a == "*"], (role, actions)


def test_conditions_and_resources_moto_does_not_evaluate_have_the_documented_form(stack):
    """moto's condition check knows StringEquals only (the Glue role's namespace condition is probed live);
    the SageMaker role's is StringLike on cloudwatch:namespace
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html).
    ECR requests are checked against "*" here; the image repository is AWS's registry's, in the ARN form of
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html.
    logs:AssociateKmsKey (no such call in moto) is what a security configuration's CloudWatch encryption needs
    (https://docs.aws.amazon.com/glue/latest/dg/encryption-security-configuration.html)."""
    import re

    policies = deployed_policies(stack)
    sagemaker = {s["Sid"]: s for s in policies[SAGEMAKER_ROLE.rsplit("/", 1)[1]]["Statement"]}
    assert sagemaker["PublishEndpointMetrics"]["Condition"] == {
        "StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}
    }
    [repository] = as_list(sagemaker["PullXgboostImage"]["Resource"])
    assert re.fullmatch(rf"arn:aws:ecr:{REGION}:\d{{12}}:repository/sagemaker-xgboost", repository), (
        repository
    )
    for role in (BATCH_ROLE, STREAM_ROLE, QUALITY_ROLE):
        glue = {s["Sid"]: s for s in policies[role.rsplit("/", 1)[1]]["Statement"]}
        assert "logs:AssociateKmsKey" in as_list(glue["WriteJobLogs"]["Action"]), role
        assert glue["PublishJobMetrics"]["Condition"] == {
            "StringEquals": {"cloudwatch:namespace": ["Glue", "ChurnPipeline"]}
        }, role
