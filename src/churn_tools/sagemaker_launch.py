"""Launch model_training/train.py as a SageMaker script-mode training job (`make train TRAIN_ON=sagemaker`).

The job runs in the framework XGBoost image the endpoint serves with (3.0-5, xgboost 3.0.5), so the
artifact it writes loads in that container. The package source travels in `source_dir`; the SageMaker
SDK is needed only here, on the workstation, never in the Glue jobs.

The dataset description (`--dataset`, issue 27) travels as an input channel of its own, `dataset`: the
launcher uploads the file as `dataset.json` under the job's prefix in the staging bucket and hands that prefix
to `fit` beside `train`. In the container the channel is the directory in SM_CHANNEL_DATASET, which is the
entrypoint's `--dataset` default (churn_pipeline.training.train), so the job trains on that description and
writes it into the model's files, as `make train DATASET=...` does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import churn_pipeline
from churn_pipeline.contract.dataset import DESCRIPTION_FILENAME, DatasetDescription, DescriptionError
from churn_pipeline.training.train import DEFAULT_HYPERPARAMETERS
from churn_tools.project import project_root

XGBOOST_FRAMEWORK_VERSION = "3.0-5"
# Channel names of the job. SageMaker puts channel <name> in /opt/ml/input/data/<name> and the training toolkit
# names that directory in SM_CHANNEL_<NAME> (aws/sagemaker-training-toolkit, ENVIRONMENT_VARIABLES.md,
# "SM_CHANNEL_{channel_name}"); the entrypoint reads SM_CHANNEL_TRAIN and SM_CHANNEL_DATASET.
TRAIN_CHANNEL = "train"
DATASET_CHANNEL = "dataset"
BASE_JOB_NAME = "churn-train"


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


def checked_description(path: str) -> str:
    """The description file's text, refused here (before any upload or job) unless it is a valid local file."""
    if path.startswith("s3://"):
        raise LaunchError(
            f"--dataset must be a local description file (the launcher uploads it with the job), got {path!r}"
        )
    try:
        DatasetDescription.load(path)
    except DescriptionError as exc:
        raise LaunchError(str(exc)) from exc
    return Path(path).read_text(encoding="utf-8")


def stage_description(text: str, session, job_name: str) -> str:
    """Upload the description as `<job>/input/dataset/dataset.json` in the session's bucket; return the
    channel's S3 prefix. With S3DataType S3Prefix (the SDK's default for an s3:// string input) SageMaker takes
    every object under the prefix (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_S3DataSource.html:
    "SageMaker uses all objects that match the specified key name prefix"); the prefix ends in "/" and the one
    object sits right under it, so the file is `<channel dir>/dataset.json` in SageMaker and in the SDK's local
    mode alike (they name files differently only for a prefix that cuts a name: aws/sagemaker-python-sdk#3612),
    the name the entrypoint reads from a directory (DESCRIPTION_FILENAME). It shares the bucket and job prefix of
    the source tarball, which the execution role must already read."""
    prefix = f"{job_name}/input/{DATASET_CHANNEL}/"
    bucket = session.default_bucket()
    session.upload_string_as_file_body(text, bucket, prefix + DESCRIPTION_FILENAME)
    return f"s3://{bucket}/{prefix}"


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

    description_text = checked_description(args.dataset) if args.dataset else None

    from sagemaker.session import Session
    from sagemaker.utils import name_from_base
    from sagemaker.xgboost.estimator import XGBoost

    # The bucket of the uploads (the source tarball, the description): SageMaker's default bucket of the account
    # and region unless --bucket names one.
    session = Session(default_bucket=args.bucket)
    job_name = name_from_base(BASE_JOB_NAME)
    inputs = {TRAIN_CHANNEL: args.data}
    if description_text is not None:
        inputs[DATASET_CHANNEL] = stage_description(description_text, session, job_name)
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
            sagemaker_session=session,
        )
        estimator.fit(inputs, wait=True, job_name=job_name)
    return estimator.model_data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the training entrypoint as a SageMaker training job.")
    parser.add_argument("--data", required=True, help="s3:// URI of the training data")
    parser.add_argument(
        "--dataset",
        help="the dataset description (a local JSON file), shipped with the job; default: the tutorial's dataset",
    )
    parser.add_argument(
        "--bucket", help="S3 bucket for the job's uploads (source, description); default: SageMaker's default"
    )
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
