"""The quality job's rows/s beside floor B (issue 29), side by side in one run at the same row count.

The data: ROWS synthetic rows of the model's shape with their ids made unique (the generator draws phone
numbers at random, so a million rows share most of them; an outcome names one customer), scored once by the
batch job embedded (its figures kept for reference): ROWS rows committed to its scored Iceberg table
(contract.outputs.BATCH_PREDICTIONS, pyiceberg's SQL catalog in the work directory). The outcomes: every row's
own label, known after it was scored (churn_tools.outcome_files). Each round runs floor B (the batch job without
scoring, on the same ROWS rows) and a quality run (`churn_pipeline.quality.job.run` on the same session: ROWS
outcomes read, joined to the ROWS scored rows, metrics, calibration, rejects and the next training set
written), their order reversed every other round; the ratio is the median of the rounds' quotients. A quality
row is one outcome joined to a score.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from churn_pipeline.batch import BatchConfig
from churn_pipeline.batch import run as run_batch
from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import INTEGER, DatasetDescription
from churn_pipeline.model import ModelDir
from churn_pipeline.quality.config import QualityConfig
from churn_pipeline.quality.job import run as run_quality
from churn_pipeline.quality.outcomes import outcome_header
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import CatalogSettings, JobTables, TableRef
from churn_tools import outcome_files
from churn_tools.bench import batch_throughput
from churn_tools.bench.measure import count_data_rows, ensure_data, mode_figures
from churn_tools.bench.proc import TreeMeter

QUALITY = "quality"
FLOOR_B = "no-scoring"  # batch_throughput.run_mode's name of floor B
# (mode, key in the results)
MODES = ((FLOOR_B, "floor_b"), (QUALITY, "quality"))
CONCURRENCY = 4  # run_mode's endpoint concurrency: unused by the modes here
CHUNK_ROWS = 200_000


def unique_id_data(rows: int, data_dir: Path, description: DatasetDescription, say) -> Path:
    """`churn-<rows>-unique-ids.csv`: the bench's data file with row i's id replaced by a unique one of the id
    column's type (written once, then reused)."""
    id_column = outcome_header(description)[0]
    source = ensure_data(rows, data_dir, say, description)
    target = source.with_name(f"{source.stem}-unique-ids.csv")
    if target.exists() and count_data_rows(target) == rows:
        say(f"data: reusing {target}")
        return target
    say(f"data: writing {target} ({rows:,} rows, unique ids)")
    integer = description.column(id_column).type == INTEGER
    with open(target, "w", newline="") as handle:
        chunks = pd.read_csv(source, dtype=str, keep_default_na=False, chunksize=CHUNK_ROWS)
        for index, chunk in enumerate(chunks):
            numbers = range(index * CHUNK_ROWS, index * CHUNK_ROWS + len(chunk))
            chunk[id_column] = [str(n) if integer else f"c{n:09d}" for n in numbers]
            chunk.to_csv(handle, header=index == 0, index=False, lineterminator="\n")
    return target


def prepare(spark, rows: int, model_dir: str, data_dir: Path, work_dir: Path, say) -> dict:
    """The data, its scored table and its outcomes (ROWS of each)."""
    description = ModelDir(model_dir).description()
    data = unique_id_data(rows, data_dir, description, say)
    say(f"quality: scoring {rows:,} rows once (batch embedded) for the quality runs to join")
    shutil.rmtree(work_dir / "warehouse", ignore_errors=True)
    tables = JobTables.local(work_dir / "warehouse", "batch")  # the batch job's tables, SQL catalog
    config = BatchConfig(input_path=str(data), tables=tables, batch_id="bench", progress_seconds=0,
                         scoring=ScoringConfig(mode="embedded", model_uri=model_dir))  # fmt: skip
    scoring = run_batch(spark, config, log=lambda _message: None)
    if scoring.scored != rows:
        raise RuntimeError(f"quality: expected {rows:,} rows scored: {scoring.describe()}")
    outcomes, shared = outcome_files.own_label_outcomes(data, description, outcome_files.known_at_now())
    if shared or len(outcomes) != rows:
        raise RuntimeError(f"{data}: expected {rows:,} customers with unique ids, found {shared} shared")
    outcomes_file = outcome_files.write_outcomes(outcomes, work_dir / "outcomes" / "outcomes.csv")
    return {
        "data": str(data),
        "scored_warehouse": tables.catalog.warehouse,
        "scored": tables.identifier(outputs.BATCH_PREDICTIONS),
        "outcomes": str(outcomes_file),
        "scoring": {
            "rows": scoring.rows_read,
            "wall_seconds": scoring.wall_seconds,
            "rows_per_second": scoring.rows_per_second,
        },
    }


