"""What one `make bench` run measures: its sizes, rates, repeats and limits (one frozen dataclass)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

P95_LIMIT_SECONDS = 10.0
# The p95 PutRecords-to-visible latency the streaming job should keep at the latency rate (1,000 records/s).
P95_TARGET_SECONDS = 3.0
# A trial "sustains" a rate when the producer really sent at least this share of it.
SUSTAINED_SHARE = 0.9


@dataclass(frozen=True)
class Settings:
    rows: int
    repeat: int
    model_dir: str
    data_dir: Path
    work_dir: Path
    out_dir: Path
    per_row_sample: int = 2000
    floor_a_max_rows: int = 200_000  # the first rows of the data file; rows/s does not depend on the count
    warmup_rows: int = 5000  # an untimed pass of each batch mode first (0: none)
    scale_factors: tuple[int, ...] = (1, 4, 16)
    stream_rates: tuple[float, ...] = (1000, 2000, 4000, 8000)
    stream_seconds: float = 40.0
    # Production at the trial's rate before its measured records (see stream_latency: start-up is not steady).
    stream_warmup_seconds: float = 40.0
    # Trials that halve the gap between the last rate sustained and the first one not (to 50 records/s at most).
    stream_bisect_steps: int = 2
    latency_rate: float = 1000.0
    master: str = "local[*]"
    driver_memory: str = "4g"
    # The scaling runs get a fixed heap (-Xms = -Xmx), as a Glue worker has a fixed memory. With only a cap, G1
    # grows the heap toward it the longer a run allocates, so the JVM's resident memory grew with the input
    # while the job's own need did not; with the heap fixed, what can still grow is memory outside the heap
    # and the Python workers, which is what the check is for. The GC log shows the heap in use after each
    # collection and the pause time (a job short of heap would spend its time collecting).
    scaling_driver_memory: str = "2g"
    # Micro-batch sizes of the streaming handler alone (records; fresh process each, same fixed heap).
    handler_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    # Floor A, the batch paths and the UDF in Spark on the tutorial's shape (False: left out, for a run of
    # another part alone).
    paths: bool = True
    # Shapes of data (churn_tools.bench.shapes.SHAPES) on which batch embedded and floor B run side by side.
    shapes: tuple[str, ...] = ("tutorial", "telco")
    # The quality job beside floor B on ROWS scored rows and ROWS outcomes (False: left out).
    quality: bool = True


def numbers(text: str, kind=float) -> tuple:
    return tuple(kind(part) for part in text.split(",") if part.strip())
