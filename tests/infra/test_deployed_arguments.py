"""dev's and prod's Glue jobs and catalog tables as `terraform plan -json` of their own roots gives them, read
by the jobs' own code: the arguments go through each entry script's path (getResolvedOptions, then the
package's readers) into the job's config, Kinesis source options and forEachBatch options.

The roots are planned as they are (their module call, their terraform.tfvars) with one override file: a local
backend instead of S3, and STS at the session's moto server for the account id. Nothing is applied.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import botocore.session
import glue_fakes
import pytest

from churn_pipeline.batch import glue as batch_glue
from churn_pipeline.contract import metrics, outputs, settings
from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.quality import glue as quality_glue
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.scoring.endpoint_client import runtime_client
from churn_pipeline.streaming import glue as stream_glue
from churn_pipeline.streaming.handler import StreamTables
from churn_pipeline.tables import CatalogSettings, TableRef
from churn_tools.deploy import tables as deploy_tables

from .conftest import ARTIFACTS, ENVIRONMENTS, REPO_ROOT, load_hcl
from .test_static import JOB_SCRIPTS, is_glue_own

pytestmark = pytest.mark.slow(seconds=100)  # expected seconds: make test starts the longest units first

GLUE_JOB = 'module.pipeline.module.glue.aws_glue_job.this["{}"]'
TABLE = 'module.pipeline.module.glue.aws_glue_catalog_table.results["{}"]'
DATABASE = "module.pipeline.module.glue.aws_glue_catalog_database.this"
BUCKET = 'module.pipeline.module.storage.aws_s3_bucket.this["{}"]'
# The datasets Terraform registers as Parquet (Hive) tables; the stream's are Iceberg tables `make deploy` creates.
HIVE_DATASETS = tuple(d for d in outputs.DATASETS if d not in outputs.ICEBERG_DATASETS)
SOURCE_TABLE = "module.pipeline.module.glue.aws_glue_catalog_table.kinesis_source"
QUALITY_TRIGGER = "module.pipeline.module.glue.aws_glue_trigger.quality_schedule"
QUALITY_ALARM = "module.pipeline.module.monitoring.aws_cloudwatch_metric_alarm.model_quality"
JOB_MODULES = {"batch": batch_glue, "stream": stream_glue, "quality": quality_glue}


def tfvars(env: str) -> dict:
    return load_hcl(REPO_ROOT / "terraform" / "envs" / env / "terraform.tfvars")


def resolved(tmp_path, monkeypatch, job: str, default_arguments: dict, names: tuple[str, ...]) -> dict:
    """What the entry script's getResolvedOptions returns for a run of the job as deployed."""
    argv = glue_fakes.glue_argv(JOB_SCRIPTS[job], f"churn-{job}", default_arguments)
    with glue_fakes.fake_awsglue(tmp_path, monkeypatch, glue_fakes.BASE_FILES):
        from awsglue.utils import getResolvedOptions

        return getResolvedOptions(argv, ["JOB_NAME", *names])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_deployed_argument_is_one_the_entry_script_reads(planned, env):
    for job, module in JOB_MODULES.items():
        arguments = planned[env][GLUE_JOB.format(job)]["default_arguments"]
        assert {k.removeprefix("--") for k in arguments if not is_glue_own(k)} == set(module.JOB_ARGUMENTS), (
            job
        )
        # Glue reserves --mode (and --conf, --debug, --endpoint, --JOB_NAME) for itself:
        # https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-glue-arguments.html
        assert not {"--mode", "--conf", "--debug", "--endpoint", "--JOB_NAME"} & set(arguments), job


