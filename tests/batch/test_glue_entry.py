"""The Glue entry script parses its job arguments and runs the job, against a thin fake `awsglue` package."""

from __future__ import annotations

import ast
import runpy
import sys

import duckdb
import glue_fakes
import pytest

from .helpers import GOOD_ROW, HEADER, write_lines


@pytest.fixture
def fake_awsglue(tmp_path, monkeypatch):
    yield from glue_fakes.installed(tmp_path, monkeypatch, glue_fakes.BASE_FILES)


def test_required_args_is_a_literal_list_of_the_agreed_names(repo_root):
    tree = ast.parse((repo_root / "jobs" / "glue_batch_scoring.py").read_text())
    [value] = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "REQUIRED_ARGS"]
    assert ast.literal_eval(value) == [
        "JOB_NAME", "input_path", "output_path", "rejects_path", "failed_path", "model_uri", "mode",
        "endpoint_name", "threshold", "output_format",
    ]  # fmt: skip


def test_entry_script_parses_arguments_runs_the_job_and_commits(
    spark, model_dir, tmp_path, repo_root, fake_awsglue, monkeypatch
):
    source = write_lines(tmp_path / "in.csv", [HEADER, GOOD_ROW, GOOD_ROW.replace(",265.1,", ",-1,")])
    out = tmp_path / "out"
    argv = ["glue_batch_scoring.py", "--JOB_NAME", "churn-batch", "--input_path", str(source),
            "--output_path", str(out / "scored"), "--rejects_path", str(out / "rejects"),
            "--failed_path", str(out / "failed"), "--model_uri", str(model_dir), "--mode", "embedded",
            "--endpoint_name", "none", "--threshold", "0.9", "--output_format", "parquet",
            "--TempDir", "s3://ignored/"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(repo_root / "jobs" / "glue_batch_scoring.py"), run_name="__main__")

    from awsglue.job import EVENTS

    assert [e[0] for e in EVENTS] == ["init", "commit"]
    assert EVENTS[0][1] == "churn-batch" and EVENTS[0][2]["threshold"] == "0.9"
    scored = duckdb.sql(
        f"select * from read_parquet('{out}/scored/**/*.parquet', hive_partitioning=true)"
    ).df()
    rejects = duckdb.sql(
        f"select * from read_parquet('{out}/rejects/**/*.parquet', hive_partitioning=true)"
    ).df()
    assert len(scored) == 1 and list(rejects.error_code) == ["OUT_OF_RANGE"]
    # The threshold argument reached the job: prediction is probability >= 0.9.
    assert int(scored.churn_prediction[0]) == int(scored.churn_probability[0] >= 0.9)


def test_entry_script_refuses_missing_arguments(repo_root, fake_awsglue, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["glue_batch_scoring.py", "--JOB_NAME", "x"])
    with pytest.raises(SystemExit, match="missing job arguments: \\['input_path'"):
        runpy.run_path(str(repo_root / "jobs" / "glue_batch_scoring.py"), run_name="__main__")


def test_glue_arguments_are_validated_with_names(tmp_path):
    from churn_pipeline.batch.glue import config_from_glue_args

    args = {"input_path": "s3://b/in/", "output_path": "s3://b/out/", "rejects_path": "s3://b/rej/",
            "failed_path": "s3://b/failed/", "model_uri": "s3://b/model/", "mode": "endpoint",
            "endpoint_name": "churn", "threshold": "0.5", "output_format": "csv"}  # fmt: skip
    config = config_from_glue_args(args)
    assert (config.scoring.mode, config.scoring.endpoint_name, config.output_format) == (
        "endpoint",
        "churn",
        "csv",
    )
    with pytest.raises(ValueError, match="--threshold must be a number"):
        config_from_glue_args({**args, "threshold": "high"})
    with pytest.raises(ValueError, match="mode 'endpoint' needs endpoint_name"):
        config_from_glue_args({**args, "endpoint_name": "none"})
