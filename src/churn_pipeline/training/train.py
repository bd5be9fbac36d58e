"""Training: the tutorial's XGBoost recipe, the feature contract, evaluation and a quality gate.

Runs the same way on a workstation (`make train`) and as a SageMaker script-mode training job, where
SageMaker provides SM_CHANNEL_TRAIN, SM_MODEL_DIR, SM_OUTPUT_DATA_DIR and the hyperparameters.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_pipeline import drift
from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.contract.features import ContractError, FeatureSpec, build_spec, encode, labels
from churn_pipeline.contract.settings import DEFAULT_THRESHOLD
from churn_pipeline.model import MODEL_FILENAME, ModelDir, booster_bytes, model_version
from churn_pipeline.training import datasets
from churn_pipeline.training.evaluation import classification_report

log = logging.getLogger("churn_pipeline.training.train")

SPLIT_SEED = 1729  # the tutorial's random_state
SPLIT_FRACTIONS = (0.7, 0.9)  # 70% train, 20% validation, 10% test, as np.split in the tutorial
EVALUATION_SAMPLE_ROWS = 1000

# The tutorial's hyperparameters; everything is overridable from the command line or SageMaker.
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4.0,
    "min_child_weight": 6.0,
    "subsample": 0.8,
    "objective": "binary:logistic",
    "num_round": 100,
    "seed": 0,
}


class QualityGateError(RuntimeError):
    pass


@dataclass
class TrainResult:
    booster: xgb.Booster
    spec: FeatureSpec
    metrics: dict
    test_labels: np.ndarray
    test_probabilities: np.ndarray
    baseline: drift.Baseline | None = None  # of the training split's inputs and scores
    description: DatasetDescription | None = None  # of the data it was trained on (the model carries it)


def split_indices(n_rows: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tutorial's split: shuffle with DataFrame.sample(frac=1, random_state=seed), then 70/20/10."""
    order = pd.RangeIndex(n_rows).to_series().sample(frac=1, random_state=seed).to_numpy()
    cut_train, cut_validation = (int(f * n_rows) for f in SPLIT_FRACTIONS)
    return order[:cut_train], order[cut_train:cut_validation], order[cut_validation:]


