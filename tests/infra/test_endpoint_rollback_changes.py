"""What the AWS provider on disk plans when the endpoint's rollback alarms change (terraform/README.md, "Guarded
rollout"): the real provider, no mock, planning over a state that holds a deployed endpoint (-refresh=false: no API
is called).

The provider marks `deployment_config.auto_rollback_configuration` ForceNew (hashicorp/terraform-provider-aws,
internal/service/sagemaker/endpoint.go). The plugin SDK applies a list block's ForceNew to its element count only:
renaming an alarm updates the endpoint in place, but adding or removing the block (turning the guarded rollout on
or off on a deployed endpoint) destroys and recreates it, under the same name, so it is down meanwhile."""

from __future__ import annotations

import json

import pytest

from .conftest import run_terraform

pytestmark = pytest.mark.slow(seconds=75)  # expected seconds: make test starts the longest units first

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

variable "rollback_alarm_names" {
  type = list(string)
}

# The shape of modules/model_endpoint's endpoint: deployment_config only with rollback alarms.
resource "aws_sagemaker_endpoint" "this" {
  name                 = "churn-test-churn"
  endpoint_config_name = "churn-test-churn-config"

  dynamic "deployment_config" {
    for_each = length(var.rollback_alarm_names) > 0 ? [1] : []
    content {
      blue_green_update_policy {
        traffic_routing_configuration {
          type                     = "ALL_AT_ONCE"
          wait_interval_in_seconds = 900
        }
      }
      auto_rollback_configuration {
        dynamic "alarms" {
          for_each = toset(var.rollback_alarm_names)
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


@pytest.fixture(scope="module")
def root(tf_env, tmp_path_factory):
    directory = tmp_path_factory.mktemp("endpoint-rollback")
    (directory / "main.tf").write_text(ROOT)
    run_terraform(tf_env, directory, "init", "-input=false")
    return directory


def planned_change(tf_env, root, alarms: list[str]) -> dict:
    plan = root / "tfplan"
    run_terraform(
        tf_env, root, "plan", "-input=false", "-refresh=false", f"-out={plan}",
        f"-var=rollback_alarm_names={json.dumps(alarms)}",
    )  # fmt: skip
    shown = json.loads(run_terraform(tf_env, root, "show", "-json", str(plan)).stdout)
    return shown["resource_changes"][0]["change"]


def deploy(tf_env, root, alarms: list[str]) -> None:
    """A state holding the endpoint as the provider plans to create it with these alarms, as if applied."""
    (root / "terraform.tfstate").unlink(missing_ok=True)
    attributes = {
        **planned_change(tf_env, root, alarms)["after"],
        "id": "churn-test-churn",
        "arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-test-churn",
        "tags_all": {},
    }
    state = {
        "version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "endpoint-rollback", "outputs": {},
        "resources": [{
            "mode": "managed", "type": "aws_sagemaker_endpoint", "name": "this",
            "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
            "instances": [{"schema_version": 0, "attributes": attributes}],
        }],
    }  # fmt: skip
    (root / "terraform.tfstate").write_text(json.dumps(state))


def test_the_deployed_endpoint_plans_no_change(tf_env, root):
    deploy(tf_env, root, DEPLOYED)
    assert planned_change(tf_env, root, DEPLOYED)["actions"] == ["no-op"]


@pytest.mark.parametrize(
    "alarms",
    [["churn-test-endpoint-5xx"], [*DEPLOYED, "churn-test-endpoint-4xx"], ["renamed-5xx", "renamed-latency"]],
    ids=["one alarm fewer", "one alarm more", "renamed alarms"],
)
def test_other_rollback_alarms_update_the_endpoint_in_place(tf_env, root, alarms):
    deploy(tf_env, root, DEPLOYED)
    change = planned_change(tf_env, root, alarms)
    assert change["actions"] == ["update"], change.get("replace_paths")


def test_turning_the_rollback_off_replaces_the_endpoint(tf_env, root):
    deploy(tf_env, root, DEPLOYED)
    change = planned_change(tf_env, root, [])
    assert change["actions"] == ["delete", "create"]
    assert change["replace_paths"] == [["deployment_config", 0, "auto_rollback_configuration"]]


def test_turning_the_rollback_on_replaces_the_endpoint(tf_env, root):
    deploy(tf_env, root, [])
    change = planned_change(tf_env, root, DEPLOYED)
    assert change["actions"] == ["delete", "create"]
    assert change["replace_paths"] == [["deployment_config", 0, "auto_rollback_configuration"]]
