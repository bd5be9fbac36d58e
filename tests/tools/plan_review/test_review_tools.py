"""checkov's verdict in the summary, the dev configuration's cost, and the workflow files validated.

checkov and check-jsonschema run from their own pinned venv (`make review-tools`, built here if absent).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from churn_tools.plan_review import checkov
from churn_tools.plan_review.__main__ import main, summarise
from churn_tools.plan_review.cost import load_prices

REPO_ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))


def make(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(["make", "-C", str(REPO_ROOT), *args], capture_output=True, text=True)
    assert result.returncode == 0, f"make {' '.join(args)} failed:\n{result.stderr}\n{result.stdout[-2000:]}"
    return result


def test_checkov_verdict_matches_its_report(checkov_report, fixture_plan):
    raw = json.loads(checkov_report.read_text())
    summary = raw["summary"]
    verdict = checkov.load(checkov_report)
    assert (verdict.passed, verdict.failed, verdict.skipped) == (
        summary["passed"],
        summary["failed"],
        summary["skipped"],
    )
    assert verdict.passed > 0  # it did check the project's terraform
    text = summarise(fixture_plan("noop"), "noop", checkov_path=checkov_report)
    word = "PASS" if verdict.ok else "FAIL"
    assert f"**{word}**: {summary['passed']} passed, {summary['failed']} failed" in text
    for failed in raw["results"].get("failed_checks", []):
        assert f"| {failed['check_id']} " in text and f"`{failed['resource']}`" in text


def test_dev_configuration_cost(dev_configuration_plan, capsys):
    """The acceptance figure: dev's tfvars planned from nothing; line items printed for the closing note."""
    text = summarise(dev_configuration_plan, "dev configuration")
    cost_section = text.split("### Estimated monthly cost", 1)[1]
    with capsys.disabled():
        print("\n### Estimated monthly cost" + cost_section)
    prices, _ = load_prices("us-east-1")
    rate, hours = prices["sagemaker_realtime_instance_hour"]["ml.m5.large"], prices["hours_per_month"]
    assert "no price table for eu-west-1" in cost_section  # dev's region, said, not hidden
    assert (
        f"ml.m5.large x 1-2 (autoscaling) instances x 730 h x ${rate}/h | - | ${rate * hours:,.2f} to ${2 * rate * hours:,.2f} |"
        in text
    )
    streaming = 2 * prices["glue_dpu_per_worker"]["G.1X"] * hours * prices["glue_dpu_hour"]
    assert f"always on: 2 DPU x 730 h x $0.44/DPU-h | - | ${streaming:,.2f} |" in text
    assert re.search(r"Monthly delta against the prior state: \+\$[\d,]+\.\d\d to \+\$[\d,]+\.\d\d\*\*", text)


def test_workflows_are_valid_github_workflows(review_tools):
    assert {path.name for path in WORKFLOWS} == {"pull-request.yml", "deploy-dev.yml"}
    make("workflow-lint")


def test_the_validator_rejects_a_broken_workflow(review_tools, tmp_path):
    broken = tmp_path / "broken.yml"
    text = (REPO_ROOT / ".github" / "workflows" / "deploy-dev.yml").read_text()
    broken.write_text(text.replace("id-token: write", "id-token: maybe"))
    result = subprocess.run(
        [review_tools / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "id-token" in result.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_and_aws_access_is_oidc_only(path):
    text = path.read_text()
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", use) for use in uses), uses
    assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    assert "role-to-assume: ${{ vars." in text and "id-token: write" in text


def test_apply_to_dev_runs_behind_the_environment():
    text = (REPO_ROOT / ".github" / "workflows" / "deploy-dev.yml").read_text()
    # The environment gates the job that applies the saved plan (tests/infra/test_reviewed_plan.py: which plan).
    apply_job = text[text.index("\n  apply-dev:\n") :]
    assert re.search(r"\n    environment: dev\n", apply_job) and "make apply ENV=dev" in apply_job
    assert "make deploy" not in text


def test_comment_mode_starts_with_the_marker_the_workflow_updates_by(fixture_plan, tmp_path):
    out = tmp_path / "comment.md"
    assert (
        main(
            [
                "--comment",
                f"dev={fixture_plan('noop-storage')}",
                f"prod={fixture_plan('grow')}",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert text.startswith("<!-- churn-pipeline:plan-review -->\n## Terraform plan: dev\n")
    assert text.count("<!-- churn-pipeline:plan-review -->") == 1 and "## Terraform plan: prod" in text
