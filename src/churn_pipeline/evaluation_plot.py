"""evaluation.png: ROC curve and confusion matrix of the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from churn_pipeline.metrics import classification_report, roc_curve


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
