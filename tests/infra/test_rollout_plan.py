"""The guarded rollout of dev's and prod's endpoint as `terraform plan -json` of their own roots gives it: blue/green
(a canary where the fleet has 2+ instances, prod; all at once on dev's single instance), baked, rolled back on
the monitoring module's endpoint alarms (modules/iam's tests check that the
endpoint role may read those alarms: the policy is known only after apply here).
envs/local leaves it out (moto does not model DeploymentConfig, terraform/README.md "What moto cannot model").

The plans are those of test_deployed_arguments (the roots as they are, a local backend, STS at moto); nothing is applied.
"""

from __future__ import annotations

import json

import pytest

from .conftest import ENVIRONMENTS, REPO_ROOT, load_hcl

ENDPOINT = "module.pipeline.module.model_endpoint.aws_sagemaker_endpoint.this"
ALARM = 'module.pipeline.module.monitoring.aws_cloudwatch_metric_alarm.this["{}"]'


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_endpoint_rolls_out_guarded_and_rolled_back_on_its_alarms(planned, env):
    settings = load_hcl(REPO_ROOT / "terraform" / "envs" / env / "terraform.tfvars")["settings"]
    prefix, instances = settings["name_prefix"], settings["endpoint"]["initial_instance_count"]
    [config] = planned[env][ENDPOINT]["deployment_config"]
    [blue_green] = config["blue_green_update_policy"]
    [routing] = blue_green["traffic_routing_configuration"]
    print(f"{env} ({instances} instance(s)): {json.dumps(config, sort_keys=True)}")
    # A canary must be at most half the variant's instances: prod (2) has one, dev (1) shifts all at once.
    if instances >= 2:
        assert (routing["type"], routing["canary_size"]) == (
            "CANARY",
            [{"type": "INSTANCE_COUNT", "value": 1}],
        )
    else:
        assert (routing["type"], routing["canary_size"]) == ("ALL_AT_ONCE", [])
    assert routing["wait_interval_in_seconds"] == 900
    assert blue_green["maximum_execution_timeout_in_seconds"] == 3600
    alarms = {alarm["alarm_name"] for alarm in config["auto_rollback_configuration"][0]["alarms"]}
    assert alarms == {f"{prefix}-endpoint-5xx", f"{prefix}-endpoint-latency"}
    # The rollback alarms are the ones monitoring creates, watching this endpoint.
    for name in alarms:
        assert (
            planned[env][ALARM.format(name)]["dimensions"]["EndpointName"] == planned[env][ENDPOINT]["name"]
        )


def test_prod_canaries_and_dev_does_not():
    counts = {
        env: load_hcl(REPO_ROOT / "terraform" / "envs" / env / "terraform.tfvars")["settings"]["endpoint"][
            "initial_instance_count"
        ]
        for env in ENVIRONMENTS
    }
    assert counts == {"dev": 1, "prod": 2}, (
        "terraform/README.md says which environment canaries: update it too"
    )
