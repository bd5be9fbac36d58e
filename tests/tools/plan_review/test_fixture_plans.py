"""The summary of each fixture plan (made by the project on moto, see conftest.py) names exactly the risks."""

from __future__ import annotations

import json
import re

import pytest

from churn_pipeline.contract import outputs
from churn_tools.plan_review.__main__ import summarise
from churn_tools.plan_review.cost import DAYS_PER_MONTH, load_prices

# The fixture plans need an apply of the local root to moto first (conftest.py).
pytestmark = pytest.mark.slow(seconds=260)  # the whole plan_review package, one unit


STORAGE = "module.pipeline.module.storage"
GLUE = "module.pipeline.module.glue"
BUCKETS = {f'{STORAGE}.aws_s3_bucket.this["{name}"]' for name in ("artifacts", "data", "results")}
STREAM = "module.pipeline.module.stream.aws_kinesis_stream.this"
CATALOG = {f"{GLUE}.aws_glue_catalog_database.this", f"{GLUE}.aws_glue_catalog_table.kinesis_source"} | {
    f'{GLUE}.aws_glue_catalog_table.results["{name}"]'
    # One Hive table per dataset the jobs write, but for the Iceberg tables: `make deploy` creates those through
    # the catalog (terraform/README.md), so no Terraform plan holds them.
    for name in (d.table for d in outputs.DATASETS if d not in outputs.ICEBERG_DATASETS)
}
ENDPOINT = "module.pipeline.module.model_endpoint.aws_sagemaker_endpoint.this"
ENDPOINT_CONFIG = "module.pipeline.module.model_endpoint.aws_sagemaker_endpoint_configuration.this"
WORKGROUP = "module.pipeline.module.analytics.aws_athena_workgroup.this"
KMS_KEY = f"{STORAGE}.aws_kms_key.this"
SAGEMAKER_POLICY = "module.pipeline.module.iam.aws_iam_role_policy.sagemaker"
DATA_BEARING = BUCKETS | {STREAM, ENDPOINT, WORKGROUP} | CATALOG

# (kind, address) of every alarm each summary must raise, and nothing else.
EXPECTED_ALARMS = {
    "noop": set(),
    "noop-storage": set(),
    "grow": {("iam-widening", SAGEMAKER_POLICY), ("encryption", ENDPOINT_CONFIG)},
    "rename": {("data-loss", address) for address in DATA_BEARING},  # the key has no name: it stays
    "destroy": {("data-loss", address) for address in DATA_BEARING | {KMS_KEY}},
    "other-dataset": set(),  # the tables' columns change in place: nothing is lost
}
ALARM = re.compile(r"^- \S+ (?:high|medium) \*\*([\w-]+)\*\* `([^`]+)`: (.*)$")


def alarms(markdown: str) -> list[tuple[str, str, str]]:
    section = markdown.split("### Risks", 1)[1].split("\n### ", 1)[0].split("<details>", 1)[0]
    return [match.groups() for line in section.splitlines() if (match := ALARM.match(line))]


@pytest.fixture(scope="module")
def summaries(fixture_plan):
    cache: dict[str, str] = {}

    def get(name: str) -> str:
        if name not in cache:
            cache[name] = summarise(fixture_plan(name), name)
        return cache[name]

    return get


@pytest.mark.parametrize("name", sorted(EXPECTED_ALARMS))
def test_summary_raises_exactly_the_expected_alarms(summaries, name):
    found = {(kind, address) for kind, address, _ in alarms(summaries(name))}
    assert found == EXPECTED_ALARMS[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_ALARMS))
def test_every_destroyed_or_replaced_data_bearing_resource_is_named(fixture_plan, summaries, name):
    """Checked against the raw plan JSON with the test's own list of data-bearing types."""
    types = {"aws_s3_bucket", "aws_kinesis_stream", "aws_glue_catalog_table", "aws_glue_catalog_database",
             "aws_sagemaker_endpoint", "aws_kms_key", "aws_athena_workgroup"}  # fmt: skip
    document = json.loads(fixture_plan(name).read_text())
    lost = {
        change["address"]
        for change in document["resource_changes"]
        if change["type"] in types and "delete" in change["change"]["actions"]
    }
    named = {address for kind, address, _ in alarms(summaries(name)) if kind == "data-loss"}
    assert named == lost


def test_no_op_plan_says_so_and_raises_nothing(summaries):
    text = summaries("noop-storage")
    assert "**0** to add, **0** to change, **0** to replace, **0** to destroy" in text
    assert "No changes: the infrastructure matches the configuration." in text
    assert "No risk flags" in text and "<details>" not in text  # not even a note
    assert "Monthly delta against the prior state: +$0.00" in text


def test_full_replan_with_unchanged_variables_raises_no_alarm(summaries):
    # moto round-trips a few attributes differently (network isolation, data capture, execution class), so the
    # re-plan is not empty; none of it may be reported as a risk.
    text = summaries("noop")
    assert alarms(text) == []
    assert "No risk flags" in text


