"""Monthly cost estimate of a plan's billable resources, before and after, from the price table in this package.

An estimate: list prices of one region and date (the table says which), fixed hours per month, and for batch
jobs an assumed run length. Usage-priced items (S3 GB stored, Kinesis GB, serverless inference) are shown
as unit prices, not added to the totals.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from churn_tools.plan_review.plan import Plan, ResourceChange

# Package data of this package (importlib.resources), so an installed wheel has the tables too.
PRICES_DIR = resources.files(__package__)
DEFAULT_REGION = "us-east-1"
DAYS_PER_MONTH = 365 / 12
DEFAULT_BATCH_RUN_MINUTES = 15


class PriceError(KeyError):
    pass


@dataclass(frozen=True)
class LineItem:
    address: str
    what: str
    low: float  # monthly USD at the low end (autoscaling minimum)
    high: float  # monthly USD at the high end (autoscaling maximum)


@dataclass
class Estimate:
    prices: dict[str, Any]
    before: list[LineItem] = field(default_factory=list)
    after: list[LineItem] = field(default_factory=list)
    usage_priced: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @staticmethod
    def total(items: list[LineItem]) -> tuple[float, float]:
        return round(sum(i.low for i in items), 2), round(sum(i.high for i in items), 2)

    @property
    def delta(self) -> tuple[float, float]:
        (before_low, before_high), (after_low, after_high) = self.total(self.before), self.total(self.after)
        return round(after_low - before_low, 2), round(after_high - before_high, 2)


def load_prices(
    region: str | None = None, path: Path | Traversable | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The price table for `region` (or the file at `path`); falls back to us-east-1 with a warning."""
    warnings = []
    if path is None:
        path = PRICES_DIR / f"prices_{region or DEFAULT_REGION}.json"
        if not path.is_file():
            warnings.append(
                f"no price table for {region} in this repository: figures are {DEFAULT_REGION} list prices "
                f"(add src/churn_tools/plan_review/prices_{region}.json for exact regional prices)"
            )
            path = PRICES_DIR / f"prices_{DEFAULT_REGION}.json"
    prices = json.loads(path.read_text())
    for required in ("region", "as_of", "currency", "hours_per_month", "sources"):
        if required not in prices:
            raise PriceError(f"price table {path} has no {required!r}")
    return prices, warnings


def _price(prices: dict[str, Any], key: str, item: str | None = None) -> float:
    try:
        value = prices[key] if item is None else prices[key][item]
    except KeyError:
        where = key if item is None else f"{key}[{item!r}]"
        raise PriceError(f"the price table ({prices['region']}, {prices['as_of']}) has no {where}") from None
    return float(value)


# ---- schedules -----------------------------------------------------------------------------------------

