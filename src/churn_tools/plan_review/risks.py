"""Risk rules: data-bearing resources destroyed or replaced, IAM widened, encryption or public access loosened,
an endpoint's guarded rollout (deployment guardrails) turned off."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from churn_tools.plan_review.plan import Plan, ResourceChange

# What is lost when these go away: their data, or traffic that depends on them.
DATA_BEARING = {
    "aws_s3_bucket": "S3 bucket: its objects",
    "aws_kinesis_stream": "Kinesis stream: records not yet consumed, consumers' positions",
    "aws_glue_catalog_table": "Glue catalog table: schema and partitions",
    "aws_glue_catalog_database": "Glue catalog database: every table in it",
    "aws_sagemaker_endpoint": "SageMaker endpoint: serving traffic stops while it is recreated",
    "aws_kms_key": "KMS key: everything encrypted with it becomes unreadable",
    "aws_athena_workgroup": "Athena workgroup: query history and saved settings",
    "aws_dynamodb_table": "DynamoDB table: its items",
    "aws_cloudwatch_log_group": "CloudWatch log group: its logs",
}

# Attributes that hold an IAM policy document (identity policies and resource policies alike).
POLICY_ATTRIBUTES = ("policy", "assume_role_policy")
# Their `policy` is a computed mirror of a separate *_policy resource, which is where a change is judged.
POLICY_MIRRORS = {"aws_s3_bucket", "aws_sns_topic", "aws_sqs_queue"}

ENCRYPTION_KEY = re.compile(
    r"(^|_)(kms_key|kms_key_id|kms_key_arn|kms_master_key_id|encryption_type|sse_algorithm|encrypted|"
    r"enable_key_rotation|encryption_option|enforce_workgroup_configuration|.*encryption_mode)$"
)
PUBLIC_ACCESS_KEY = re.compile(
    r"^(block_public_acls|block_public_policy|ignore_public_acls|restrict_public_buckets)$"
)
WEAK_VALUES = (None, "", False, "NONE", "DISABLED", "AES256", "SSE_S3")
# Resources whose deletion alone removes a protection from something that stays.
PROTECTION_RESOURCES = {
    "aws_s3_bucket_public_access_block": "public access block",
    "aws_s3_bucket_server_side_encryption_configuration": "default encryption",
    "aws_glue_security_configuration": "Glue security configuration (encryption of outputs, logs, bookmarks)",
}


@dataclass(frozen=True)
class Risk:
    severity: str  # "high" | "medium" | "note"
    kind: (
        str  # "data-loss" | "iam-widening" | "encryption" | "public-access" | "iam-unknown" | "iam-wildcard"
        # | "rollout"
    )
    address: str
    detail: str


def assess(plan: Plan) -> list[Risk]:
    risks: list[Risk] = []
    for change in plan.changes:
        risks += _data_loss(change)
        risks += _policy_widening(change)
        risks += _bucket_policy_removed(change, plan)
        risks += _protection_removed(change, plan)
        risks += _settings_loosened(change)
        risks += _rollout_unguarded(change)
    order = {"high": 0, "medium": 1, "note": 2}
    return sorted(risks, key=lambda risk: (order[risk.severity], risk.address, risk.detail))


def _data_loss(change: ResourceChange) -> list[Risk]:
    if change.type not in DATA_BEARING or change.action not in ("delete", "replace"):
        return []
    verb = "destroyed" if change.action == "delete" else "replaced (destroyed, then created empty)"
    forced = f"; forced by {', '.join(f'`{p}`' for p in change.forced_by)}" if change.forced_by else ""
    return [
        Risk("high", "data-loss", change.address, f"{verb}. Loses the {DATA_BEARING[change.type]}{forced}")
    ]


# ---- IAM -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    principal: str
    action: str
    resource: str
    condition: str


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principals(statement: dict[str, Any]) -> list[str]:
    principal = statement.get("Principal")
    if principal is None:
        return [""]  # identity policy: the principal is whoever the policy is attached to
    if principal == "*":
        return ["*"]
    return [f"{kind}:{who}" for kind, whos in sorted(principal.items()) for who in _as_list(whos)]


def statements(document: str | dict | None) -> list[dict[str, Any]]:
    if not document:
        return []
    parsed = json.loads(document) if isinstance(document, str) else document
    return _as_list(parsed.get("Statement"))


def grants(document: str | dict | None) -> set[Grant]:
    """Every (principal, action, resource, condition) an Allow statement grants; NotAction/NotResource kept literal."""
    found = set()
    for statement in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = [f"NOT {a}" for a in _as_list(statement.get("NotAction"))] or _as_list(
            statement.get("Action")
        )
        resources = (
            [f"NOT {r}" for r in _as_list(statement.get("NotResource"))]
            or _as_list(statement.get("Resource"))
            or ["*"]
        )
        condition = (
            json.dumps(statement.get("Condition"), sort_keys=True) if statement.get("Condition") else ""
        )
        for principal in _principals(statement):
            for action in actions:
                for resource in resources:
                    found.add(Grant(principal, action, resource, condition))
    return found


def _covers(old: Grant, new: Grant) -> bool:
    if new.action.startswith("NOT ") or new.resource.startswith("NOT "):
        return old == new
    principal = old.principal in ("*", "AWS:*") or old.principal == new.principal
    action = fnmatchcase(new.action.lower(), old.action.lower())
    resource = fnmatchcase(new.resource, old.resource)
    condition = not old.condition or old.condition == new.condition
    return principal and action and resource and condition


def widened_grants(before: str | dict | None, after: str | dict | None) -> list[Grant]:
    """Grants in `after` that no grant in `before` covers (wildcards in `before` cover what they match)."""
    old = grants(before)
    return sorted((g for g in grants(after) if not any(_covers(o, g) for o in old)), key=lambda g: repr(g))


def removed_denies(before: str | dict | None, after: str | dict | None) -> list[dict[str, Any]]:
    def key(statement: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in statement.items() if k != "Sid"}, sort_keys=True)

    kept = {key(s) for s in statements(after) if s.get("Effect") == "Deny"}
    return [s for s in statements(before) if s.get("Effect") == "Deny" and key(s) not in kept]


def _is_wildcard(grant: Grant) -> bool:
    """A service-wide or all-actions grant, a grant to anyone, or an identity policy on every resource.

    `Resource: "*"` in a resource policy (a key policy, a trust policy) means the resource itself: not wide.
    """
    identity_policy = grant.principal == ""
    return (
        grant.action == "*"
        or grant.action.endswith(":*")
        or grant.principal in ("*", "AWS:*")
        or (identity_policy and grant.resource == "*")
    )


def _describe(grant: Grant) -> str:
    who = f" to `{grant.principal}`" if grant.principal else ""
    when = " with a condition" if grant.condition else ""
    return f"`{grant.action}` on `{grant.resource}`{who}{when}"


def _policy_widening(change: ResourceChange) -> list[Risk]:
    risks: list[Risk] = []
    if change.action == "delete" or change.type in POLICY_MIRRORS:
        return risks
    before, after = change.before or {}, change.after or {}
    documents = [
        (attr, before.get(attr), after.get(attr))
        for attr in POLICY_ATTRIBUTES
        if attr in after or change.after_unknown.get(attr) is True  # an unknown value is left out of `after`
    ]
    documents += [
        (f"inline_policy[{inline.get('name')}]", _inline(before, inline.get("name")), inline.get("policy"))
        for inline in after.get("inline_policy") or []
    ]
    for attr, old, new in documents:
        if change.after_unknown.get(attr) is True:
            risks.append(
                Risk("note", "iam-unknown", change.address, f"`{attr}` is known only after apply: review it")
            )
            continue
        if old is None and change.action == "create":
            wide = [g for g in grants(new) if _is_wildcard(g)]
            risks += [
                Risk("note", "iam-wildcard", change.address, f"new `{attr}` grants {_describe(g)}")
                for g in sorted(wide, key=repr)
            ]
            continue
        for grant in widened_grants(old, new):
            risks.append(
                Risk("medium", "iam-widening", change.address, f"`{attr}` now grants {_describe(grant)}")
            )
        for statement in removed_denies(old, new):
            sid = statement.get("Sid") or json.dumps(statement.get("Action"))
            risks.append(
                Risk("medium", "iam-widening", change.address, f"`{attr}` no longer has Deny `{sid}`")
            )
    return risks


def _bucket_policy_removed(change: ResourceChange, plan: Plan) -> list[Risk]:
    """A deleted bucket policy takes its Deny statements (TLS only, ...) with it; matters if the bucket stays."""
    if (
        change.type != "aws_s3_bucket_policy"
        or change.action != "delete"
        or not _protected_stays(change, plan)
    ):
        return []
    return [
        Risk("medium", "iam-widening", change.address, f"bucket policy deleted with its Deny `{sid}`")
        for sid in (
            s.get("Sid") or json.dumps(s.get("Action"))
            for s in removed_denies(change.before.get("policy"), None)
        )
    ]


def _inline(document: dict[str, Any], name: str | None) -> str | None:
    for inline in document.get("inline_policy") or []:
        if inline.get("name") == name:
            return inline.get("policy")
    return None


# ---- encryption and public access ----------------------------------------------------------------------


def _protected_stays(change: ResourceChange, plan: Plan) -> bool:
    """Whether what the deleted protection protected is still there after the plan (else nothing is exposed)."""
    before = change.before or {}
    if change.type == "aws_glue_security_configuration":
        users = [c for c in plan.changes if c.type == "aws_glue_job"]
        return any((c.after or {}).get("security_configuration") == before.get("name") for c in users)
    buckets = [c for c in plan.changes if c.type == "aws_s3_bucket"]
    return any((c.after or {}).get("bucket") == before.get("bucket") for c in buckets) or not buckets


def _protection_removed(change: ResourceChange, plan: Plan) -> list[Risk]:
    if (
        change.type not in PROTECTION_RESOURCES
        or change.action != "delete"
        or not _protected_stays(change, plan)
    ):
        return []
    kind = "public-access" if "public_access" in change.type else "encryption"
    return [Risk("high", kind, change.address, f"{PROTECTION_RESOURCES[change.type]} removed")]


def leaves(value: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """Every scalar of a nested attribute value by its path; an empty block or list counts as a None leaf."""
    if isinstance(value, dict):
        out: dict[tuple[Any, ...], Any] = {}
        for key, item in value.items():
            out.update(leaves(item, (*path, key)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for index, item in enumerate(value):
            out.update(leaves(item, (*path, index)))
        return out
    return {path: None if value == [] else value}


def _unknown(after_unknown: Any, path: tuple[Any, ...]) -> bool:
    node = after_unknown
    for part in path:
        if node is True:
            return True
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return node is True


def _weaker(key: str, old: Any, new: Any) -> bool:
    if old in WEAK_VALUES or old == new:
        return False
    if key == "sse_algorithm":
        return old == "aws:kms" and new in (None, "", "AES256")
    return new in WEAK_VALUES


def _settings_loosened(change: ResourceChange) -> list[Risk]:
    if change.action not in ("update", "replace"):
        return []
    before = leaves(change.before or {})
    after = leaves(change.after or {})
    risks = []
    for path, old in sorted(before.items(), key=lambda item: repr(item[0])):
        key = next((part for part in reversed(path) if isinstance(part, str)), "")
        if _unknown(change.after_unknown, path):
            continue
        new = after.get(path)
        dotted = ".".join(str(part) for part in path)
        if PUBLIC_ACCESS_KEY.match(key) and old is True and new is not True:
            risks.append(Risk("high", "public-access", change.address, f"`{dotted}` {old} -> {new}"))
        elif ENCRYPTION_KEY.search(key) and _weaker(key, old, new):
            risks.append(Risk("high", "encryption", change.address, f"`{dotted}` `{old}` -> `{new}`"))
    acl = (change.after or {}).get("acl")
    if isinstance(acl, str) and acl.startswith("public-"):
        risks.append(Risk("high", "public-access", change.address, f"`acl` is now `{acl}`"))
    return risks


# ---- guarded rollout (SageMaker deployment guardrails) -----------------------------------------------------
# modules/model_endpoint sets deployment_config: blue/green with a canary, rolled back on CloudWatch alarms. Without
# it, a model update shifts all traffic at once and nothing rolls a bad model back:
# https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html
GRADUAL_TRAFFIC = ("CANARY", "LINEAR")


def _rollout(values: dict[str, Any] | None) -> tuple[bool, str | None, list[str]]:
    """(guarded, traffic routing type, rollback alarm names) of an aws_sagemaker_endpoint's attribute values."""
    config = _first((values or {}).get("deployment_config"))
    if config is None:
        return False, None, []
    blue_green = _first(config.get("blue_green_update_policy")) or {}
    routing = _first(blue_green.get("traffic_routing_configuration")) or {}
    rollback = _first(config.get("auto_rollback_configuration")) or {}
    alarms = sorted(alarm.get("alarm_name", "") for alarm in _as_list(rollback.get("alarms")) if alarm)
    return True, routing.get("type"), alarms


