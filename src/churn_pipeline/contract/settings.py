"""The job settings both Terraform and the jobs name: allowed values, defaults, and the one check of each.

Terraform's variable validations read the allowed values and patterns from the contract file generated from
this module; the Glue entry scripts check the arguments Terraform deploys with `check(...)` below. So a value
is accepted by `terraform plan` exactly when the job accepts it, and a refusal names the setting (its tfvars
key and its job argument) and what is allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCORING_MODES = ("embedded", "endpoint")
# The mode whose jobs call the SageMaker endpoint: only then do their roles get sagemaker:InvokeEndpoint.
ENDPOINT_SCORING_MODE = "endpoint"
# What the batch writer can write; the deployed jobs write Parquet only, the format the catalog tables read
# (a CSV table would need its own SerDe, quoting and timestamp format: not worth a second set of tables).
# Spark's processingTime trigger takes "<n> seconds" / "<n> minutes"; Glue's forEachBatch passes its
# windowSize straight to it (awslabs/aws-glue-libs, branch glue-5.1, awsglue/context.py, forEachBatch).
WINDOW_SIZE_PATTERN = r"^[1-9][0-9]* (second|seconds|minute|minutes)$"
# Glue's Kinesis connector: startingPosition "latest", "trim_horizon", "earliest" or a UTC timestamp
# yyyy-mm-ddTHH:MM:SSZ / with an offset (Glue 4.0 and later). The tfvars name the first two as Kinesis does.
# https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-connect-kinesis-home.html
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")
STARTING_TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$"
)
DEFAULT_THRESHOLD = 0.5
# A threshold of 0 or 1 would make every prediction the same: both are refused.
THRESHOLD_BOUNDS = (0.0, 1.0)  # exclusive
AWS_REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
# The quality job (churn_pipeline.quality): an outcome is joined to the latest score of its id at or before its
# known_at, at most horizon_days older (inclusive bounds: a day up to two years).
HORIZON_DAYS_BOUNDS = (1, 730)  # inclusive, whole days
# The model-quality alarm fires below the model's own test AUC minus this margin. 0 alarms on any fall below
# the test AUC; from 0.5 up the threshold would sit at or below a coin toss for any model: refused.
AUC_MARGIN_BOUNDS = (0.0, 0.5)  # low inclusive, high exclusive


class SettingError(ValueError):
    """A setting has a value the jobs cannot run with; the message names the setting and what is allowed."""


@dataclass(frozen=True)
class Setting:
    argument: str  # the Glue job argument (without "--")
    tfvars_key: str  # where an environment sets it (terraform/envs/<env>/terraform.tfvars)
    default: object
    allowed: str  # said in every refusal

    def refuse(self, value: object) -> SettingError:
        return SettingError(
            f"{self.tfvars_key} (job argument --{self.argument}) must be {self.allowed}, got {value!r}"
        )


SCORING_MODE = Setting(
    "scoring_mode", "settings.jobs.scoring.mode", "endpoint", "one of: " + ", ".join(SCORING_MODES)
)
THRESHOLD = Setting(
    "threshold",
    "settings.jobs.scoring.threshold",
    DEFAULT_THRESHOLD,
    f"a number strictly between {THRESHOLD_BOUNDS[0]:g} and {THRESHOLD_BOUNDS[1]:g}",
)
WINDOW_SIZE = Setting(
    "window_size",
    "settings.jobs.stream.window_size",
    "100 seconds",
    'a whole number of seconds or minutes, e.g. "100 seconds" or "2 minutes"',
)
STARTING_POSITION = Setting(
    "starting_position",
    "settings.jobs.stream.starting_position",
    "TRIM_HORIZON",
    "TRIM_HORIZON, LATEST or a UTC timestamp such as 2026-01-31T00:00:00Z",
)
HORIZON_DAYS = Setting(
    "horizon_days",
    "settings.jobs.quality.horizon_days",
    90,
    f"a whole number of days from {HORIZON_DAYS_BOUNDS[0]} to {HORIZON_DAYS_BOUNDS[1]}",
)
AUC_MARGIN = Setting(
    "auc_margin",
    "settings.jobs.quality.auc_margin",
    0.05,
    f"a number from {AUC_MARGIN_BOUNDS[0]:g} (inclusive) to {AUC_MARGIN_BOUNDS[1]:g} (exclusive)",
)
SETTINGS = (SCORING_MODE, THRESHOLD, WINDOW_SIZE, STARTING_POSITION, HORIZON_DAYS, AUC_MARGIN)


def check_scoring_mode(value: str) -> str:
    if value not in SCORING_MODES:
        raise SCORING_MODE.refuse(value)
    return value


def check_threshold(value: str | float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise THRESHOLD.refuse(value) from None
    low, high = THRESHOLD_BOUNDS
    if not low < number < high:  # NaN fails this too
        raise THRESHOLD.refuse(value)
    return number


def window_seconds(value: str) -> int:
    """ "100 seconds" -> 100, "2 minutes" -> 120."""
    if not isinstance(value, str) or not re.fullmatch(WINDOW_SIZE_PATTERN, value):
        raise WINDOW_SIZE.refuse(value)
    count, unit = value.split(" ")
    return int(count) * (60 if unit.startswith("minute") else 1)


def check_starting_position(value: str) -> str:
    if value in STARTING_POSITIONS or (
        isinstance(value, str) and re.fullmatch(STARTING_TIMESTAMP_PATTERN, value)
    ):
        return value
    raise STARTING_POSITION.refuse(value)


def check_horizon_days(value: str | int) -> int:
    """A whole number of days within HORIZON_DAYS_BOUNDS ("90" as Glue passes it, or 90)."""
    if isinstance(value, bool):
        raise HORIZON_DAYS.refuse(value)
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+", value.strip()):
            raise HORIZON_DAYS.refuse(value)
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:
        raise HORIZON_DAYS.refuse(value)
    low, high = HORIZON_DAYS_BOUNDS
    if not low <= number <= high:
        raise HORIZON_DAYS.refuse(value)
    return number


def check_auc_margin(value: str | float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AUC_MARGIN.refuse(value) from None
    low, high = AUC_MARGIN_BOUNDS
    if not low <= number < high:  # NaN fails this too
        raise AUC_MARGIN.refuse(value)
    return number


def auc_alarm_threshold(test_auc: float, margin: float) -> float:
    """Where the model-quality alarm fires: the model's own test AUC (metrics.json) minus the margin."""
    return float(test_auc) - check_auc_margin(margin)


def check_aws_region(value: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(AWS_REGION_PATTERN, value):
        raise SettingError(
            f"job argument --aws_region must be an AWS region name such as eu-west-1, got {value!r}"
        )
    return value