def quality_run(spark, prepared: dict, model_dir: str, out_dir: Path, rows: int) -> dict:
    """One quality run over the prepared outcomes and scores, with figures as batch_throughput.run_mode's."""
    shutil.rmtree(out_dir, ignore_errors=True)
    config = QualityConfig(
        outcomes_path=prepared["outcomes"],
        model_uri=model_dir,
        quality_path=str(out_dir / "quality"),
        calibration_path=str(out_dir / "calibration"),
        rejects_path=str(out_dir / "outcome-rejects"),
        training_set_path=str(out_dir / "training-set"),
        batch_scored_tables=(
            TableRef(CatalogSettings("sql", prepared["scored_warehouse"]), prepared["scored"]),
        ),
        run_id="bench",
    )
    meter = TreeMeter()
    summary = run_quality(spark, config, say=lambda _message: None)
    cpu_seconds = meter.stop()
    if (summary.outcome_lines, summary.joined, summary.rejected) != (rows, rows, 0):
        raise RuntimeError(f"quality: expected {rows:,} outcomes all joined: {summary.describe()}")
    return {
        "wall_seconds": summary.wall_seconds,
        "cpu_seconds": round(cpu_seconds, 2),
        "rows": summary.joined,
        "rows_per_second": summary.joined / summary.wall_seconds,
        "peak_rss_mb": meter.peak_rss_mb(),
        "outcome_lines": summary.outcome_lines,
        "latest_auc": summary.latest_auc,
    }


def measure(spark, rows: int, repeat: int, model_dir: str, data_dir: Path, work_dir: Path, warmup_rows: int,
            say) -> dict:  # fmt: skip
    """Floor B's and the quality job's figures (min / median / max of REPEAT), on ROWS rows each."""
    prepared = prepare(spark, rows, model_dir, data_dir, work_dir / "prepared", say)
    if warmup_rows:  # untimed, so that JIT compilation and worker start-up land on no measured run
        small = min(rows, warmup_rows)
        warmup = prepare(spark, small, model_dir, data_dir, work_dir / "warmup", say)
        batch_throughput.run_mode(spark, FLOOR_B, warmup["data"], model_dir, work_dir / "warmup", CONCURRENCY)
        quality_run(spark, warmup, model_dir, work_dir / "warmup" / QUALITY, small)
    runs: dict[str, list[dict]] = {mode: [] for mode, _ in MODES}
    for round_index in range(repeat):
        for mode, _ in MODES if round_index % 2 == 0 else MODES[::-1]:
            if mode == QUALITY:
                figures = quality_run(spark, prepared, model_dir, work_dir / "out" / QUALITY, rows)
            else:
                figures = batch_throughput.run_mode(spark, mode, prepared["data"], model_dir, work_dir / "out",
                                                    CONCURRENCY)  # fmt: skip
            runs[mode].append(figures)
            say(f"quality part, {mode}: {figures['rows']:,} rows in {figures['wall_seconds']:.1f}s "
                f"({figures['rows_per_second']:,.0f} rows/s)")  # fmt: skip
    return {
        "rows": rows,
        "data": prepared["data"],
        "scored_warehouse": prepared["scored_warehouse"],
        "scored": prepared["scored"],
        "outcomes": prepared["outcomes"],
        "quality_out": str(work_dir / "out" / QUALITY),
        "scoring_once": prepared["scoring"],
        "latest_auc": runs[QUALITY][-1]["latest_auc"],
        **{key: mode_figures(runs[mode]) for mode, key in MODES},
    }