def _first(value: Any) -> Any:
    """The single block of a Terraform nested block list (max_items 1), or None when it is absent."""
    return value[0] if isinstance(value, list) and value else None


def _rollout_unguarded(change: ResourceChange) -> list[Risk]:
    if change.type != "aws_sagemaker_endpoint" or change.action not in ("update", "replace"):
        return []
    if isinstance(change.after_unknown, dict) and change.after_unknown.get("deployment_config") is True:
        return []
    was_guarded, old_traffic, old_alarms = _rollout(change.before)
    guarded, traffic, alarms = _rollout(change.after)
    if not was_guarded:
        return []
    if not guarded:
        detail = "guarded rollout turned off (`deployment_config` removed): the next model update shifts all traffic at once and no alarm rolls it back"
        return [Risk("high", "rollout", change.address, detail)]
    risks = []
    if old_alarms and not alarms:
        detail = f"auto-rollback alarms removed ({', '.join(old_alarms)}): a failing model is no longer rolled back"
        risks.append(Risk("high", "rollout", change.address, detail))
    elif set(old_alarms) - set(alarms):
        detail = f"auto-rollback no longer watches {', '.join(sorted(set(old_alarms) - set(alarms)))}"
        risks.append(Risk("medium", "rollout", change.address, detail))
    if old_traffic in GRADUAL_TRAFFIC and traffic not in GRADUAL_TRAFFIC:
        detail = f"traffic shifting `{old_traffic}` -> `{traffic}`: a new model takes all traffic at once, no canary"
        risks.append(Risk("medium", "rollout", change.address, detail))
    return risks
