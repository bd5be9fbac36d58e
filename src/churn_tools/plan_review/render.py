"""The Markdown summary of a plan: counts, risks on top, resources by module, checkov verdict, cost estimate."""

from __future__ import annotations

from collections import defaultdict

from churn_tools.plan_review.checkov import Verdict
from churn_tools.plan_review.cost import Estimate, LineItem, monthly
from churn_tools.plan_review.plan import ACTIONS, Plan
from churn_tools.plan_review.risks import Risk

# Hidden marker the workflow looks for to update its one comment instead of adding another.
COMMENT_MARKER = "<!-- churn-pipeline:plan-review -->"
SYMBOL = {"replace": "±", "delete": "-", "update": "~", "create": "+", "no-op": " "}
SEVERITY = {"high": "🔴 high", "medium": "🟠 medium", "note": "⚪ note"}
MAX_NOTES = 20


def _counts_line(plan: Plan) -> str:
    counts = plan.counts()
    words = {"create": "to add", "update": "to change", "replace": "to replace", "delete": "to destroy"}
    line = ", ".join(f"**{counts[a]}** {words[a]}" for a in ("create", "update", "replace", "delete"))
    return f"{line}, {counts['no-op']} unchanged."


def _risks(risks: list[Risk]) -> list[str]:
    alarms = [r for r in risks if r.severity != "note"]
    notes = [r for r in risks if r.severity == "note"]
    lines = ["### Risks", ""]
    if not alarms:
        lines.append(
            "No risk flags: nothing data-bearing destroyed or replaced, no IAM widening, no protection loosened."
        )
    for risk in alarms:
        lines.append(f"- {SEVERITY[risk.severity]} **{risk.kind}** `{risk.address}`: {risk.detail}")
    if notes:
        lines += ["", f"<details><summary>{len(notes)} notes</summary>", ""]
        lines += [
            f"- {SEVERITY[r.severity]} **{r.kind}** `{r.address}`: {r.detail}" for r in notes[:MAX_NOTES]
        ]
        if len(notes) > MAX_NOTES:
            lines.append(f"- ... and {len(notes) - MAX_NOTES} more")
        lines += ["", "</details>"]
    return lines


def _destructive(plan: Plan) -> list[str]:
    changes = plan.by_action("replace") + plan.by_action("delete")
    if not changes:
        return []
    lines = ["### Replacements and deletions", "", "| Action | Resource | Forced by |", "|---|---|---|"]
    for change in changes:
        forced = ", ".join(f"`{p}`" for p in change.forced_by) or (change.action_reason or "")
        lines.append(f"| {change.action} | `{change.address}` | {forced} |")
    return lines


def _by_module(plan: Plan) -> list[str]:
    changed = [c for c in plan.changes if c.action != "no-op"]
    if not changed:
        return ["### Resources", "", "No changes: the infrastructure matches the configuration."]
    groups = defaultdict(list)
    for change in changed:
        groups[change.module or "(root)"].append(change)
    lines = ["### Resources by module", ""]
    for module in sorted(groups):
        lines += [f"**{module}**", "", "| | Action | Resource | Changed attributes |", "|---|---|---|---|"]
        for change in sorted(groups[module], key=lambda c: (ACTIONS.index(c.action), c.address)):
            attrs = (
                ", ".join(f"`{a}`" for a in change.changed_attributes()) if change.action == "update" else ""
            )
            local = change.address.removeprefix(f"{change.module}.") if change.module else change.address
            lines.append(f"| `{SYMBOL[change.action]}` | {change.action} | `{local}` | {attrs} |")
        lines.append("")
    return lines


def _checkov(verdict: Verdict | None) -> list[str]:
    lines = ["### Policy checks (checkov)", ""]
    if verdict is None:
        return [*lines, "Not run for this summary."]
    word = "PASS" if verdict.ok else "FAIL"
    lines.append(
        f"**{word}**: {verdict.passed} passed, {verdict.failed} failed, {verdict.skipped} skipped"
        + (f", {verdict.parsing_errors} files not parsed" if verdict.parsing_errors else "")
        + (f" (checkov {verdict.version})" if verdict.version else "")
        + "."
    )
    if verdict.failures:
        lines += ["", "| Check | Resource | File |", "|---|---|---|"]
        lines += [f"| {f.check_id} {f.name} | `{f.resource}` | {f.file} |" for f in verdict.failures]
    return lines


def _signed(figure: tuple[float, float]) -> str:
    return " to ".join(f"{'+' if v >= 0 else '-'}${abs(v):,.2f}" for v in dict.fromkeys(figure))


def _figure(item: LineItem | None) -> str:
    return monthly((item.low, item.high)) if item else "-"


def _paired(
    before: list[LineItem], after: list[LineItem]
) -> list[tuple[str, LineItem | None, LineItem | None]]:
    """Line items of the same resource side by side (the n-th item of an address with its n-th item before)."""

    def keyed(items: list[LineItem]) -> dict[tuple[str, int], LineItem]:
        seen: dict[str, int] = defaultdict(int)
        out = {}
        for item in items:
            out[(item.address, seen[item.address])] = item
            seen[item.address] += 1
        return out

    old, new = keyed(before), keyed(after)
    return [(key[0], old.get(key), new.get(key)) for key in sorted(set(old) | set(new))]


def _cost(estimate: Estimate) -> list[str]:
    prices = estimate.prices
    lines = [
        "### Estimated monthly cost (estimate, not a bill)",
        "",
        f"On-demand list prices of **{prices['region']}** as of **{prices['as_of']}** "
        f"({prices['currency']}, {prices['hours_per_month']} h/month; table in "
        f"`src/churn_tools/plan_review/prices_{prices['region']}.json`). Usage-priced items are listed, not added.",
    ]
    lines += [f"> ⚠ {w}" for w in estimate.warnings]
    lines += ["", "| Resource | Line item | Before | After |", "|---|---|---:|---:|"]
    for address, before, after in _paired(estimate.before, estimate.after):
        what = (after or before).what
        if before and after and before.what != after.what:
            what += f" (was: {before.what})"
        lines.append(f"| `{address}` | {what} | {_figure(before)} | {_figure(after)} |")
    lines += [
        f"| **Total** | | **{monthly(estimate.total(estimate.before))}** | **{monthly(estimate.total(estimate.after))}** |",
        "",
        f"**Monthly delta against the prior state: {_signed(estimate.delta)}**",
    ]
    if estimate.usage_priced:
        lines += ["", "Usage-priced, not in the totals:", ""] + [f"- {u}" for u in estimate.usage_priced]
    return lines


def render(
    plan: Plan,
    risks: list[Risk],
    estimate: Estimate | None,
    verdict: Verdict | None,
    title: str = "Terraform plan",
) -> str:
    lines = [f"## {title}", "", _counts_line(plan), ""]
    lines += _risks(risks) + [""]
    destructive = _destructive(plan)
    lines += destructive + ([""] if destructive else [])
    lines += _by_module(plan) + [""]
    lines += _checkov(verdict) + [""]
    if estimate is not None:
        lines += _cost(estimate) + [""]
    lines.append(
        f"<sub>terraform {plan.terraform_version}; summary by `python -m churn_tools.plan_review`</sub>"
    )
    return "\n".join(lines) + "\n"