def glue_api_pattern(shape: str) -> str:
    """The pattern Glue's API gives a string shape (botocore's service model; botocore itself does not check it)."""
    return botocore.session.get_session().get_service_model("glue").shape_for(shape).metadata["pattern"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_streaming_job_restarts_in_a_maintenance_window_glue_takes(planned, env):
    # Without one Glue restarts the run 7 days after it started, at whatever hour that was:
    # https://docs.aws.amazon.com/glue/latest/dg/glue-streaming-maintenance.html
    window = planned[env][GLUE_JOB.format("stream")]["maintenance_window"]
    assert window is not None and re.fullmatch(glue_api_pattern("MaintenanceWindow"), window), window
    assert planned[env][GLUE_JOB.format("batch")]["maintenance_window"] is None


# Glue parameters that do nothing for these jobs. Continuous logging is a Glue 4.0-and-earlier feature; from 5.0 on
# every job logs in real time (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging-enable.html).
# The catalog as Spark's Hive metastore serves spark.sql/spark.table over catalog tables, which the jobs never use
# (they read S3 paths and the stream by ARN), and it asks first for the `default` database, which the role may
# not read.
PRE_5_ONLY = {"--enable-continuous-cloudwatch-log"}
HIVE_CATALOG_USES = ("enableHiveSupport", "spark.table(", "spark.catalog", "saveAsTable", "from_catalog")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_no_job_gets_a_glue_parameter_it_has_no_use_for(planned, env):
    sources = [*(REPO_ROOT / "src" / "churn_pipeline").rglob("*.py"), *(REPO_ROOT / "jobs").glob("*.py")]
    catalog_users = [str(p) for p in sources if any(use in p.read_text() for use in HIVE_CATALOG_USES)]
    for job in JOB_MODULES:
        planned_job = planned[env][GLUE_JOB.format(job)]
        arguments = planned_job["default_arguments"]
        assert float(planned_job["glue_version"]) >= 5.0, job
        assert not PRE_5_ONLY & set(arguments), (
            f"{job} (Glue {planned_job['glue_version']}): {PRE_5_ONLY & set(arguments)}"
        )
        assert catalog_users or "--enable-glue-datacatalog" not in arguments, (
            f"{job}: --enable-glue-datacatalog, though no job code reads a catalog table through Spark"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_batch_job_reads_its_planned_arguments_into_its_config(planned, env, tmp_path, monkeypatch):
    arguments = planned[env][GLUE_JOB.format("batch")]["default_arguments"]
    config = batch_glue.config_from_glue_args(
        resolved(tmp_path, monkeypatch, "batch", arguments, batch_glue.JOB_ARGUMENTS)
    )
    scoring = tfvars(env)["settings"]["jobs"]["scoring"]
    assert (config.scoring.mode, config.scoring.threshold, config.output_format) == (
        scoring["mode"], scoring["threshold"], scoring["output_format"]
    )  # fmt: skip
    assert (
        config.scoring.region == tfvars(env)["region"]
        and config.scoring.endpoint_name == f"churn-{env}-churn"
    )
    tables = {d.table: planned[env][TABLE.format(d.table)] for d in HIVE_DATASETS}
    assert (config.output_path, config.rejects_path, config.failed_path, config.drift_path) == tuple(
        tables[name]["storage_descriptor"][0]["location"]
        for name in ("batch_predictions", "batch_rejects", "batch_failed", "batch_drift")
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_streaming_job_reads_its_planned_arguments_into_source_handler_and_trigger(
    planned, env, tmp_path, monkeypatch
):
    arguments = planned[env][GLUE_JOB.format("stream")]["default_arguments"]
    args = resolved(tmp_path, monkeypatch, "stream", arguments, stream_glue.JOB_ARGUMENTS)
    stream = tfvars(env)["settings"]["jobs"]["stream"]
    region = tfvars(env)["region"]
    # What the Kinesis connector and forEachBatch are given: the window as Spark's trigger takes it.
    source = stream_glue.kinesis_connection_options(args, tutorial())
    assert source["startingPosition"] == stream["starting_position"].lower()
    assert source["streamARN"] == f"arn:aws:kinesis:{region}:123456789012:stream/churn-{env}-customer-churn"
    options = stream_glue.for_each_batch_options(args)
    assert options == {
        "windowSize": f"{settings.window_seconds(stream['window_size'])} seconds",
        "checkpointLocation": f"s3://churn-{env}-data-123456789012/checkpoints/stream-scoring/",
    }
    # A Glue worker's environment names no region: every client the handler makes takes the job's.
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    handler = stream_glue.handler_from_args(args)
    scoring = tfvars(env)["settings"]["jobs"]["scoring"]
    assert handler.scoring == ScoringConfig(
        mode=scoring["mode"], model_uri=arguments["--model_uri"], endpoint_name=f"churn-{env}-churn",
        threshold=scoring["threshold"], region=region, storage_level="MEMORY_AND_DISK",
    )  # fmt: skip
    clients = {
        "metrics": handler.on_batch.client,
        "scoring": runtime_client(1, 1, 1.0, 1.0, handler.scoring.region),
        "catalog": handler.catalog.glue,
    }
    assert {name: c.meta.region_name for name, c in clients.items()} == dict.fromkeys(clients, region)
    # The Iceberg tables it commits to: the Glue catalog of its region, the module's database, and the warehouse
    # where the deploy step creates them (churn_tools.deploy.tables, from the planned results bucket), so each
    # table is where the deploy step put it; the drift table too (its alarm watches the job's drift metric).
    assert handler.tables == StreamTables(
        CatalogSettings("glue", deploy_tables.warehouse(planned_buckets(planned[env])), region),
        planned[env][DATABASE]["name"],
        drift=True,
    )


def planned_buckets(plan: dict) -> dict[str, str]:
    """{purpose: bucket name} as planned."""
    return {purpose: plan[BUCKET.format(purpose)]["bucket"] for purpose in ("data", "artifacts", "results")}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_quality_job_reads_its_planned_arguments_into_its_config(planned, env, tmp_path, monkeypatch):
    """The quality job as planned, through its entry script's getResolvedOptions and its own reader: it reads
    both scoring jobs' tables where they write them, outcomes/ of the data bucket, writes where its catalog
    tables read, with the scorers' threshold and the contract's defaults for its own settings."""
    arguments = planned[env][GLUE_JOB.format("quality")]["default_arguments"]
    config = quality_glue.config_from_glue_args(
        resolved(tmp_path, monkeypatch, "quality", arguments, quality_glue.JOB_ARGUMENTS)
    )
    location = {d.table: planned[env][TABLE.format(d.table)]["storage_descriptor"][0]["location"]
                for d in HIVE_DATASETS}  # fmt: skip
    # The stream's scores: its scored Iceberg table, as the streaming job deployed beside it commits it.
    stream = stream_glue.handler_from_args(
        resolved(tmp_path, monkeypatch, "stream", planned[env][GLUE_JOB.format("stream")]["default_arguments"],
                 stream_glue.JOB_ARGUMENTS)
    )  # fmt: skip
    assert (config.batch_scored_paths, config.stream_scored_tables) == (
        (location["batch_predictions"],),
        (TableRef(stream.tables.catalog, stream.tables.identifier(outputs.STREAM_PREDICTIONS)),),
    )  # fmt: skip
    # The scorers' arguments, as the scoring jobs read them: the same model, threshold and region.
    batch = batch_glue.config_from_glue_args(
        {
            k.removeprefix("--"): v
            for k, v in planned[env][GLUE_JOB.format("batch")]["default_arguments"].items()
        }
    )
    assert (config.model_uri, config.threshold, config.region) == (
        batch.scoring.model_uri, batch.scoring.threshold, batch.scoring.region
    )  # fmt: skip
    assert (config.quality_path, config.calibration_path, config.rejects_path) == tuple(
        location[d.table] for d in (outputs.MODEL_QUALITY, outputs.MODEL_CALIBRATION, outputs.OUTCOME_REJECTS)
    )
    buckets = {"data": f"churn-{env}-data-123456789012", "results": f"churn-{env}-results-123456789012"}
    assert (config.outcomes_path, config.training_set_path) == tuple(
        f"s3://{buckets[place.bucket]}/{place.prefix}"
        for place in (outputs.OUTCOMES, outputs.NEXT_TRAINING_SET)
    )
    # The tfvars leave both unset: the contract's defaults reach the job.
    assert (config.horizon_days, config.auc_margin) == (
        settings.HORIZON_DAYS.default,
        settings.AUC_MARGIN.default,
    )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_quality_job_runs_daily_on_the_batch_job_s_runtime(planned, env):
    quality, batch = planned[env][GLUE_JOB.format("quality")], planned[env][GLUE_JOB.format("batch")]
    assert (quality["command"][0]["name"], quality["glue_version"]) == ("glueetl", batch["glue_version"])
    assert (
        quality["default_arguments"]["--additional-python-modules"]
        == batch["default_arguments"]["--additional-python-modules"]
    )
    trigger = planned[env][QUALITY_TRIGGER]
    assert (trigger["type"], trigger["enabled"], trigger["schedule"]) == (
        "SCHEDULED", True, tfvars(env)["settings"]["jobs"]["quality"]["schedule"]
    )  # fmt: skip
    assert [action["job_name"] for action in trigger["actions"]] == [quality["name"]]
    # (Its role's ARN is known after apply only: modules/glue/tests and the local deploy check it.)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_quality_alarm_fires_below_the_deployed_model_s_test_auc_minus_the_job_s_margin(
    planned, env, model_dir, tmp_path, monkeypatch
):
    """The threshold in the plan is the packaged model's test AUC (its metrics.json, via the packaging step's
    variables) minus the margin the quality job itself reads from its planned arguments, computed as the job
    computes it; the alarm reads the metric the job publishes, under the job's name."""
    alarm = planned[env][QUALITY_ALARM]
    quality = planned[env][GLUE_JOB.format("quality")]
    config = quality_glue.config_from_glue_args(
        resolved(tmp_path, monkeypatch, "quality", quality["default_arguments"], quality_glue.JOB_ARGUMENTS)
    )
    test_auc = json.loads((model_dir / "metrics.json").read_text())["test"]["auc"]
    # Terraform subtracts in decimal, Python in binary floating point: equal to within rounding.
    assert alarm["threshold"] == pytest.approx(
        settings.auc_alarm_threshold(test_auc, config.auc_margin), abs=1e-12
    )
    assert (alarm["namespace"], alarm["metric_name"], alarm["comparison_operator"]) == (
        metrics.NAMESPACE, metrics.MODEL_AUC, "LessThanThreshold"
    )  # fmt: skip
    # The version the packaging step's `artifacts` variable carried into the plan (the local deploy test checks
    # it against the version the scorers write for a real model).
    assert alarm["dimensions"] == {
        metrics.DIMENSION: quality["name"],
        metrics.MODEL_VERSION_DIMENSION: ARTIFACTS["model_version"],
    }


# dev's and prod's plans for a model of the tutorial's description, and dev's for a model of a second shape (one
# more plan: the roots differ in settings, not in tables).
@pytest.fixture(params=[("dev", "tutorial"), ("prod", "tutorial"), ("dev", "second")], ids="-".join)
def planned_for_a_model(request, planned, env_plans, second_description):
    """(env, the deployed model's description, the root's plan for that model)."""
    env, which = request.param
    description = second_description if which == "second" else tutorial()
    return env, description, env_plans.plan(env, description)


def test_every_catalog_table_has_its_writer_s_schema(planned_for_a_model):
    """Terraform's Parquet tables (the Iceberg ones are the deploy step's: test_local_deploy checks them)."""
    env, description, plan = planned_for_a_model
    assert not [d.table for d in outputs.ICEBERG_DATASETS if TABLE.format(d.table) in plan]
    for dataset in HIVE_DATASETS:
        table = plan[TABLE.format(dataset.table)]
        columns = [(c["name"], c["type"]) for c in table["storage_descriptor"][0]["columns"]]
        # The writer's schema for the model deployed: its data's columns first where the writer puts them.
        expected = dataset.for_data(description).catalog_columns()
        assert columns == [(c["name"], c["type"]) for c in expected], dataset.table
        # Not partitioned in the catalog: the batch and quality jobs write a batch_id=<run> folder per run.
        assert not table.get("partition_keys"), dataset.table
        assert "has_encrypted_data" not in table["parameters"], dataset.table
    # The Kinesis source table describes the records a producer sends for that model.
    source = plan[SOURCE_TABLE]["storage_descriptor"][0]["columns"]
    assert [(c["name"], c["type"]) for c in source] == [
        (c["name"], c["type"]) for c in outputs.catalog_fields(outputs.stream_record_fields(description))
    ]


def test_the_saved_queries_are_the_ones_the_demo_runs_for_the_deployed_model(planned_for_a_model):
    """Athena's named queries as planned (the contract's and the model's data's, rendered by Terraform) are the
    SQL churn_tools.analytics renders for DuckDB for that model's description, query for query."""
    from churn_tools import analytics

    env, description, plan = planned_for_a_model
    prefix = 'module.pipeline.module.analytics.aws_athena_named_query.this["'
    saved = {
        address.removeprefix(prefix).removesuffix('"]'): values
        for address, values in plan.items()
        if address.startswith(prefix)
    }
    database = next(iter(saved.values()))["database"]
    expected = {q.name: q for q in analytics.load_named_queries(database, analytics.TABLES, description)}
    assert set(saved) == set(expected)
    assert {name: (v["query"], v["description"]) for name, v in saved.items()} == {
        name: (q.sql, q.description) for name, q in expected.items()
    }
    by_feature = [name for name in saved if name.startswith("churn_rate_by_")]
    assert len(by_feature) == len(description.categorical_features)  # one per categorical feature of the data


# ---------------------------------------------------------------- settings: Terraform accepts what the jobs accept
# Every job setting of the README's configuration table, set to each allowed value and to refused ones.
ROUND_TRIP_VALUES = {
    settings.SCORING_MODE: [*settings.SCORING_MODES, "local", "EMBEDDED"],
    settings.THRESHOLD: [0.01, 0.5, 0.99, 0, 1, 1.5],
    settings.OUTPUT_FORMAT: [*settings.DEPLOYED_OUTPUT_FORMATS, "csv"],
    settings.WINDOW_SIZE: ["100 seconds", "1 second", "2 minutes", "100", "0 seconds", "1 hour"],
    settings.STARTING_POSITION: [
        *settings.STARTING_POSITIONS, "2026-01-31T00:00:00Z", "2026-01-31T08:00:00-04:00", "EARLIEST",
        "trim_horizon", "yesterday",
    ],
    settings.HORIZON_DAYS: [*settings.HORIZON_DAYS_BOUNDS, 90, 0, settings.HORIZON_DAYS_BOUNDS[1] + 1, 1.5, -3],
    settings.AUC_MARGIN: [*settings.AUC_MARGIN_BOUNDS, 0.05, 0.499, -0.01, 1],
}  # fmt: skip
GLUE_VARIABLES = {"scoring": "scoring", "stream": "stream_job", "quality": "quality_job"}
CASES = [(setting, value) for setting, values in ROUND_TRIP_VALUES.items() for value in values]


def hcl(value) -> str:
    return json.dumps(value)


def terraform_verdicts(tf_env, tree) -> dict[str, tuple[bool, str]]:
    """{run name: (accepted, error text)} of a `terraform plan` of modules/glue per case (mock provider).

    modules/glue holds the validations; modules/pipeline hands it settings.jobs.scoring and .stream unchanged
    (same types), and planning the glue module alone takes a second a case instead of four.
    """
    module = tree / "terraform" / "modules" / "glue"
    existing = (REPO_ROOT / "terraform/modules/glue/tests/glue.tftest.hcl").read_text()
    header = existing[: existing.index("\nrun ")]  # its mock_provider and variables blocks
    tests = module / "tests"
    for old in tests.glob("*.tftest.hcl"):
        old.unlink()
    # One file per case: after a refused value Terraform skips the rest of a file's runs.
    for index, (setting, value) in enumerate(CASES):
        group, name = setting.tfvars_key.removeprefix("settings.jobs.").split(".")
        variable = GLUE_VARIABLES[group]  # what modules/pipeline passes settings.jobs.<group> as
        (tests / f"case_{index}.tftest.hcl").write_text(
            f'{header}\nrun "case_{index}" {{\n  command = plan\n  variables {{\n'
            f"    {variable} = {{ {name} = {hcl(value)} }}\n  }}\n}}\n"
        )
    subprocess.run(
        ["terraform", f"-chdir={module}", "init", "-backend=false", "-input=false"],
        env=tf_env,
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        ["terraform", f"-chdir={module}", "test", "-json"], env=tf_env, capture_output=True, text=True
    )
    verdicts: dict[str, list] = {}
    for line in result.stdout.splitlines():
        message = json.loads(line)
        run = message.get("@testrun")
        if not run:
            continue
        entry = verdicts.setdefault(run, [None, ""])
        if message["type"] == "test_run" and message["test_run"].get("status"):
            status = message["test_run"]["status"]
            assert status in ("pass", "fail", "error"), f"{run} was not evaluated: {status}"
            entry[0] = status == "pass"
        if message["type"] == "diagnostic":
            entry[1] += f"{message['diagnostic']['summary']}: {message['diagnostic'].get('detail', '')}\n"
    return {run: (accepted, text) for run, (accepted, text) in verdicts.items()}


def terraform_tostring(value) -> str:
    """Terraform's tostring() of a tfvars value: 0.5 -> "0.5", 730 -> "730" (no ".0"), "100 seconds" as is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def job_verdict(planned, setting, value) -> tuple[bool, str]:
    """Whether the Glue jobs' own readers accept the value as Terraform would deploy it (dev's arguments else)."""
    as_deployed = terraform_tostring(value)
    try:
        for job in JOB_MODULES:
            args = {
                k.removeprefix("--"): v
                for k, v in planned["dev"][GLUE_JOB.format(job)]["default_arguments"].items()
            }
            if setting.argument not in args:
                continue
            args = {**args, setting.argument: as_deployed, "JOB_NAME": f"churn-{job}"}
            if job == "batch":
                batch_glue.config_from_glue_args(args)
            elif job == "quality":
                quality_glue.config_from_glue_args(args)
            else:
                stream_glue.handler_from_args(args)
                stream_glue.kinesis_connection_options(args, tutorial())
                stream_glue.for_each_batch_options(args)
    except ValueError as exc:
        return False, str(exc)
    return True, ""


def test_terraform_accepts_a_setting_exactly_when_the_jobs_do_and_both_say_what_is_allowed(
    planned, tf_env, tmp_path_factory
):
    tree = tmp_path_factory.mktemp("round-trip")
    shutil.copytree(
        REPO_ROOT / "terraform", tree / "terraform", ignore=shutil.ignore_patterns(".terraform", "*.tfstate*")
    )
    terraform = terraform_verdicts(tf_env, tree)
    assert len(terraform) == len(CASES), terraform
    table = []
    for index, (setting, value) in enumerate(CASES):
        tf_accepts, tf_error = terraform[f"case_{index}"]
        job_accepts, job_error = job_verdict(planned, setting, value)
        table.append((setting.tfvars_key, value, tf_accepts, job_accepts))
        assert tf_accepts == job_accepts, (setting.tfvars_key, value, tf_error, job_error)
        for error in [] if tf_accepts else [tf_error, job_error]:
            assert setting.tfvars_key in error and setting.allowed in " ".join(error.split()), (value, error)
    print("\n".join(f"{key} = {value!r}: terraform {tf}, jobs {job}" for key, value, tf, job in table))
    # Both verdicts occur for every setting: the cases test acceptance and refusal.
    for setting in ROUND_TRIP_VALUES:
        assert {row[2] for row in table if row[0] == setting.tfvars_key} == {True, False}, setting.tfvars_key


def test_each_orphan_file_optimizer_cleans_the_location_its_table_is_written_to(planned_for_a_model):
    """Glue's orphan-file deletion deletes what no snapshot references under the location it is given: that must
    be the table's own location as the jobs and the deploy step compute it (tables.CatalogSettings.table_location)
    from the streaming job's planned --table_warehouse and --table_database, or it cleans the wrong prefix."""
    from churn_pipeline.tables import CatalogSettings

    env, _, plan = planned_for_a_model
    arguments = plan[GLUE_JOB.format("stream")]["default_arguments"]
    settings = CatalogSettings("glue", arguments["--table_warehouse"], arguments["--aws_region"])
    database = arguments["--table_database"]
    for dataset in outputs.ICEBERG_DATASETS:
        optimizer = plan[
            f'module.pipeline.module.glue.aws_glue_catalog_table_optimizer.this["{dataset.table}.orphan_file_deletion"]'
        ]
        assert (optimizer["database_name"], optimizer["table_name"]) == (database, dataset.table), env
        orphan = optimizer["configuration"][0]["orphan_file_deletion_configuration"][0][
            "iceberg_configuration"
        ][0]
        assert orphan["location"] == settings.table_location(database, dataset.table), (env, dataset.table)