_FIELD_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (1, 7)]
_NAMES = {name: i + 1 for i, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_NAMES |= {name: i + 1 for i, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}


def _field_count(text: str, low: int, high: int) -> int:
    """How many values a cron field selects: `*`, `?`, lists, ranges, steps, names; L/W/# count as one."""
    values: set[int] = set()
    for part in text.split(","):
        part = part.upper()
        if re.search(r"[LW#]", part):
            values.add(-len(values) - 1)
            continue
        spec, _, step = part.partition("/")
        if spec in ("*", "?"):
            start, end = low, high
        elif "-" in spec:
            first, last = spec.split("-", 1)
            start, end = int(_NAMES.get(first, first)), int(_NAMES.get(last, last))
        else:
            start = int(_NAMES.get(spec, spec))
            end = high if step else start
        values.update(range(start, end + 1, int(step) if step else 1))
    return len(values)


def runs_per_month(schedule: str) -> float:
    """Runs a month of a Glue/EventBridge schedule: `cron(min hour dom month dow year)` or `rate(n unit)`."""
    if match := re.fullmatch(r"\s*rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)\s*", schedule):
        every, unit = int(match.group(1)), match.group(2).rstrip("s")
        per_day = {"minute": 24 * 60, "hour": 24, "day": 1}[unit] / every
        return per_day * DAYS_PER_MONTH
    match = re.fullmatch(r"\s*cron\((.+)\)\s*", schedule)
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        raise ValueError(
            f"cannot read schedule {schedule!r}: expected cron(min hour dom month dow year) or rate(n unit)"
        )
    minute, hour, dom, month, dow = (
        _field_count(text, *_FIELD_RANGES[i]) for i, text in enumerate(fields[:5])
    )
    if fields[2] not in ("*", "?"):
        days = dom
    elif fields[4] not in ("*", "?"):
        days = dow * DAYS_PER_MONTH / 7
    else:
        days = DAYS_PER_MONTH
    return minute * hour * days * month / 12


# ---- line items ----------------------------------------------------------------------------------------


def _side(change: ResourceChange, side: str) -> dict[str, Any] | None:
    return change.before if side == "before" else change.after


def _present(plan: Plan, side: str, type_: str) -> list[tuple[ResourceChange, dict[str, Any]]]:
    found = []
    for change in plan.changes:
        values = _side(change, side)
        if change.type == type_ and values is not None:
            found.append((change, values))
    return found


def _first(block: Any) -> dict[str, Any]:
    return block[0] if isinstance(block, list) and block else {}


def _endpoint_items(plan: Plan, side: str, prices: dict[str, Any], usage: list[str]) -> list[LineItem]:
    """Instance-hours of each endpoint's variants; autoscaling in the same module sets the low/high counts."""
    items = []
    endpoints = {change.module for change, _ in _present(plan, side, "aws_sagemaker_endpoint")}
    scaling = {
        change.module: values
        for change, values in _present(plan, side, "aws_appautoscaling_target")
        if values.get("service_namespace") == "sagemaker"
    }
    hours = _price(prices, "hours_per_month")
    for change, values in _present(plan, side, "aws_sagemaker_endpoint_configuration"):
        if change.module not in endpoints:
            continue  # a configuration no endpoint uses costs nothing
        for variant in values.get("production_variants") or []:
            if _first(variant.get("serverless_config")):
                usage.append(
                    f"`{change.address}`: serverless inference, "
                    f"${_price(prices, 'sagemaker_serverless_gb_second')} per GB-second of compute used"
                )
                continue
            instance_type = variant.get("instance_type")
            count = variant.get("initial_instance_count") or 1
            target = scaling.get(change.module)
            low, high = (target["min_capacity"], target["max_capacity"]) if target else (count, count)
            rate = _price(prices, "sagemaker_realtime_instance_hour", instance_type)
            span = f"{low}" if low == high else f"{low}-{high} (autoscaling)"
            items.append(
                LineItem(
                    change.address,
                    f"SageMaker endpoint, {instance_type} x {span} instances x {hours:g} h x ${rate}/h",
                    round(low * rate * hours, 2),
                    round(high * rate * hours, 2),
                )
            )
    return items


def _glue_dpus(values: dict[str, Any], prices: dict[str, Any]) -> float:
    if values.get("worker_type"):
        return values.get("number_of_workers", 0) * _price(
            prices, "glue_dpu_per_worker", values["worker_type"]
        )
    return float(values.get("max_capacity") or 0)


def _glue_items(
    plan: Plan, side: str, prices: dict[str, Any], batch_minutes: float, usage: list[str]
) -> list[LineItem]:
    items = []
    rate = _price(prices, "glue_dpu_hour")
    hours = _price(prices, "hours_per_month")
    schedules: dict[str, list[str]] = {}
    for _, trigger in _present(plan, side, "aws_glue_trigger"):
        if trigger.get("type") == "SCHEDULED" and trigger.get("enabled", True) is not False:
            for action in trigger.get("actions") or []:
                schedules.setdefault(action.get("job_name"), []).append(trigger["schedule"])
    for change, job in _present(plan, side, "aws_glue_job"):
        dpus = _glue_dpus(job, prices)
        command = _first(job.get("command")).get("name")
        if command == "gluestreaming":
            cost = round(dpus * hours * rate, 2)
            items.append(
                LineItem(
                    change.address,
                    f"Glue streaming job, always on: {dpus:g} DPU x {hours:g} h x ${rate}/DPU-h",
                    cost,
                    cost,
                )
            )
            continue
        billed_minutes = max(batch_minutes, _price(prices, "glue_minimum_billed_minutes"))
        per_run = dpus * billed_minutes / 60 * rate
        job_schedules = schedules.get(job.get("name"), [])
        if not job_schedules:
            usage.append(
                f"`{change.address}`: Glue batch job run on demand, ${per_run:.2f} per {billed_minutes:g}-minute run "
                f"({dpus:g} DPU)"
            )
            continue
        runs = sum(runs_per_month(schedule) for schedule in job_schedules)
        cost = round(runs * per_run, 2)
        items.append(
            LineItem(
                change.address,
                f"Glue batch job, {runs:.1f} runs/month ({', '.join(job_schedules)}) x {dpus:g} DPU x "
                f"{billed_minutes:g} min (assumed run length) x ${rate}/DPU-h",
                cost,
                cost,
            )
        )
    return items


def _kinesis_items(plan: Plan, side: str, prices: dict[str, Any], usage: list[str]) -> list[LineItem]:
    items = []
    hours = _price(prices, "hours_per_month")
    for change, stream in _present(plan, side, "aws_kinesis_stream"):
        mode = _first(stream.get("stream_mode_details")).get("stream_mode", "PROVISIONED")
        if mode == "ON_DEMAND":
            rate = _price(prices, "kinesis_on_demand_stream_hour")
            cost = round(hours * rate, 2)
            items.append(
                LineItem(
                    change.address, f"Kinesis on-demand stream, {hours:g} h x ${rate}/stream-h", cost, cost
                )
            )
            usage.append(
                f"`{change.address}`: Kinesis on-demand data, ${_price(prices, 'kinesis_on_demand_gb_ingested')}"
                f"/GB written, ${_price(prices, 'kinesis_on_demand_gb_retrieved')}/GB read"
            )
            continue
        shards = stream.get("shard_count") or 0
        rate = _price(prices, "kinesis_shard_hour")
        if (stream.get("retention_period") or 24) > 24:
            rate += _price(prices, "kinesis_extended_retention_shard_hour")
        cost = round(shards * hours * rate, 2)
        items.append(
            LineItem(
                change.address,
                f"Kinesis provisioned stream, {shards} shards x {hours:g} h x ${rate:g}/shard-h",
                cost,
                cost,
            )
        )
        usage.append(
            f"`{change.address}`: Kinesis PUT payload units, ${_price(prices, 'kinesis_put_payload_units_per_million')}"
            "/million"
        )
    return items


def _flat_items(plan: Plan, side: str, prices: dict[str, Any], usage: list[str]) -> list[LineItem]:
    items = []
    for type_, key, what in (
        ("aws_kms_key", "kms_key_month", "KMS customer managed key"),
        ("aws_cloudwatch_metric_alarm", "cloudwatch_alarm_month", "CloudWatch alarm"),
        ("aws_cloudwatch_dashboard", "cloudwatch_dashboard_month", "CloudWatch dashboard"),
    ):
        for change, _ in _present(plan, side, type_):
            rate = _price(prices, key)
            items.append(LineItem(change.address, f"{what}, ${rate:g}/month", rate, rate))
    for change, _ in _present(plan, side, "aws_s3_bucket"):
        usage.append(
            f"`{change.address}`: S3 Standard, ${_price(prices, 's3_standard_gb_month')} per GB-month stored"
        )
    return items


def estimate(
    plan: Plan,
    prices: dict[str, Any] | None = None,
    batch_run_minutes: float = DEFAULT_BATCH_RUN_MINUTES,
) -> Estimate:
    warnings: list[str] = []
    if prices is None:
        prices, warnings = load_prices(plan.region)
    result = Estimate(prices, warnings=warnings)
    for side in ("before", "after"):
        usage: list[str] = []
        items = (
            _endpoint_items(plan, side, prices, usage)
            + _glue_items(plan, side, prices, batch_run_minutes, usage)
            + _kinesis_items(plan, side, prices, usage)
            + _flat_items(plan, side, prices, usage)
        )
        setattr(result, side, items)
        if side == "after":
            result.usage_priced = usage
    return result


def monthly(figure: tuple[float, float]) -> str:
    low, high = figure
    return f"${low:,.2f}" if math.isclose(low, high) else f"${low:,.2f} to ${high:,.2f}"
