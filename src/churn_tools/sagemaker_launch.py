"""Launch model_training/train.py as a SageMaker script-mode training job (`make train TRAIN_ON=sagemaker`).

The job runs in the framework XGBoost image the endpoint serves with (3.0-5, xgboost 3.0.5), so the
artifact it writes loads in that container. The package source travels in `source_dir`; the SageMaker
SDK is needed only here, on the workstation, never in the Glue jobs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import churn_pipeline
from churn_pipeline.training.train import DEFAULT_HYPERPARAMETERS
from churn_tools.project import project_root

XGBOOST_FRAMEWORK_VERSION = "3.0-5"


class LaunchError(RuntimeError):
    pass


def require_credentials() -> None:
    """Fail fast, before the SDK's slow retries, when no AWS credentials can be found."""
    import boto3

    session = boto3.Session()
    if session.get_credentials() is None:
        raise LaunchError(
            "no AWS credentials found: TRAIN_ON=sagemaker needs an AWS account "
            "(set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); use TRAIN_ON=local to train here"
        )
    if not session.region_name:
        raise LaunchError("no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION)")


def stage_source_dir(target: Path) -> Path:
    """entry script + the churn_pipeline package + requirements.txt, as SageMaker script mode expects."""
    shutil.copy(project_root() / "model_training" / "train.py", target / "train.py")
    shutil.copytree(
        Path(churn_pipeline.__path__[0]),  # the installed runtime package, as the job wheel holds it
        target / "churn_pipeline",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # Only what the container lacks; xgboost, numpy and pandas come with the image.
    (target / "requirements.txt").write_text("matplotlib==3.10.8\n")
    return target


def launch(args: argparse.Namespace) -> str:
    require_credentials()
    if not args.role:
        raise LaunchError(
            "no execution role: pass --role or set SAGEMAKER_ROLE_ARN (terraform output of the iam module)"
        )
    if not args.data.startswith("s3://"):
        raise LaunchError(
            f"--data must be an s3:// URI of the training CSV(s) for TRAIN_ON=sagemaker, got {args.data!r}"
        )

    from sagemaker.xgboost.estimator import XGBoost

    hyperparameters = {k: v for k, v in DEFAULT_HYPERPARAMETERS.items()}
    hyperparameters["min-auc"] = args.min_auc
    with tempfile.TemporaryDirectory() as tmp:
        estimator = XGBoost(
            entry_point="train.py",
            source_dir=str(stage_source_dir(Path(tmp))),
            framework_version=XGBOOST_FRAMEWORK_VERSION,
            role=args.role,
            instance_type=args.instance_type,
            instance_count=1,
            hyperparameters=hyperparameters,
            output_path=args.output_path,
        )
        estimator.fit({"train": args.data}, wait=True)
    return estimator.model_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the training entrypoint as a SageMaker training job.")
    parser.add_argument("--data", required=True, help="s3:// URI of the training data")
    parser.add_argument(
        "--role", default=os.environ.get("SAGEMAKER_ROLE_ARN"), help="SageMaker execution role ARN"
    )
    parser.add_argument("--instance-type", default="ml.m5.large")
    parser.add_argument("--output-path", default=None, help="s3:// prefix for the model artifacts")
    parser.add_argument("--min-auc", type=float, default=0.80)
    args = parser.parse_args(argv)
    try:
        model_data = launch(args)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"training job finished; model artifact: {model_data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
