"""Runs inside a Glue runtime of the matrix (tests/glue_runtimes.py), never in the test process: only the
runtime's pyspark, the installed upload set and the fake awsglue are importable.

`python glue_job_runner.py batch REQUEST.json` runs the uploaded batch entry script with the deployed
arguments as far as local Spark can (its first s3:// read; EMRFS is Glue's), then `churn_pipeline.batch.run`
with the deployed config and a local input (its own batch_id in the deployed tables), and prints one `RESULT {...}` line: the summary and the runtime's
versions.
"""

from __future__ import annotations

import dataclasses
import json
import runpy
import sys


def batch(request: dict) -> dict:
    from pyspark.sql import SparkSession

    from churn_pipeline.batch.glue import config_from_glue_args
    from churn_pipeline.batch.job import run
    from churn_pipeline.streaming.glue import runtime_facts

    sys.argv = request["argv"]
    try:
        runpy.run_path(request["entry_script"], run_name="__main__")
        entry_error = None
    # The expected stop at s3:// (a Py4J error on one Spark, a converted one on another): reported to the
    # test, which judges it.
    except Exception as exc:  # noqa: BLE001
        entry_error = f"{type(exc).__name__}: {exc}"
    from awsglue.job import EVENTS

    deployed = config_from_glue_args(request["arguments"])
    local = dataclasses.replace(deployed, **request["overrides"])
    spark = SparkSession.builder.getOrCreate()
    summary = run(spark, local)
    return {
        "entry_error": entry_error,
        "events": [event[0] for event in EVENTS],
        "summary": {k: getattr(summary, k) for k in ("scored", "rejected", "failed", "reject_codes")},
        "failure_reasons": summary.failure_reasons,
        "runtime": runtime_facts(spark),
    }


if __name__ == "__main__":
    mode, request_file = sys.argv[1], sys.argv[2]
    with open(request_file) as handle:
        request = json.load(handle)
    result = {"batch": batch}[mode](request)
    print("RESULT " + json.dumps(result, sort_keys=True, default=str), flush=True)
