"""Price arithmetic: schedules, endpoints with autoscaling, Glue DPUs, Kinesis modes, deltas, missing prices."""

from __future__ import annotations

import json

import pytest

from churn_tools.plan_review import cost, plan

PRICES, _ = cost.load_prices("us-east-1")
HOURS = PRICES["hours_per_month"]


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        ("cron(0 2 * * ? *)", 365 / 12),  # daily
        ("cron(0/15 * * * ? *)", 96 * 365 / 12),  # every 15 minutes
        ("cron(0 8-17 ? * MON-FRI *)", 10 * 5 / 7 * 365 / 12),  # office hours on weekdays
        ("cron(30 1 1,15 * ? *)", 2),  # twice a month
        ("cron(0 0 1 1 ? *)", 1 / 12),  # yearly
        ("rate(1 hour)", 24 * 365 / 12),
        ("rate(2 days)", 365 / 12 / 2),
    ],
)
def test_runs_per_month(schedule, runs):
    assert cost.runs_per_month(schedule) == pytest.approx(runs)


def test_unreadable_schedule_is_named():
    with pytest.raises(ValueError, match=r"cannot read schedule 'at\(2026-01-01T00:00:00\)'"):
        cost.runs_per_month("at(2026-01-01T00:00:00)")


def resource(type_: str, before: dict | None, after: dict | None, module: str = "module.m") -> dict:
    actions = ["create"] if before is None else ["delete"] if after is None else ["update"]
    return {
        "address": f"{module}.{type_}.this",
        "module_address": module,
        "mode": "managed",
        "type": type_,
        "name": "this",
        "change": {"actions": actions, "before": before, "after": after},
    }


def estimate(*changes: dict, **options) -> cost.Estimate:
    document = {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": list(changes)}
    return cost.estimate(plan.parse(document), PRICES, **options)


def variant(instance_type: str, count: int) -> dict:
    return {"production_variants": [{"instance_type": instance_type, "initial_instance_count": count}]}


def test_endpoint_costs_its_autoscaling_range_and_the_delta_follows():
    rate = PRICES["sagemaker_realtime_instance_hour"]["ml.m5.large"]
    result = estimate(
        resource("aws_sagemaker_endpoint", {"name": "e"}, {"name": "e"}),
        resource(
            "aws_sagemaker_endpoint_configuration", variant("ml.m5.large", 1), variant("ml.m5.large", 1)
        ),
        resource(
            "aws_appautoscaling_target",
            None,
            {"service_namespace": "sagemaker", "min_capacity": 1, "max_capacity": 4},
        ),
    )
    assert [(i.low, i.high) for i in result.before] == [(round(rate * HOURS, 2),) * 2]
    assert [(i.low, i.high) for i in result.after] == [(round(rate * HOURS, 2), round(4 * rate * HOURS, 2))]
    assert result.delta == (0.0, round(round(4 * rate * HOURS, 2) - round(rate * HOURS, 2), 2))


def test_configuration_without_an_endpoint_costs_nothing():
    assert (
        estimate(resource("aws_sagemaker_endpoint_configuration", None, variant("ml.m5.large", 2))).after
        == []
    )


def test_unknown_instance_type_names_the_missing_price():
    with pytest.raises(cost.PriceError, match=r"sagemaker_realtime_instance_hour\['ml.p5.48xlarge'\]"):
        estimate(
            resource("aws_sagemaker_endpoint", None, {"name": "e"}),
            resource("aws_sagemaker_endpoint_configuration", None, variant("ml.p5.48xlarge", 1)),
        )


def glue_job(name: str, command: str, worker_type: str, workers: int) -> dict:
    return {
        "name": name,
        "command": [{"name": command}],
        "worker_type": worker_type,
        "number_of_workers": workers,
    }


def test_glue_streaming_is_always_on_and_batch_follows_its_schedule():
    stream = resource("aws_glue_job", None, glue_job("s", "gluestreaming", "G.2X", 3), module="module.stream")
    batch = resource("aws_glue_job", None, glue_job("b", "glueetl", "G.1X", 10), module="module.batch")
    trigger = {"type": "SCHEDULED", "schedule": "cron(0 2 * * ? *)", "actions": [{"job_name": "b"}]}
    result = estimate(stream, batch, resource("aws_glue_trigger", None, trigger), batch_run_minutes=30)
    by_address = {i.address: i.low for i in result.after}
    assert by_address["module.stream.aws_glue_job.this"] == round(3 * 2 * HOURS * PRICES["glue_dpu_hour"], 2)
    assert by_address["module.batch.aws_glue_job.this"] == round(
        365 / 12 * 10 * 0.5 * PRICES["glue_dpu_hour"], 2
    )


def test_batch_job_without_schedule_is_priced_per_run_not_monthly():
    result = estimate(resource("aws_glue_job", None, glue_job("b", "glueetl", "G.1X", 2)))
    assert result.after == []
    assert result.usage_priced == [
        f"`module.m.aws_glue_job.this`: Glue batch job run on demand, ${2 * 0.25 * PRICES['glue_dpu_hour']:.2f} "
        "per 15-minute run (2 DPU)"
    ]


def test_kinesis_provisioned_with_extended_retention_then_on_demand():
    provisioned = {
        "stream_mode_details": [{"stream_mode": "PROVISIONED"}],
        "shard_count": 4,
        "retention_period": 48,
    }
    on_demand = {
        "stream_mode_details": [{"stream_mode": "ON_DEMAND"}],
        "shard_count": 0,
        "retention_period": 24,
    }
    result = estimate(resource("aws_kinesis_stream", provisioned, on_demand))
    shard_rate = PRICES["kinesis_shard_hour"] + PRICES["kinesis_extended_retention_shard_hour"]
    assert [i.low for i in result.before] == [round(4 * HOURS * shard_rate, 2)]
    assert [i.low for i in result.after] == [round(HOURS * PRICES["kinesis_on_demand_stream_hour"], 2)]


def test_destroyed_key_is_a_negative_delta():
    result = estimate(resource("aws_kms_key", {"key_id": "k"}, None))
    assert result.delta == (-PRICES["kms_key_month"], -PRICES["kms_key_month"])


def test_price_table_states_its_date_region_and_sources():
    assert PRICES["region"] == "us-east-1" and PRICES["as_of"] and PRICES["currency"] == "USD"
    assert set(PRICES["sources"]) >= {"sagemaker", "glue", "kinesis", "kms", "s3"}


def test_region_without_a_table_falls_back_with_a_warning(tmp_path):
    prices, warnings = cost.load_prices("eu-west-1")
    assert prices["region"] == "us-east-1"
    assert warnings == [
        "no price table for eu-west-1 in this repository: figures are us-east-1 list prices "
        "(add src/churn_tools/plan_review/prices_eu-west-1.json for exact regional prices)"
    ]
    broken = tmp_path / "prices.json"
    broken.write_text(json.dumps({"region": "x", "currency": "USD", "hours_per_month": 730, "sources": {}}))
    with pytest.raises(cost.PriceError, match="has no 'as_of'"):
        cost.load_prices(path=broken)