def train(
    frame: pd.DataFrame,
    hyperparameters: dict | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    description: DatasetDescription | None = None,
    source: str = "the training data",
) -> TrainResult:
    """Train on `frame` (text values, as `datasets.read_churn_csv` reads them) described by `description`
    (default: the tutorial's)."""
    description = description or tutorial()
    params = {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
    num_round = int(params.pop("num_round"))
    spec = build_spec(frame, description)
    y_all = labels(frame, description, source)
    encoded = encode(frame, spec)
    if encoded.n_rejected:
        log.warning("%d training row(s) rejected by the feature contract and left out", encoded.n_rejected)
    valid_positions = np.flatnonzero(encoded.valid)  # row number in the input for each matrix row
    x, y = encoded.matrix, y_all[encoded.valid]
    if len(x) < 10:
        raise ContractError(f"only {len(x)} valid training row(s); need at least 10")

    train_idx, validation_idx, test_idx = split_indices(len(x))
    dtrain = xgb.DMatrix(x[train_idx], label=y[train_idx])
    dvalidation = xgb.DMatrix(x[validation_idx], label=y[validation_idx])
    dtest = xgb.DMatrix(x[test_idx], label=y[test_idx])
    booster = xgb.train(
        {**params, "eval_metric": "auc"},
        dtrain,
        num_boost_round=num_round,
        evals=[(dtrain, "train"), (dvalidation, "validation")],
        verbose_eval=False,
    )
    validation_p = booster.predict(dvalidation).astype(np.float64)
    test_p = booster.predict(dtest).astype(np.float64)

    sample = test_idx[:EVALUATION_SAMPLE_ROWS]
    metrics = {
        "threshold": threshold,
        "hyperparameters": {**params, "num_round": num_round},
        "row_counts": {
            "input": int(len(frame)),
            "rejected": encoded.n_rejected,
            "train": int(len(train_idx)),
            "validation": int(len(validation_idx)),
            "test": int(len(test_idx)),
        },
        "unknown_categories": encoded.unknown_categories,
        "validation": classification_report(y[validation_idx], validation_p, threshold),
        "test": classification_report(y[test_idx], test_p, threshold),
        # Input row numbers (0-based data rows of the training CSV) and their test-set probabilities,
        # so that anyone can reload the archived model and check it reproduces them.
        "evaluation_sample": {
            "row_number": valid_positions[sample].tolist(),
            "probability": test_p[: len(sample)].tolist(),
        },
    }
    # The drift baseline: the training split's raw model inputs and the model's scores on them.
    train_rows = frame.iloc[valid_positions[train_idx]]
    baseline = drift.Baseline.build(
        train_rows[spec.input_columns].apply(
            lambda column: pd.to_numeric(column) if column.name in spec.numeric_columns else column
        ),
        list(spec.numeric_columns),
        [c.name for c in spec.categorical_columns],
        booster.predict(dtrain).astype(np.float64),
    )
    return TrainResult(booster, spec, metrics, y[test_idx], test_p, baseline, description)


def write_artifacts(
    result: TrainResult, model_dir: Path, *, sagemaker_output_dir: Path | None = None
) -> dict:
    """Write model.tar.gz, feature_spec.json, baseline.json, metrics.json and evaluation.png to `model_dir`.

    In a SageMaker training job, SageMaker tars SM_MODEL_DIR into model.tar.gz itself: there only the
    bare `xgboost-model` goes into it and the other files go to SM_OUTPUT_DATA_DIR (output.tar.gz).
    """
    raw = booster_bytes(result.booster)
    version = model_version(
        raw,
        result.spec,
        result.baseline.file_text() if result.baseline else None,
        result.description.to_json() if result.description else None,
    )
    metrics = {"model_version": version, **result.metrics}
    side_dir = sagemaker_output_dir or model_dir
    if sagemaker_output_dir is None:
        ModelDir(model_dir).write(raw, result.spec, metrics, result.baseline, result.description)
    else:
        model_dir.mkdir(parents=True, exist_ok=True)
        (model_dir / MODEL_FILENAME).write_bytes(raw)
        ModelDir(side_dir).write_side_files(result.spec, metrics, result.baseline, result.description)
    from churn_pipeline.training.evaluation import plot_evaluation

    plot_evaluation(
        result.test_labels, result.test_probabilities, metrics["threshold"], side_dir / "evaluation.png"
    )
    return metrics


def _hyperparameters_from_sagemaker() -> dict:
    """SageMaker passes hyperparameters as JSON strings in SM_HPS (and as CLI flags)."""
    raw = os.environ.get("SM_HPS")
    return json.loads(raw) if raw else {}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    in_sagemaker = "SM_MODEL_DIR" in os.environ
    parser = argparse.ArgumentParser(description="Train the churn XGBoost model and write its artifacts.")
    parser.add_argument(
        "--data", default=os.environ.get("SM_CHANNEL_TRAIN"), help="training CSV file or directory"
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"), help="where the artifacts go")
    parser.add_argument(
        "--dataset",
        default=os.environ.get("SM_CHANNEL_DATASET"),
        help="the dataset description (JSON; a file or a directory holding dataset.json); default: the "
        "tutorial's dataset",
    )
    parser.add_argument("--min-auc", type=float, default=0.80, help="quality gate on validation AUC")
    parser.add_argument(
        "--threshold", type=float, default=DEFAULT_THRESHOLD, help="decision threshold for the metrics"
    )
    for name, default in DEFAULT_HYPERPARAMETERS.items():
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, f"--{name}", dest=name, type=type(default), default=None)
    args = parser.parse_args(argv)
    if not args.data or not args.model_dir:
        parser.error(
            "--data and --model-dir are required (or SM_CHANNEL_TRAIN and SM_MODEL_DIR in SageMaker)"
        )
    args.in_sagemaker = in_sagemaker
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = _parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k in DEFAULT_HYPERPARAMETERS and v is not None}
    if args.in_sagemaker:
        hps = _hyperparameters_from_sagemaker()
        overrides = {
            **{
                k: type(DEFAULT_HYPERPARAMETERS[k])(v) for k, v in hps.items() if k in DEFAULT_HYPERPARAMETERS
            },
            **overrides,
        }
    try:
        description = DatasetDescription.load(args.dataset) if args.dataset else tutorial()
        frame = datasets.read_churn_csv(args.data, description)
        result = train(frame, overrides, threshold=args.threshold, description=description, source=args.data)
        validation_auc = result.metrics["validation"]["auc"]
        model_dir = Path(args.model_dir)
        side_dir = Path(os.environ.get("SM_OUTPUT_DATA_DIR", model_dir)) if args.in_sagemaker else None
        if validation_auc < args.min_auc:
            # Keep the evidence, but no model.tar.gz: nothing downstream can deploy a model that failed.
            ModelDir(model_dir).write_metrics(result.metrics)
            raise QualityGateError(
                f"quality gate failed: validation AUC {validation_auc:.4f} is below MIN_AUC {args.min_auc:.2f}; "
                f"no model archive written (metrics in {ModelDir(model_dir).metrics_path})"
            )
        metrics = write_artifacts(result, model_dir, sagemaker_output_dir=side_dir)
    except (ContractError, QualityGateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    test = metrics["test"]
    print(
        f"model {metrics['model_version']}: test AUC {test['auc']:.4f}, accuracy {test['accuracy']:.4f}, "
        f"precision {test['precision']:.4f}, recall {test['recall']:.4f} "
        f"(validation AUC {metrics['validation']['auc']:.4f}); artifacts in {args.model_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
