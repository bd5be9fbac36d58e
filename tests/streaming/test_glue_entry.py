"""The streaming Glue job's readers of its deployed arguments, where a unit test says more than the deployed
runs of tests/infra (test_local_deploy.py runs the entry script with the arguments Terraform deployed;
test_deployed_arguments.py reads dev's and prod's planned ones)."""

from __future__ import annotations

import json

import pytest

from churn_pipeline import tables
from churn_pipeline.contract.settings import SettingError
from churn_pipeline.streaming import glue
from churn_pipeline.streaming import handler as h


def test_the_query_id_is_read_once_per_run_so_the_metadata_file_may_age(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "metadata").write_text(json.dumps({"id": "3f0c-query"}) + "\n")
    handler = glue.handler_from_args(
        {"JOB_NAME": "churn-stream", "stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/s",
         "checkpoint_path": str(checkpoint), "table_warehouse": "s3://results/stream/tables",
         "table_database": "churn",
         "model_uri": str(tmp_path / "model"),
         "scoring_mode": "embedded", "endpoint_name": "none", "threshold": "0.5", "aws_region": "eu-west-1"}
    )  # fmt: skip
    assert handler.query_id == "3f0c-query"
    # Spark writes the file once, when the query first starts; a stream that runs for months must not need
    # it again (a lifecycle rule expired checkpoints/ after 30 days).
    (checkpoint / "metadata").unlink()
    assert [handler.query_id for _ in range(3)] == ["3f0c-query"] * 3
    assert handler.tables == h.StreamTables(
        tables.CatalogSettings("glue", "s3://results/stream/tables", "eu-west-1"), "churn", drift=True
    )


@pytest.mark.parametrize(
    ("arn", "region", "problem"),
    [
        ("arn:aws:kinesis:us-east-1:123456789012:stream/s", "eu-west-1", "is not in the job's region"),
        ("churn-stream", "eu-west-1", "--stream_arn must be a Kinesis stream ARN"),
        ("arn:aws:kinesis:eu-west-1:123456789012:stream/s", "Ireland", "--aws_region must be an AWS region"),
    ],
)
def test_the_region_is_the_stream_s_and_a_region_name(arn, region, problem):
    with pytest.raises(SettingError, match=problem):
        glue.job_region({"stream_arn": arn, "aws_region": region})
