"""Summarise Terraform plans as Markdown for a pull request: python -m churn_tools.plan_review PLAN_JSON...

Each PLAN_JSON is the output of `terraform show -json <planfile>`, optionally titled `dev=plan-dev.json`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from churn_tools.plan_review import checkov, cost, plan, risks
from churn_tools.plan_review.render import COMMENT_MARKER, render


def summarise(
    plan_path: Path,
    title: str,
    checkov_path: Path | None = None,
    prices_path: Path | None = None,
    batch_run_minutes: float = cost.DEFAULT_BATCH_RUN_MINUTES,
) -> str:
    parsed = plan.load(plan_path)
    prices, warnings = cost.load_prices(parsed.region, prices_path)
    estimate = cost.estimate(parsed, prices, batch_run_minutes)
    estimate.warnings = warnings + estimate.warnings
    verdict = checkov.load(checkov_path) if checkov_path else None
    return render(parsed, risks.assess(parsed), estimate, verdict, title)


def _titled(argument: str) -> tuple[str, Path]:
    title, sep, path = argument.partition("=")
    return (f"Terraform plan: {title}", Path(path)) if sep else ("Terraform plan", Path(argument))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_tools.plan_review", description=__doc__.splitlines()[0]
    )
    parser.add_argument("plans", nargs="+", metavar="[TITLE=]PLAN_JSON", help="`terraform show -json` output")
    parser.add_argument(
        "--checkov", type=Path, help="checkov report (`checkov -o json`) to give the verdict of"
    )
    parser.add_argument(
        "--prices", type=Path, help="price table JSON (default: the repository's, by plan region)"
    )
    parser.add_argument(
        "--batch-run-minutes",
        type=float,
        default=cost.DEFAULT_BATCH_RUN_MINUTES,
        help=f"assumed length of one scheduled batch job run (default {cost.DEFAULT_BATCH_RUN_MINUTES})",
    )
    parser.add_argument(
        "--comment", action="store_true", help="start with the marker the PR workflow updates by"
    )
    parser.add_argument("--out", type=Path, help="write the Markdown here instead of stdout")
    args = parser.parse_args(argv)
    sections = [COMMENT_MARKER] if args.comment else []
    try:
        for argument in args.plans:
            title, path = _titled(argument)
            sections.append(summarise(path, title, args.checkov, args.prices, args.batch_run_minutes))
    except (OSError, plan.PlanError, checkov.CheckovError, cost.PriceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = "\n".join(sections)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
