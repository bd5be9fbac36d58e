"""`make plan` with a read-only identity, against an S3 backend with native locking (use_lockfile), as the plan
role has it in the workflows (docs/plan-review.md): it may read the state, and write nothing.

With locking, any Terraform operation, a plan included, first writes `<key>.tflock` next to the state and
deletes it after (HashiCorp's S3 backend page, "Permissions Required"), so a read-only identity cannot even
plan. The deploy CLI plans with the options in `PLAN_OPTIONS`; this runs them with the real Terraform CLI against
a moto server that enforces IAM (tests/iam_enforcing_moto.py; moto names the bucket and key of S3 requests
itself)."""

from __future__ import annotations

import json
import os
import subprocess

import boto3
import botocore.exceptions
import iam_enforcing_moto as moto_iam
import pytest

from churn_tools.deploy import terraform as deploy
from churn_tools.local import services as local_services

BUCKET = "churn-terraform-state"
KEY = "churn-pipeline/dev/terraform.tfstate"
ROOT = """
terraform {{
  backend "s3" {{
    bucket       = "{bucket}"
    key          = "{key}"
    region       = "us-east-1"
    use_lockfile = true

    endpoints                   = {{ s3 = "{url}" }}
    use_path_style              = true
    skip_credentials_validation = true
    skip_requesting_account_id  = true
    skip_metadata_api_check     = true
    skip_region_validation      = true
  }}
}}

resource "terraform_data" "planned" {{
  input = "unchanged"
}}
"""
# What docs/plan-review.md gives the plan role on the state: read it, list the bucket. Nothing else.
READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/{KEY}"},
    ],
}


def terraform(root, credentials: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(credentials, AWS_REGION="us-east-1", TF_IN_AUTOMATION="1")
    return subprocess.run(
        ["terraform", f"-chdir={root}", *args, "-no-color"], env=env, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def state(tmp_path_factory):
    """A state in S3 (applied by an admin), then IAM enforced; yields (root, moto's URL, read-only credentials)."""
    work = tmp_path_factory.mktemp("read-only-plan")
    port = local_services.free_port()
    url = f"http://{local_services.LOOPBACK}:{port}"
    process = moto_iam.start(port, work / "moto.log", work / "decisions.jsonl")
    try:
        admin = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
        clients = {"endpoint_url": url, "region_name": "us-east-1", "aws_access_key_id": "testing",
                   "aws_secret_access_key": "testing"}  # fmt: skip
        boto3.client("s3", **clients).create_bucket(Bucket=BUCKET)
        root = work / "root"
        root.mkdir()
        (root / "main.tf").write_text(ROOT.format(bucket=BUCKET, key=KEY, url=url))
        for args in (("init", "-input=false"), ("apply", "-input=false", "-auto-approve")):
            result = terraform(root, admin, *args)
            assert result.returncode == 0, result.stderr
        iam = boto3.client("iam", **clients)
        iam.create_user(UserName="planner")
        iam.put_user_policy(UserName="planner", PolicyName="read-only", PolicyDocument=json.dumps(READ_ONLY))
        key = iam.create_access_key(UserName="planner")["AccessKey"]
        moto_iam.enforce(url, True)
        yield (
            root,
            url,
            {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]},
        )
    finally:
        local_services.stop_process(process)


def test_the_identity_may_read_the_state_and_not_write_the_lock_file(state):
    root, url, planner = state
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=planner["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=planner["AWS_SECRET_ACCESS_KEY"])  # fmt: skip
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())["resources"]
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        s3.put_object(Bucket=BUCKET, Key=f"{KEY}.tflock", Body=b"{}")


def test_the_deploy_cli_plans_with_a_read_only_identity(state):
    root, _, planner = state
    # As deploy.plan does it: init (again, as a fresh runner would), then plan.
    result = terraform(root, planner, "init", "-input=false", "-reconfigure")
    assert result.returncode == 0, result.stderr
    result = terraform(root, planner, "plan", *deploy.PLAN_OPTIONS, "-detailed-exitcode")
    assert result.returncode == 0, result.stderr  # 0: no changes, and no error
