"""Risk rules on hand-written policies and attribute values: each kind of widening and loosening is caught."""

from __future__ import annotations

import json

import pytest

from churn_tools.plan_review import plan, risks
from churn_tools.plan_review.__main__ import main


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


READ = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/in/*"}


def described(before: str, after: str) -> list[str]:
    return [f"{g.action} on {g.resource}" for g in risks.widened_grants(before, after)]


def test_same_policy_with_reordered_statements_is_not_widened():
    other = {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:r:1:key/k"}
    assert described(policy(READ, other), policy(other, READ)) == []


def test_narrower_policy_is_not_widened():
    wide = {**READ, "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
    assert described(policy(wide), policy(READ)) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"Action": ["s3:GetObject", "s3:PutObject"]}, ["s3:PutObject on arn:aws:s3:::b/in/*"]),
        ({"Action": "s3:*"}, ["s3:* on arn:aws:s3:::b/in/*"]),
        ({"Resource": "arn:aws:s3:::b/*"}, ["s3:GetObject on arn:aws:s3:::b/*"]),
        ({"Resource": "*"}, ["s3:GetObject on *"]),
        ({"NotAction": "iam:*", "Action": None}, ["NOT iam:* on arn:aws:s3:::b/in/*"]),
    ],
)
def test_wider_actions_or_resources_are_named(change, expected):
    after = {key: value for key, value in {**READ, **change}.items() if value is not None}
    assert described(policy(READ), policy(after)) == expected


def test_dropping_a_condition_widens():
    conditioned = {**READ, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    assert described(policy(conditioned), policy(READ)) == ["s3:GetObject on arn:aws:s3:::b/in/*"]


def test_principal_opened_to_everyone_widens_a_resource_policy():
    account = {**READ, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    anyone = {**READ, "Principal": "*"}
    [grant] = risks.widened_grants(policy(account), policy(anyone))
    assert grant.principal == "*"


def test_removed_deny_is_reported():
    deny = {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}  # fmt: skip
    assert risks.removed_denies(policy(READ, deny), policy(READ)) == [deny]
    assert risks.removed_denies(policy(READ, deny), policy(deny, READ)) == []


def change(type_: str, before: dict | None, after: dict | None, actions: list[str], **extra) -> dict:
    return {
        "address": f"{type_}.this",
        "mode": "managed",
        "type": type_,
        "name": "this",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": extra.get("unknown", {}),
        },
    }


def assess(*changes: dict) -> list[tuple[str, str, str]]:
    document = {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": list(changes)}
    return [(r.severity, r.kind, r.detail) for r in risks.assess(plan.parse(document))]


def test_public_access_block_turned_off_is_high():
    on = dict.fromkeys(
        ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"], True
    )
    found = assess(
        change("aws_s3_bucket_public_access_block", on, {**on, "block_public_policy": False}, ["update"])
    )
    assert found == [("high", "public-access", "`block_public_policy` True -> False")]


def test_encryption_downgrades_are_high_and_upgrades_are_not():
    kms = {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "aws:kms"}]}]}
    s3 = {"rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]}
    sse = "aws_s3_bucket_server_side_encryption_configuration"
    path = "rule.0.apply_server_side_encryption_by_default.0.sse_algorithm"
    assert assess(change(sse, kms, s3, ["update"])) == [
        ("high", "encryption", f"`{path}` `aws:kms` -> `AES256`")
    ]
    assert assess(change(sse, s3, kms, ["update"])) == []
    stream = change("aws_kinesis_stream", {"encryption_type": "KMS"}, {"encryption_type": "NONE"}, ["update"])
    assert assess(stream) == [("high", "encryption", "`encryption_type` `KMS` -> `NONE`")]


def test_value_known_only_after_apply_is_not_called_a_loss():
    unknown = change(
        "aws_sns_topic", {"kms_master_key_id": "k"}, {}, ["update"], unknown={"kms_master_key_id": True}
    )
    assert assess(unknown) == []


def test_protection_removed_while_its_bucket_stays_is_high():
    block = change("aws_s3_bucket_public_access_block", {"bucket": "b"}, None, ["delete"])
    bucket = change("aws_s3_bucket", {"bucket": "b"}, {"bucket": "b"}, ["no-op"])
    assert assess(block, bucket) == [("high", "public-access", "public access block removed")]
    gone = change("aws_s3_bucket", {"bucket": "b"}, None, ["delete"])
    assert [kind for _, kind, _ in assess(block, gone)] == ["data-loss"]


def test_a_state_is_refused_with_the_reason(tmp_path, capsys):
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"format_version": "1.0", "terraform_version": "1.11.4", "values": {}}))
    assert main([str(state)]) == 2
    assert "this is a state, not a plan" in capsys.readouterr().err
    garbage = tmp_path / "plan.txt"
    garbage.write_text("Plan: 1 to add")
    assert main([str(garbage)]) == 2
    assert "is not JSON" in capsys.readouterr().err


def test_unknown_action_list_is_an_error():
    with pytest.raises(plan.PlanError, match="unexpected action list"):
        plan.action_of(["read", "update"])


def test_deleted_bucket_policy_loses_its_denies_only_if_the_bucket_stays():
    deny = {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    bucket_policy = change("aws_s3_bucket_policy", {"bucket": "b", "policy": policy(deny)}, None, ["delete"])
    stays = change("aws_s3_bucket", {"bucket": "b"}, {"bucket": "b"}, ["no-op"])
    assert assess(bucket_policy, stays) == [
        ("medium", "iam-widening", "bucket policy deleted with its Deny `TlsOnly`")
    ]
    gone = change("aws_s3_bucket", {"bucket": "b"}, None, ["delete"])
    assert [kind for _, kind, _ in assess(bucket_policy, gone)] == ["data-loss"]


def test_policy_known_only_after_apply_is_a_note():
    unknown = change(
        "aws_iam_role_policy", {"policy": policy(READ)}, {"name": "p"}, ["update"], unknown={"policy": True}
    )
    assert assess(unknown) == [("note", "iam-unknown", "`policy` is known only after apply: review it")]


def test_new_policy_notes_only_really_wide_grants():
    scoped = {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Principal": {"AWS": "arn:aws:iam::1:root"},
    }
    metrics = {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"}
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"}
    created = change("aws_iam_policy", None, {"policy": policy(scoped, metrics, everything)}, ["create"])
    assert assess(created) == [
        ("note", "iam-wildcard", "new `policy` grants `cloudwatch:PutMetricData` on `*`"),
        ("note", "iam-wildcard", "new `policy` grants `s3:*` on `arn:aws:s3:::b/*`"),
    ]


def endpoint(traffic: str | None, alarms: list[str]) -> dict:
    """aws_sagemaker_endpoint attribute values as `terraform show -json` gives them; traffic None: unguarded."""
    values: dict = {"name": "churn-dev-churn", "endpoint_config_name": "churn-dev-churn-1"}
    if traffic is None:
        return {**values, "deployment_config": []}
    routing = {"type": traffic, "wait_interval_in_seconds": 900, "canary_size": []}
    return {
        **values,
        "deployment_config": [
            {
                "blue_green_update_policy": [{"traffic_routing_configuration": [routing]}],
                "auto_rollback_configuration": [{"alarms": [{"alarm_name": name} for name in alarms]}],
                "rolling_update_policy": [],
            }
        ],
    }


GUARDED = endpoint("CANARY", ["churn-dev-endpoint-5xx", "churn-dev-endpoint-latency"])


def test_guarded_rollout_turned_off_is_high():
    found = assess(change("aws_sagemaker_endpoint", GUARDED, endpoint(None, []), ["update"]))
    assert [(severity, kind) for severity, kind, _ in found] == [("high", "rollout")]
    assert "guarded rollout turned off" in found[0][2]


def test_rollback_alarms_removed_is_high_and_fewer_alarms_or_no_canary_medium():
    no_alarms = endpoint("CANARY", [])
    assert assess(change("aws_sagemaker_endpoint", GUARDED, no_alarms, ["update"])) == [
        ("high", "rollout", "auto-rollback alarms removed (churn-dev-endpoint-5xx, churn-dev-endpoint-latency): "
         "a failing model is no longer rolled back")
    ]  # fmt: skip
    fewer = endpoint("ALL_AT_ONCE", ["churn-dev-endpoint-5xx"])
    assert assess(change("aws_sagemaker_endpoint", GUARDED, fewer, ["update"])) == [
        ("medium", "rollout", "auto-rollback no longer watches churn-dev-endpoint-latency"),
        ("medium", "rollout", "traffic shifting `CANARY` -> `ALL_AT_ONCE`: a new model takes all traffic at once, "
         "no canary"),
    ]  # fmt: skip


def test_guarded_rollout_kept_added_or_unknown_is_not_a_risk():
    new_config = {**GUARDED, "endpoint_config_name": "churn-dev-churn-2"}
    assert assess(change("aws_sagemaker_endpoint", GUARDED, new_config, ["update"])) == []
    assert assess(change("aws_sagemaker_endpoint", endpoint(None, []), GUARDED, ["update"])) == []
    unknown = change(
        "aws_sagemaker_endpoint",
        GUARDED,
        {"name": "churn-dev-churn"},
        ["update"],
        unknown={"deployment_config": True},
    )
    assert assess(unknown) == []
