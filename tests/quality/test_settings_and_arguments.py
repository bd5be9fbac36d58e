"""The quality job's settings and Glue arguments: the values Terraform deploys (all strings) become the run's
config; a value outside the contract's bounds is refused naming its tfvars key and job argument."""

from __future__ import annotations

import pytest

from churn_pipeline.contract import outputs, settings
from churn_pipeline.quality.__main__ import config_from_args, main, parse_args
from churn_pipeline.quality.glue import JOB_ARGUMENTS, config_from_glue_args
from churn_pipeline.tables import CatalogSettings, TableRef

ARGUMENTS = {
    "JOB_NAME": "churn-dev-quality",
    "outcomes_path": "s3://data/outcomes/",
    "table_warehouse": "s3://results/tables",
    "table_database": "churn_dev",
    "model_uri": "s3://artifacts/models/abc/",
    "threshold": "0.4",
    "horizon_days": "30",
    "auc_margin": "0.1",
    "quality_path": "s3://results/quality/metrics/",
    "calibration_path": "s3://results/quality/calibration/",
    "outcome_rejects_path": "s3://results/quality/outcome-rejects/",
    "training_set_path": "s3://results/quality/training-set/",
    "aws_region": "eu-west-1",
}


def test_every_deployed_argument_reaches_the_config():
    assert set(JOB_ARGUMENTS) == set(ARGUMENTS) - {"JOB_NAME"}
    config = config_from_glue_args(ARGUMENTS)
    catalog = CatalogSettings("glue", "s3://results/tables", "eu-west-1")
    assert (config.batch_scored_tables, config.stream_scored_tables) == (
        (TableRef(catalog, f"churn_dev.{outputs.BATCH_PREDICTIONS.table}"),),
        (TableRef(catalog, f"churn_dev.{outputs.STREAM_PREDICTIONS.table}"),),
    )
    assert (config.threshold, config.horizon_days, config.auc_margin) == (0.4, 30, 0.1)
    assert (config.quality_path, config.calibration_path, config.rejects_path, config.training_set_path) == (
        "s3://results/quality/metrics/", "s3://results/quality/calibration/",
        "s3://results/quality/outcome-rejects/", "s3://results/quality/training-set/",
    )  # fmt: skip
    assert (config.region, config.metrics_job_name, config.model_uri) == (
        "eu-west-1", "churn-dev-quality", "s3://artifacts/models/abc/"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argument", "value"),
    [("horizon_days", "0"), ("horizon_days", "731"), ("horizon_days", "7.5"), ("horizon_days", "-3"),
     ("auc_margin", "0.5"), ("auc_margin", "-0.01"), ("auc_margin", "nan"), ("auc_margin", "x")],
)  # fmt: skip
def test_a_setting_outside_its_bounds_is_refused_by_name(argument, value):
    setting = {"horizon_days": settings.HORIZON_DAYS, "auc_margin": settings.AUC_MARGIN}[argument]
    with pytest.raises(settings.SettingError) as refused:
        config_from_glue_args({**ARGUMENTS, argument: value})
    assert f"{setting.tfvars_key} (job argument --{argument})" in str(refused.value)


@pytest.mark.parametrize(("argument", "value"), [("horizon_days", "1"), ("horizon_days", "730"),
                                                 ("auc_margin", "0"), ("auc_margin", "0.49")])  # fmt: skip
def test_the_bounds_themselves(argument, value):
    config = config_from_glue_args({**ARGUMENTS, argument: value})
    assert getattr(config, argument) == float(value)


def test_the_alarm_threshold_is_the_test_auc_less_the_margin():
    assert settings.auc_alarm_threshold(0.93, 0.05) == pytest.approx(0.88)
    with pytest.raises(settings.SettingError):
        settings.auc_alarm_threshold(0.93, 0.7)


def test_the_cli_takes_batch_and_stream_tables_each_repeatable(tmp_path):
    warehouse = str(tmp_path / "warehouse")
    args = parse_args(["--outcomes", "o.csv", "--model-uri", "m", "--out", str(tmp_path / "out"),
                       "--batch-table", "sql", warehouse, "batch.batch_predictions",
                       "--batch-table", "glue", "s3://results/tables", "churn_dev.batch_predictions",
                       "--stream-table", "sql", warehouse, "stream.stream_predictions",
                       "--region", "eu-west-1"])  # fmt: skip
    config = config_from_args(args)
    assert config.batch_scored_tables == (
        TableRef(CatalogSettings("sql", warehouse, "eu-west-1"), "batch.batch_predictions"),
        TableRef(CatalogSettings("glue", "s3://results/tables", "eu-west-1"), "churn_dev.batch_predictions"),
    )
    assert config.stream_scored_tables == (
        TableRef(CatalogSettings("sql", warehouse, "eu-west-1"), "stream.stream_predictions"),
    )


@pytest.mark.parametrize(
    ("tables", "named"),
    [([], "--batch-table / --stream-table"), (["--batch-table", "sql", "w", "batch_predictions"], "database.table"),
     (["--batch-table", "hive", "w", "b.t"], "catalog kind")],
)  # fmt: skip
def test_the_cli_refuses_no_table_or_a_bad_one_by_name(tmp_path, capsys, tables, named):
    argv = ["--outcomes", "o.csv", "--model-uri", "m", "--out", str(tmp_path / "out"), *tables]
    assert main(argv) == 2
    assert named in capsys.readouterr().err
