"""Evaluation of a trained model: binary-classification metrics with numpy only (no scikit-learn in the
runtime), and evaluation.png (ROC curve and confusion matrix of the test split; matplotlib, the `train` extra)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve via the rank-sum (Mann-Whitney) statistic, ties averaged."""
    y_true = np.asarray(y_true).astype(bool)
    n_pos = int(y_true.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold (for plotting)."""
    y_true = np.asarray(y_true).astype(bool)
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    y_sorted = y_true[order]
    tps = np.concatenate([[0], np.cumsum(y_sorted)])
    fps = np.concatenate([[0], np.cumsum(~y_sorted)])
    return fps / max(fps[-1], 1), tps / max(tps[-1], 1)


def classification_report(y_true: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    y_true = np.asarray(y_true).astype(bool)
    predicted = np.asarray(probabilities) >= threshold
    tp = int((predicted & y_true).sum())
    fp = int((predicted & ~y_true).sum())
    fn = int((~predicted & y_true).sum())
    tn = int((~predicted & ~y_true).sum())
    return {
        "rows": int(len(y_true)),
        "positives": int(y_true.sum()),
        "auc": roc_auc(y_true, probabilities),
        "accuracy": (tp + tn) / len(y_true) if len(y_true) else float("nan"),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "confusion_matrix": {
            "true_negative": tn,
            "false_positive": fp,
            "false_negative": fn,
            "true_positive": tp,
        },
    }


def plot_evaluation(y_true: np.ndarray, probabilities: np.ndarray, threshold: float, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on build machines or in SageMaker
    import matplotlib.pyplot as plt

    report = classification_report(y_true, probabilities, threshold)
    fpr, tpr = roc_curve(y_true, probabilities)
    cm = report["confusion_matrix"]
    grid = np.array(
        [[cm["true_negative"], cm["false_positive"]], [cm["false_negative"], cm["true_positive"]]]
    )

    fig, (ax_roc, ax_cm) = plt.subplots(1, 2, figsize=(10, 4.5))
    ax_roc.plot(fpr, tpr, label=f"AUC = {report['auc']:.3f}")
    ax_roc.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax_roc.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve (test split)")
    ax_roc.legend(loc="lower right")
    ax_cm.imshow(grid, cmap="Blues")
    for (i, j), count in np.ndenumerate(grid):
        ax_cm.text(j, i, str(count), ha="center", va="center", fontsize=14)
    ax_cm.set(
        xticks=[0, 1],
        yticks=[0, 1],
        xticklabels=["stay", "churn"],
        yticklabels=["stay", "churn"],
        xlabel="Predicted",
        ylabel="Actual",
        title=f"Confusion matrix at threshold {threshold:g}",
    )
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
