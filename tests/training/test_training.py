"""Training entrypoint: artifacts, reproducibility, parity with a separate scorer, quality gate, SageMaker mode."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.contract.features import FeatureSpec
from churn_pipeline.model import model_version, read_model_bytes
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import split_indices, train
from churn_tools import synthetic

# Runs in a fresh interpreter: loads the archive with a bare xgboost.Booster (as the SageMaker container
# does), encodes the chosen CSV rows with the shared encode, and prints the probabilities.
SEPARATE_SCORER = r"""
import json, sys, tarfile
import numpy as np, xgboost as xgb
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.contract.features import FeatureSpec, encode
model_dir, csv_path, batches = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with tarfile.open(f"{model_dir}/model.tar.gz") as tar:
    raw = tar.extractfile("xgboost-model").read()
booster = xgb.Booster()
booster.load_model(bytearray(raw))
spec = FeatureSpec.load(model_dir)
frame = read_churn_csv(csv_path)
out = []
for rows in batches:
    matrix = encode(frame.iloc[rows], spec).matrix
    out.append(booster.predict(xgb.DMatrix(matrix)).astype(float).tolist())
print(json.dumps(out))
"""


def score_in_separate_process(model_dir: Path, csv_path: Path, batches: list[list[int]]) -> list[np.ndarray]:
    result = subprocess.run(
        [sys.executable, "-c", SEPARATE_SCORER, str(model_dir), str(csv_path), json.dumps(batches)],
        capture_output=True,
        text=True,
        check=True,
    )
    return [np.array(batch) for batch in json.loads(result.stdout)]


def test_artifacts_are_written_in_the_container_layout(model_dir):
    assert sorted(p.name for p in model_dir.iterdir()) == [
        "baseline.json",
        "dataset.json",
        "evaluation.png",
        "feature_spec.json",
        "metrics.json",
        "model.tar.gz",
    ]
    with tarfile.open(model_dir / "model.tar.gz") as tar:
        assert tar.getnames() == ["xgboost-model"]
    assert (model_dir / "evaluation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((model_dir / "metrics.json").read_text())
    spec = FeatureSpec.load(model_dir)
    # The version covers the model, its spec, its training baseline (drift) and its dataset description.
    assert metrics["model_version"] == model_version(
        read_model_bytes(model_dir),
        spec,
        (model_dir / "baseline.json").read_text(),
        (model_dir / "dataset.json").read_text(),
    )
    test = metrics["test"]
    cm = test["confusion_matrix"]
    assert sum(cm.values()) == test["rows"] == metrics["row_counts"]["test"]
    assert test["precision"] == pytest.approx(
        cm["true_positive"] / (cm["true_positive"] + cm["false_positive"])
    )
    assert metrics["row_counts"]["train"] + metrics["row_counts"]["validation"] + test["rows"] == 20_000


def test_synthetic_data_is_learnable(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["test"]["auc"] >= 0.85
    assert metrics["validation"]["auc"] >= 0.85


def test_split_is_the_tutorials_70_20_10_with_seed_1729():
    train_idx, validation_idx, test_idx = split_indices(1000)
    assert (len(train_idx), len(validation_idx), len(test_idx)) == (700, 200, 100)
    assert sorted(np.concatenate([train_idx, validation_idx, test_idx])) == list(range(1000))
    assert list(split_indices(1000)[0]) == list(train_idx)
    assert list(split_indices(1000, seed=1)[0]) != list(train_idx)


def test_separate_process_reproduces_the_training_probabilities(model_dir, synthetic_csv):
    """Parity: the archived model + shared encode in another process give the training-time probabilities,
    for the whole evaluation sample, for batches of one row, and for a batch missing most states."""
    sample = json.loads((model_dir / "metrics.json").read_text())["evaluation_sample"]
    rows, expected = sample["row_number"], np.array(sample["probability"])
    frame = read_churn_csv(synthetic_csv)
    two_states = [r for r in rows if frame.loc[r, "State"] in ("WY", "DC")]
    assert 0 < len(two_states) < len(rows)
    singles = [[r] for r in rows[:5]]
    whole, few_states, *one_each = score_in_separate_process(
        model_dir, synthetic_csv, [rows, two_states, *singles]
    )
    np.testing.assert_allclose(whole, expected, rtol=0, atol=1e-6)
    by_row = dict(zip(rows, expected, strict=True))
    np.testing.assert_allclose(few_states, [by_row[r] for r in two_states], rtol=0, atol=1e-6)
    np.testing.assert_allclose(np.concatenate(one_each), expected[:5], rtol=0, atol=1e-6)


def test_training_is_reproducible(tmp_path):
    frame = read_churn_csv(synthetic.write_csv(3000, tmp_path / "small.csv", seed=2))
    first, second = train(frame), train(frame)
    assert first.booster.save_raw() == second.booster.save_raw()
    assert first.metrics == second.metrics


def test_make_train_on_the_tutorial_data_reaches_its_auc(repo_root, real_data_path, tmp_path):
    out = tmp_path / "model"
    result = subprocess.run(
        ["make", "train", f"DATA={real_data_path}", f"MODEL_DIR={out}"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["auc"] >= 0.90
    assert metrics["row_counts"] == {
        "input": 3333,
        "rejected": 0,
        "train": 2333,
        "validation": 666,
        "test": 334,
    }
    listing = subprocess.run(
        ["tar", "tzf", str(out / "model.tar.gz")], capture_output=True, text=True, check=True
    )
    assert listing.stdout.split() == ["xgboost-model"]
    sample = metrics["evaluation_sample"]
    (reloaded,) = score_in_separate_process(out, real_data_path, [sample["row_number"]])
    np.testing.assert_allclose(reloaded, sample["probability"], rtol=0, atol=1e-6)


def test_quality_gate_fails_loudly_and_writes_no_archive(repo_root, synthetic_csv, tmp_path):
    out = tmp_path / "gated"
    result = subprocess.run(
        [sys.executable, "model_training/train.py", "--data", str(synthetic_csv), "--model-dir", str(out),
         "--min-auc", "0.99", "--num-round", "3"],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "quality gate failed: validation AUC" in result.stderr and "below MIN_AUC 0.99" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (out / "model.tar.gz").exists()
    assert json.loads((out / "metrics.json").read_text())["validation"]["auc"] < 0.99


def test_bad_training_input_is_a_clear_error(repo_root, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("State,Day Mins\nKS,1.0\n")
    result = subprocess.run(
        [sys.executable, "model_training/train.py", "--data", str(bad), "--model-dir", str(tmp_path / "m")],
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "missing column(s)" in result.stderr and "'Account Length'" in result.stderr
    assert "Traceback" not in result.stderr


def test_runs_unchanged_as_a_sagemaker_training_job(repo_root, tmp_path):
    """SageMaker script mode: data from SM_CHANNEL_TRAIN, hyperparameters from SM_HPS and CLI flags; the bare
    xgboost-model goes to SM_MODEL_DIR (SageMaker tars it), the rest to SM_OUTPUT_DATA_DIR."""
    channel, model, output = tmp_path / "train", tmp_path / "model", tmp_path / "output"
    channel.mkdir()
    synthetic.write_csv(2000, channel / "part-0.csv", seed=4)
    env = {
        **os.environ,
        "SM_CHANNEL_TRAIN": str(channel),
        "SM_MODEL_DIR": str(model),
        "SM_OUTPUT_DATA_DIR": str(output),
        "SM_HPS": json.dumps({"num_round": 7, "max_depth": 3}),
    }
    result = subprocess.run(
        [sys.executable, "model_training/train.py", "--max_depth", "2", "--min-auc", "0.5"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in model.iterdir()) == ["xgboost-model"]
    assert sorted(p.name for p in output.iterdir()) == [
        "baseline.json",
        "dataset.json",
        "evaluation.png",
        "feature_spec.json",
        "metrics.json",
    ]
    hyperparameters = json.loads((output / "metrics.json").read_text())["hyperparameters"]
    assert hyperparameters["num_round"] == 7  # from SM_HPS
    assert hyperparameters["max_depth"] == 2  # the CLI flag wins
    version = json.loads((output / "metrics.json").read_text())["model_version"]
    raw = (model / "xgboost-model").read_bytes()
    assert version == model_version(
        raw,
        FeatureSpec.load(output),
        (output / "baseline.json").read_text(),
        (output / "dataset.json").read_text(),
    )
    assert hashlib.sha256(raw).hexdigest()  # a real file, loadable below
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    assert booster.num_boosted_rounds() == 7


def test_train_on_sagemaker_without_credentials_fails_fast(repo_root, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    result = subprocess.run(
        ["make", "train", "TRAIN_ON=sagemaker", "DATA=s3://bucket/churn.csv"],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "no AWS credentials found" in result.stderr and "Traceback" not in result.stderr


# The SDK's defaults config (SAGEMAKER_USER_CONFIG_OVERRIDE): no telemetry calls to AWS from a test.
SDK_CONFIG = "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"


def _run_like_the_container(job: dict, s3, work: Path) -> subprocess.CompletedProcess:
    """What SageMaker and the training toolkit do with the created job: each channel's S3 prefix copied to
    input/data/<channel> (SM_CHANNEL_<CHANNEL>), the uploaded source unpacked and its entry script run with the
    user hyperparameters as SM_HPS and as `--name value` flags (the toolkit leaves the sagemaker_ ones out)."""
    env = {**os.environ, "SM_MODEL_DIR": str(work / "model"), "SM_OUTPUT_DATA_DIR": str(work / "output")}
    for channel in job["InputDataConfig"]:
        source = channel["DataSource"]["S3DataSource"]
        assert source["S3DataType"] == "S3Prefix"
        bucket, _, prefix = source["S3Uri"].removeprefix("s3://").partition("/")
        target = work / "input" / "data" / channel["ChannelName"]
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]:
            path = target / item["Key"][len(prefix) :].lstrip("/")
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))
        env[f"SM_CHANNEL_{channel['ChannelName'].upper()}"] = str(target)
    hyperparameters = {name: json.loads(value) for name, value in job["HyperParameters"].items()}
    bucket, _, key = hyperparameters["sagemaker_submit_directory"].removeprefix("s3://").partition("/")
    code = work / "code"
    code.mkdir()
    s3.download_file(bucket, key, str(work / "sourcedir.tar.gz"))
    with tarfile.open(work / "sourcedir.tar.gz") as tar:
        tar.extractall(code, filter="data")
    user = {name: value for name, value in hyperparameters.items() if not name.startswith("sagemaker_")}
    env["SM_HPS"] = json.dumps(user)
    flags = [part for name, value in user.items() for part in (f"--{name}", str(value))]
    return subprocess.run(
        [sys.executable, hyperparameters["sagemaker_program"], *flags],
        cwd=code, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_sagemaker_launcher_ships_the_dataset_description_with_the_job(
    repo_root, moto_server, second_description, tmp_path
):
    """`churn-train-sagemaker --dataset FILE` against the local AWS API (moto): the job it creates has a
    `dataset` channel holding the description; run as SageMaker would run it, the entry script trains on that
    description and writes it beside the model."""
    import boto3
    import telco_shape

    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="churn-training")
    train_csv = tmp_path / "telco-train.csv"
    telco_shape.generate(1500, seed=5).to_csv(train_csv, index=False)
    s3.upload_file(str(train_csv), "churn-training", "data/part-0.csv")
    (tmp_path / "sdk.yaml").write_text(SDK_CONFIG)
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(tmp_path / "sdk.yaml"),
    }
    launched = subprocess.run(
        [str(Path(sys.executable).parent / "churn-train-sagemaker"), "--data", "s3://churn-training/data/",
         "--dataset", str(second_description.source), "--bucket", "churn-training", "--min-auc", "0.5",
         "--role", "arn:aws:iam::123456789012:role/churn-sagemaker"],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert launched.returncode == 0, launched.stderr[-3000:]
    sagemaker = boto3.client("sagemaker", endpoint_url=moto_server)
    (summary,) = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    job = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
    assert sorted(c["ChannelName"] for c in job["InputDataConfig"]) == ["dataset", "train"]

    trained = _run_like_the_container(job, s3, tmp_path / "container")
    assert trained.returncode == 0, trained.stderr[-3000:]
    output = tmp_path / "container" / "output"
    assert DatasetDescription.load(output) == second_description  # dataset.json beside the model
    spec = FeatureSpec.load(output)
    vocabulary = {c.name: c.vocabulary for c in spec.categorical_columns}
    assert "Bank transfer (automatic)" in vocabulary["PaymentMethod"]  # trained on the Telco-shaped columns
    assert sorted(p.name for p in (tmp_path / "container" / "model").iterdir()) == ["xgboost-model"]


def test_the_sagemaker_launcher_refuses_a_description_it_cannot_read(repo_root, tmp_path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "churn-train-sagemaker"), "--data", "s3://bucket/churn.csv",
         "--dataset", str(tmp_path / "absent.json"), "--role", "arn:aws:iam::123456789012:role/churn-sagemaker"],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "absent.json: cannot read the dataset description" in result.stderr
    assert "Traceback" not in result.stderr
