"""Every AWS session a workflow job opens lasts as long as the job may run.

aws-actions/configure-aws-credentials gives an OIDC session of one hour unless `role-duration-seconds` says
otherwise (its action.yml: "default: 6 hours, 1 hour for OIDC/specified aws-session-token"). A job that runs
longer, as apply-dev does while the guarded rollout bakes its canary, would lose its credentials half-way through
an apply: the state could not be written back."""

from __future__ import annotations

import pytest
import yaml

from .conftest import REPO_ROOT

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
CREDENTIALS_ACTION = "aws-actions/configure-aws-credentials@"
OIDC_DEFAULT_SECONDS = 3600


def aws_sessions() -> list[tuple[str, int, int]]:
    """(workflow:job, job timeout in seconds, session length in seconds) of every configure-aws-credentials step."""
    found = []
    for workflow in WORKFLOWS:
        for name, job in yaml.safe_load(workflow.read_text())["jobs"].items():
            for step in job.get("steps", []):
                if step.get("uses", "").startswith(CREDENTIALS_ACTION):
                    seconds = int(step["with"].get("role-duration-seconds", OIDC_DEFAULT_SECONDS))
                    found.append((f"{workflow.name}:{name}", int(job["timeout-minutes"]) * 60, seconds))
    return found


def test_the_workflows_open_aws_sessions():
    assert {job for job, _, _ in aws_sessions()} >= {"deploy-dev.yml:plan-dev", "deploy-dev.yml:apply-dev"}


@pytest.mark.parametrize("job, timeout, session", aws_sessions(), ids=[job for job, _, _ in aws_sessions()])
def test_the_aws_session_lasts_as_long_as_the_job_may_run(job, timeout, session):
    assert session >= timeout, (
        f"{job}: its AWS session ends after {session} s but the job may run {timeout} s (timeout-minutes); "
        "set role-duration-seconds (and the role's MaxSessionDuration) to cover it"
    )
