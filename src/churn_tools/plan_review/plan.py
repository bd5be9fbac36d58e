"""The resource changes of a `terraform show -json` plan, reduced to what a reviewer needs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Order in which actions are listed: the destructive ones first.
ACTIONS = ("replace", "delete", "update", "create", "no-op")


class PlanError(ValueError):
    pass


@dataclass(frozen=True)
class ResourceChange:
    address: str
    module: str  # "" for the root module
    type: str
    name: str
    action: str  # one of ACTIONS
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    after_unknown: dict[str, Any] = field(default_factory=dict)
    replace_paths: tuple[tuple[Any, ...], ...] = ()
    action_reason: str | None = None

    @property
    def forced_by(self) -> list[str]:
        """Attributes that force the replacement, as dotted paths (`production_variants.0.instance_type`)."""
        return [".".join(str(part) for part in path) for path in self.replace_paths]

    def changed_attributes(self) -> list[str]:
        """Top-level attributes whose value differs between before and after (unknown-after counts as changed)."""
        before, after = self.before or {}, self.after or {}
        keys = sorted(set(before) | set(after) | set(self.after_unknown))
        return [
            key
            for key in keys
            if key not in ("tags_all",)
            and (before.get(key) != after.get(key) or _has_unknown(self.after_unknown.get(key)))
        ]


@dataclass(frozen=True)
class Plan:
    changes: tuple[ResourceChange, ...]
    variables: dict[str, Any]
    terraform_version: str

    def by_action(self, action: str) -> list[ResourceChange]:
        return [change for change in self.changes if change.action == action]

    def counts(self) -> dict[str, int]:
        return {action: len(self.by_action(action)) for action in ACTIONS}

    @property
    def region(self) -> str | None:
        region = self.variables.get("region")
        return region if isinstance(region, str) else None


def _has_unknown(value: Any) -> bool:
    if value is True:
        return True
    if isinstance(value, dict):
        return any(_has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unknown(item) for item in value)
    return False


def action_of(actions: list[str]) -> str:
    """Terraform's action list as one word: ["delete","create"] and ["create","delete"] are both a replace."""
    if sorted(actions) == ["create", "delete"]:
        return "replace"
    if actions in (["create"], ["delete"], ["update"], ["no-op"]):
        return actions[0]
    raise PlanError(f"unexpected action list {actions!r} in the plan")


def parse(document: dict[str, Any]) -> Plan:
    """A Plan from the parsed JSON; raises PlanError naming what is missing if it is not a plan."""
    if "format_version" not in document or "terraform_version" not in document:
        raise PlanError(
            "not a Terraform JSON document: no format_version/terraform_version (use `terraform show -json`)"
        )
    if "planned_values" not in document and "resource_changes" not in document:
        raise PlanError("this is a state, not a plan: run `terraform show -json <planfile>` on a saved plan")
    changes = []
    for raw in document.get("resource_changes", []):
        if raw.get("mode") != "managed":
            continue  # data sources are read, not changed
        change = raw["change"]
        changes.append(
            ResourceChange(
                address=raw["address"],
                module=raw.get("module_address", ""),
                type=raw["type"],
                name=raw["name"],
                action=action_of(change["actions"]),
                before=change.get("before"),
                after=change.get("after"),
                after_unknown=change.get("after_unknown") or {},
                replace_paths=tuple(tuple(path) for path in change.get("replace_paths") or []),
                action_reason=raw.get("action_reason"),
            )
        )
    variables = {name: spec.get("value") for name, spec in (document.get("variables") or {}).items()}
    return Plan(tuple(changes), variables, document["terraform_version"])


def load(path: Path) -> Plan:
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"{path} is not JSON ({exc}); pass the output of `terraform show -json <planfile>`"
        ) from exc
    return parse(document)
