"""What the AWS provider on disk plans when the endpoint's rollback alarms change (terraform/README.md, "Guarded
rollout"): the real provider, no mock, planning over a state that holds a deployed endpoint (-refresh=false: no API
is called).

The provider marks `deployment_config.auto_rollback_configuration` ForceNew (hashicorp/terraform-provider-aws,
internal/service/sagemaker/endpoint.go). The plugin SDK applies a list block's ForceNew to its element count only:
renaming an alarm updates the endpoint in place, but adding or removing the block (turning the guarded rollout on
or off on a deployed endpoint) destroys and recreates it, under the same name, so it is down meanwhile.

Every scenario is one instance of a `for_each` endpoint, each under its own name: one plan from an empty state gives
every instance as the provider would create it with its deployed alarms (written as the state, as if applied), and
one plan over that state with every scenario's planned alarms gives every scenario's change at once. Each Terraform
command loads the AWS provider's schema (seconds of CPU), so two plans serve all the tests instead of two per test.
The instances are independent: the provider plans each from its own prior state and configuration."""

from __future__ import annotations

import json

import pytest

from .conftest import run_terraform

pytestmark = pytest.mark.slow(seconds=16)  # expected seconds: make test starts the longest units first

ROOT = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "planning-only"
  secret_key                  = "planning-only"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
}

# Scenario -> its endpoint's rollback alarms.
variable "rollback_alarm_names" {
  type = map(list(string))
}

# The shape of modules/model_endpoint's endpoint: deployment_config only with rollback alarms.
resource "aws_sagemaker_endpoint" "this" {
  for_each = var.rollback_alarm_names

  name                 = "churn-test-${each.key}"
  endpoint_config_name = "churn-test-churn-config"

  dynamic "deployment_config" {
    for_each = length(each.value) > 0 ? [1] : []
    content {
      blue_green_update_policy {
        traffic_routing_configuration {
          type                     = "ALL_AT_ONCE"
          wait_interval_in_seconds = 900
        }
      }
      auto_rollback_configuration {
        dynamic "alarms" {
          for_each = toset(each.value)
          content {
            alarm_name = alarms.value
          }
        }
      }
    }
  }
}
"""
DEPLOYED = ["churn-test-endpoint-5xx", "churn-test-endpoint-latency"]
# Scenario -> (the deployed endpoint's alarms, the alarms planned over it).
SCENARIOS = {
    "unchanged": (DEPLOYED, DEPLOYED),
    "one-alarm-fewer": (DEPLOYED, ["churn-test-endpoint-5xx"]),
    "one-alarm-more": (DEPLOYED, [*DEPLOYED, "churn-test-endpoint-4xx"]),
    "renamed-alarms": (DEPLOYED, ["renamed-5xx", "renamed-latency"]),
    "rollback-off": (DEPLOYED, []),
    "rollback-on": ([], DEPLOYED),
}


def planned_changes(tf_env, root, alarms: dict[str, list[str]]) -> dict[str, dict]:
    """Scenario -> the planned change of its endpoint, with these alarms for each scenario."""
    plan = root / "tfplan"
    run_terraform(
        tf_env, root, "plan", "-input=false", "-refresh=false", f"-out={plan}",
        f"-var=rollback_alarm_names={json.dumps(alarms)}",
    )  # fmt: skip
    shown = json.loads(run_terraform(tf_env, root, "show", "-json", str(plan)).stdout)
    return {change["index"]: change["change"] for change in shown["resource_changes"]}


def deploy(tf_env, root, alarms: dict[str, list[str]]) -> None:
    """A state holding each scenario's endpoint as the provider plans to create it with its alarms, as if applied."""
    (root / "terraform.tfstate").unlink(missing_ok=True)
    created = planned_changes(tf_env, root, alarms)
    assert {scenario: change["actions"] for scenario, change in created.items()} == dict.fromkeys(
        alarms, ["create"]
    )
    instances = [
        {
            "index_key": scenario, "schema_version": 0,
            "attributes": {
                **change["after"],
                "id": f"churn-test-{scenario}",
                "arn": f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-test-{scenario}",
                "tags_all": {},
            },
        }
        for scenario, change in created.items()
    ]  # fmt: skip
    state = {
        "version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "endpoint-rollback", "outputs": {},
        "resources": [{
            "mode": "managed", "type": "aws_sagemaker_endpoint", "name": "this", "each": "map",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": instances,
        }],
    }  # fmt: skip
    (root / "terraform.tfstate").write_text(json.dumps(state))


@pytest.fixture(scope="module")
def changes(tf_env, tmp_path_factory) -> dict[str, dict]:
    """Scenario -> the change the provider plans from its deployed alarms to its planned ones."""
    root = tmp_path_factory.mktemp("endpoint-rollback")
    (root / "main.tf").write_text(ROOT)
    run_terraform(tf_env, root, "init", "-input=false")
    deploy(tf_env, root, {scenario: deployed for scenario, (deployed, _) in SCENARIOS.items()})
    return planned_changes(tf_env, root, {scenario: planned for scenario, (_, planned) in SCENARIOS.items()})


def test_the_deployed_endpoint_plans_no_change(changes):
    assert changes["unchanged"]["actions"] == ["no-op"]


@pytest.mark.parametrize(
    "scenario",
    ["one-alarm-fewer", "one-alarm-more", "renamed-alarms"],
    ids=["one alarm fewer", "one alarm more", "renamed alarms"],
)
def test_other_rollback_alarms_update_the_endpoint_in_place(changes, scenario):
    change = changes[scenario]
    assert change["actions"] == ["update"], change.get("replace_paths")


def test_turning_the_rollback_off_replaces_the_endpoint(changes):
    change = changes["rollback-off"]
    assert change["actions"] == ["delete", "create"]
    assert change["replace_paths"] == [["deployment_config", 0, "auto_rollback_configuration"]]


def test_turning_the_rollback_on_replaces_the_endpoint(changes):
    change = changes["rollback-on"]
    assert change["actions"] == ["delete", "create"]
    assert change["replace_paths"] == [["deployment_config", 0, "auto_rollback_configuration"]]
