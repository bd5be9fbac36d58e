"""The quality job's settings and Glue arguments: the values Terraform deploys (all strings) become the run's
config; a value outside the contract's bounds is refused naming its tfvars key and job argument."""

from __future__ import annotations

import pytest

from churn_pipeline.contract import settings
from churn_pipeline.quality.glue import JOB_ARGUMENTS, config_from_glue_args
from churn_pipeline.tables import CatalogSettings, TableRef

ARGUMENTS = {
    "JOB_NAME": "churn-dev-quality",
    "outcomes_path": "s3://data/outcomes/",
    "batch_scored_path": "s3://results/batch/predictions/",
    "stream_table_warehouse": "s3://results/tables",
    "stream_table_database": "churn_dev",
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
    assert (config.batch_scored_paths, config.stream_scored_tables) == (
        ("s3://results/batch/predictions/",),
        (TableRef(CatalogSettings("glue", "s3://results/tables", "eu-west-1"), "churn_dev.stream_predictions"),),
    )  # fmt: skip
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
