"""The one local SparkSession builder: the batch and streaming CLIs, the bench and the tests start Spark here.

On Glue the session comes from the GlueContext (the entry scripts in jobs/); outside Glue, Spark runs in local
mode with the settings every job here relies on: UTC timestamps, Arrow for pandas/Arrow UDFs, no console
progress bars (they would break the jobs' log lines).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

S = TypeVar("S")
DEFAULT_MASTER = "local[2]"


def local_session(
    app_name: str,
    master: str | None = None,
    driver_memory: str | None = None,
    driver_java_options: str = "",
    shuffle_partitions: int | None = None,
    extra_conf: dict[str, str] | None = None,
):
    """A local-mode SparkSession (or the running one; JVM-level options apply only to a new JVM)."""
    # Spark's Python workers must import this package: run them with this interpreter, not `python3` on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master or os.environ.get("SPARK_MASTER", DEFAULT_MASTER))
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
    )
    if driver_memory:
        builder = builder.config("spark.driver.memory", driver_memory)
    if driver_java_options:  # read when the JVM starts: no effect on a session that is already running
        builder = builder.config("spark.driver.extraJavaOptions", driver_java_options)
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for key, value in (extra_conf or {}).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def run_cli_job(
    app_name: str,
    job: Callable[[Any], S],
    summary_json: Callable[[S], str],
    summary_file: str | None,
    *,
    master: str | None = None,
    driver_memory: str | None = None,
    driver_java_options: str = "",
) -> S | None:
    """A job's `python -m` run: its `job(spark)` on the running session or a local one (stopped after), the
    summary printed as JSON and written to `summary_file` when given; None (the error said) when the job refused
    its input: a contract error, a missing file, or Spark's analysis error on what it read."""
    from pyspark.errors import AnalysisException
    from pyspark.sql import SparkSession

    from churn_pipeline.contract.errors import ContractError

    existing = SparkSession.getActiveSession()
    spark = existing or local_session(app_name, master, driver_memory, driver_java_options)
    try:
        summary = job(spark)
    except (ContractError, FileNotFoundError, AnalysisException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    finally:
        if existing is None:
            spark.stop()
    text = summary_json(summary)
    print(text)
    if summary_file:
        Path(summary_file).parent.mkdir(parents=True, exist_ok=True)
        Path(summary_file).write_text(text + "\n")
    return summary


@contextlib.contextmanager
def session_conf(spark: Any, settings: Mapping[str, str]) -> Iterator[None]:
    """`settings` on the session for the duration of a job's run, then each key set back as it was (unset when it
    was not set): a job may run in a session that is not its own (the tests', the bench's, Glue's)."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, earlier in previous.items():
            if earlier is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, earlier)