def test_iam_widening_names_the_new_grant(summaries):
    [detail] = [detail for kind, _, detail in alarms(summaries("grow")) if kind == "iam-widening"]
    assert re.fullmatch(
        r"`policy` now grants `s3:PutObject` on `arn:aws:s3:::churn-local-results-\d+/data-capture/\*`",
        detail,
    )


def test_encryption_loss_names_the_attribute(summaries):
    [detail] = [detail for kind, _, detail in alarms(summaries("grow")) if kind == "encryption"]
    assert re.fullmatch(r"`kms_key_arn` `arn:aws:kms:us-east-1:\d+:key/[0-9a-f-]+` -> `None`", detail)


def test_replacements_show_the_attribute_that_forces_them(summaries):
    text = summaries("rename")
    for address, attribute in [(STREAM, "name"), (*sorted(BUCKETS)[:1], "bucket"), (WORKGROUP, "name")]:
        assert f"| replace | `{address}` | `{attribute}` |" in text


def _row(text: str, address: str) -> list[str]:
    """The cost table row of the resource whose address matches the pattern."""
    [line] = [line for line in text.splitlines() if re.match(rf"\| `{address}` \|", line)]
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_cost_of_the_grow_plan_from_the_price_table(summaries):
    prices, _ = load_prices("us-east-1")
    text = summaries("grow")
    hours = prices["hours_per_month"]
    batch = DAYS_PER_MONTH * 4 * prices["glue_dpu_per_worker"]["G.1X"] * 15 / 60 * prices["glue_dpu_hour"]
    stream_before = hours * prices["kinesis_on_demand_stream_hour"]
    stream_after = 2 * hours * prices["kinesis_shard_hour"]
    instances = (
        hours * prices["sagemaker_realtime_instance_hour"]["ml.m5.large"]
    )  # local: one, no autoscaling
    assert _row(text, rf"{GLUE}\.aws_glue_job\.\S*batch\S*")[2:] == ["-", f"${batch:,.2f}"]
    assert _row(text, re.escape(STREAM))[2:] == [f"${stream_before:,.2f}", f"${stream_after:,.2f}"]
    assert _row(text, re.escape(ENDPOINT_CONFIG))[2:] == [f"${instances:,.2f}", "-"]
    assert (
        f"`{ENDPOINT_CONFIG}`: serverless inference, ${prices['sagemaker_serverless_gb_second']} per GB-second"
        in text
    )
    delta = round(batch, 2) + round(stream_after, 2) - round(stream_before, 2) - round(instances, 2)
    assert f"Monthly delta against the prior state: -${-delta:,.2f}**" in text


def test_destroy_plan_costs_nothing_after(summaries):
    text = summaries("destroy")
    total = next(line for line in text.splitlines() if line.startswith("| **Total**"))
    before = total.split("|")[3].strip().strip("*")
    assert total.split("|")[4].strip() == "**$0.00**"
    assert f"Monthly delta against the prior state: -{before}**" in text


def test_policies_known_only_after_apply_are_noted_for_review(summaries):
    text = summaries("rename")
    notes = text.split("<details>", 1)[1].split("</details>", 1)[0]
    for role in ("glue_batch", "glue_stream", "sagemaker"):
        address = f"module.pipeline.module.iam.aws_iam_role_policy.{role}"
        assert f"**iam-unknown** `{address}`: `policy` is known only after apply: review it" in notes


def test_a_model_of_another_dataset_changes_the_tables_that_hold_its_columns_in_place(
    fixture_plan, second_description
):
    document = json.loads(fixture_plan("other-dataset").read_text())
    changed = {
        change["address"]: change["change"]
        for change in document["resource_changes"]
        if change["change"]["actions"] != ["no-op"] and change["type"] == "aws_glue_catalog_table"
    }
    # The Iceberg tables' columns evolve through the catalog at deploy (tables.ensure_table), not in a plan.
    scored = [d for d in outputs.DATASETS if d.data_columns_first and d not in outputs.ICEBERG_DATASETS]
    source = f"{GLUE}.aws_glue_catalog_table.kinesis_source"
    tables = {f'{GLUE}.aws_glue_catalog_table.results["{d.table}"]': d for d in scored}
    assert set(changed) == {*tables, source}
    assert {tuple(change["actions"]) for change in changed.values()} == {("update",)}
    for address, dataset in tables.items():
        columns = changed[address]["after"]["storage_descriptor"][0]["columns"]
        assert [{"name": c["name"], "type": c["type"]} for c in columns] == dataset.for_data(
            second_description
        ).catalog_columns(), address
    columns = changed[source]["after"]["storage_descriptor"][0]["columns"]
    assert [{"name": c["name"], "type": c["type"]} for c in columns] == outputs.catalog_fields(
        outputs.stream_record_fields(second_description)
    )
