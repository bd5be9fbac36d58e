"""Rollouts on a local AWS: deploy ENV=local to a moto server of this module's own, plan again, plan a new model
and a model of another dataset, roll one back and one forward, destroy, check nothing is left. The tests run in
order on the one deployment (the last destroys it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from churn_pipeline.contract import metrics, outputs, settings
from churn_pipeline.model import ModelDir
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts
from churn_tools import synthetic

from .local_deployment import (
    BUCKETS,
    DATABASE,
    EMULATOR_DRIFT,
    ENDPOINT,
    JOB_NAMES,
    MODEL_ENDPOINT,
    PREFIX,
    QUALITY_ALARM,
    client,
    deploy_cli,
    deployed_arguments,
    quality_margin_as_deployed,
    writer_schemas,
)

# One apply, three plans, a rolled-back and a successful rollout (each an apply), a destroy.
pytestmark = pytest.mark.slow(seconds=700)


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
    # Terraform's tables (the stream's scored Iceberg table is the deploy step's: it evolves it, tests/tools/deploy).
    tables = {f'{glue}.aws_glue_catalog_table.results["{d.table}"]': d.table for d in outputs.DATASETS
              if d.data_columns_first and d not in outputs.ICEBERG_DATASETS} | {
                  f"{glue}.aws_glue_catalog_table.kinesis_source": "kinesis_customer_churn"}  # fmt: skip
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
