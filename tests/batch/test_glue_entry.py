"""The batch Glue job's reading of its arguments, where a unit test says more than the deployed runs of
tests/infra (test_local_deploy.py runs the entry script with the arguments Terraform deployed;
test_deployed_arguments.py reads dev's and prod's planned ones)."""

from __future__ import annotations

import runpy
import sys

import glue_fakes
import pytest

from churn_pipeline.batch.glue import config_from_glue_args
from churn_pipeline.tables import CatalogSettings, JobTables


@pytest.fixture
def fake_awsglue(tmp_path, monkeypatch):
    yield from glue_fakes.installed(tmp_path, monkeypatch, glue_fakes.BASE_FILES)


def test_entry_script_refuses_missing_arguments_before_any_work(repo_root, fake_awsglue, monkeypatch):
    from awsglue.utils import GlueArgumentError

    monkeypatch.setattr(sys, "argv", ["glue_batch_scoring.py", "--JOB_NAME", "x", "--TempDir", "s3://t/"])
    with pytest.raises(GlueArgumentError, match="the following arguments are required: --input_path"):
        runpy.run_path(str(repo_root / "jobs" / "glue_batch_scoring.py"), run_name="__main__")


def test_glue_arguments_are_refused_with_the_setting_s_name():
    args = {"input_path": "s3://b/in/", "table_warehouse": "s3://b/tables/", "table_database": "churn",
            "model_uri": "s3://b/model/", "scoring_mode": "endpoint", "endpoint_name": "churn", "threshold": "0.5",
            "aws_region": "eu-west-1"}  # fmt: skip
    config = config_from_glue_args(args)
    assert (config.scoring.mode, config.scoring.endpoint_name, config.scoring.region) == (
        "endpoint",
        "churn",
        "eu-west-1",
    )
    # The tables: the Glue catalog in the job's region, the deployed database and warehouse, drift written.
    assert config.tables == JobTables(
        CatalogSettings("glue", "s3://b/tables/", "eu-west-1"), "churn", drift=True
    )
    with pytest.raises(ValueError, match=r"settings.jobs.scoring.threshold \(job argument --threshold\)"):
        config_from_glue_args({**args, "threshold": "high"})
    with pytest.raises(ValueError, match="the glue catalog's warehouse must be an s3:// URI"):
        config_from_glue_args({**args, "table_warehouse": "/tmp/tables"})
    with pytest.raises(ValueError, match="mode 'endpoint' needs endpoint_name"):
        config_from_glue_args({**args, "endpoint_name": "none"})
