"""`churn-outcomes`: check an outcome file against the deployed model's description before upload (check),
and train a candidate on the quality job's next training set and compare it with the deployed model on the
same held-out outcomes (retrain, `make retrain`).

check runs the quality job's own line checks (churn_pipeline.quality.outcomes.check_file) without Spark: every
problem but NOT_SCORED, which needs the scores; it exits 1 when any line would be rejected.
retrain holds out a stable share of the customers (by a hash of the id, whatever the row order), trains the
candidate on the rest with the deployed model's description, scores the held-out rows with both models and
writes a report; it exits 1 when the candidate's AUC is not above the deployed model's, so promotion stays a
reviewed `make deploy MODEL_DIR=<candidate>`.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from churn_pipeline.contract.errors import ContractError
from churn_pipeline.model import ModelDir
from churn_pipeline.quality import outcomes
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.evaluation import roc_auc
from churn_pipeline.training.train import train, write_artifacts

HOLDOUT_PERCENT = 20


def check(model_dir: str, files: list[str], now: datetime.datetime) -> int:
    description = ModelDir(model_dir).description()
    bad = 0
    for file in files:
        problems = outcomes.check_file(file, description, now)
        for problem in problems:
            print(f"{file}:{problem.line}: {problem.code}: {problem.reason}")
        bad += len(problems)
        print(
            f"{file}: {'fits' if not problems else f'{len(problems)} line(s) would be rejected'}",
            file=sys.stderr,
        )
    return 1 if bad else 0


def held_out(ids, percent: int = HOLDOUT_PERCENT) -> np.ndarray:
    """True for the customers held out: a stable hash of the id, the same in every run and row order."""
    return np.array([int(hashlib.sha256(str(i).encode()).hexdigest()[:8], 16) % 100 < percent for i in ids])


def latest_run(path: Path) -> Path:
    """The training set folder itself, or the newest batch_id=<run> folder under the dataset's root."""
    runs = [p for p in path.glob("batch_id=*") if p.is_dir()]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else path


def retrain(
    training_set: Path, deployed_dir: Path, candidate_dir: Path, percent: int = HOLDOUT_PERCENT
) -> dict:
    deployed = ModelDir(deployed_dir)
    description = deployed.description()
    if description.id_column is None:
        raise ContractError(f"{description.source}: no id column: the held-out customers are chosen by id")
    source = latest_run(training_set)
    frame = read_churn_csv(source, description)
    holdout_mask = held_out(frame[description.id_column])
    holdout, rest = frame[holdout_mask].reset_index(drop=True), frame[~holdout_mask].reset_index(drop=True)
    result = train(rest, description=description, source=str(source))
    write_artifacts(result, candidate_dir)
    candidate = ModelDir(candidate_dir)
    deployed_scores, candidate_scores = deployed.scorer().score(holdout), candidate.scorer().score(holdout)
    both = deployed_scores.encoded.valid & candidate_scores.encoded.valid
    labels = holdout[description.label_column].map(description.label_value).to_numpy()
    y = labels[both].astype(int)
    figures = {
        name: roc_auc(y, scored.probabilities[both[scored.encoded.valid]])
        for name, scored in (("deployed", deployed_scores), ("candidate", candidate_scores))
    }
    report = {
        "training_set": str(source),
        "held_out": {"percent": percent, "rows": int(both.sum()), "positives": int(y.sum())},
        "trained_on_rows": len(rest),
        "deployed": {"model_version": deployed.version(), "auc": figures["deployed"]},
        "candidate": {
            "model_version": candidate.version(),
            "auc": figures["candidate"],
            "model_dir": str(candidate_dir),
        },  # fmt: skip
        "candidate_is_better": bool(figures["candidate"] > figures["deployed"]),
    }
    (candidate_dir / "comparison.json").write_text(json.dumps(report, indent=2) + "\n")
    return report


def describe(report: dict) -> str:
    verdict = (
        f"the candidate is better: review it, then `make deploy MODEL_DIR={report['candidate']['model_dir']}`"
        if report["candidate_is_better"]
        else "the candidate is not better than the deployed model: keep the deployed one"
    )
    held = report["held_out"]
    return "\n".join(
        [
            f"held-out outcomes: {held['rows']:,} ({held['positives']:,} churned), {held['percent']}% of the "
            f"customers of {report['training_set']}; candidate trained on {report['trained_on_rows']:,} rows",
            f"  deployed  {report['deployed']['model_version']}: AUC {report['deployed']['auc']:.4f}",
            f"  candidate {report['candidate']['model_version']}: AUC {report['candidate']['auc']:.4f}",
            verdict,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="churn-outcomes", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    checking = commands.add_parser(
        "check", help="check outcome file(s) against a model's dataset description"
    )
    checking.add_argument("model_dir", help="the deployed model's directory (its dataset.json)")
    checking.add_argument("files", nargs="+", help="outcome CSV file(s)")
    retraining = commands.add_parser("retrain", help="train a candidate on the next training set and compare")
    retraining.add_argument("--training-set", required=True, type=Path,
                            help="the quality job's training-set folder (its newest batch_id=<run>) or one run's")  # fmt: skip
    retraining.add_argument("--model-dir", required=True, type=Path, help="the deployed model's directory")
    retraining.add_argument("--candidate", required=True, type=Path, help="where the candidate model goes")
    retraining.add_argument("--holdout-percent", type=int, default=HOLDOUT_PERCENT)
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return check(args.model_dir, args.files, datetime.datetime.now(datetime.UTC))
        if not 0 < args.holdout_percent < 100:
            parser.error("--holdout-percent must be between 1 and 99")
        report = retrain(args.training_set, args.model_dir, args.candidate, args.holdout_percent)
    except (ContractError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(describe(report))
    return 0 if report["candidate_is_better"] else 1


if __name__ == "__main__":
    sys.exit(main())
