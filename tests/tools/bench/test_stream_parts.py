"""The streaming parts of `make bench` that run for real here, small: the handler alone in fresh processes
beside the batch job, and one transport-floor trial (producer -> moto's Kinesis -> a reader that only reads).

No assertion depends on how fast anything ran: the figures must be consistent with each other and with what
was written."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from churn_pipeline import tables
from churn_pipeline.contract import outputs
from churn_pipeline.streaming.handler import StreamTables
from churn_tools.bench import report, stream_handler, stream_latency

pytestmark = pytest.mark.slow(seconds=185)


def test_the_handler_alone_reports_each_size_from_its_own_process(model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(stream_handler, "RECORDS_PER_SHARD", 400)  # the raw files are written here
    # Relative paths, as `make bench` gives them: the executors, in directories of their own, get them absolute.
    monkeypatch.chdir(tmp_path)
    found = stream_handler.measure((300, 1000), os.path.relpath(model_dir), Path("data"), Path("work"), 1,
                                   "local[2]", "1g", print)  # fmt: skip
    small, large = found["sizes"]["300"], found["sizes"]["1000"]
    assert (small["records"], small["partitions"]) == (300, 1)
    assert (large["records"], large["partitions"]) == (1000, 3)  # 400 + 400 + 200: one partition per "shard"
    assert large["records_per_second_per_core"] == pytest.approx(
        1000 / large["wall_seconds"] / found["cores"]
    )
    assert found["largest"] is large and found["batch_same_rows"]["records"] == 1000
    assert found["driver_python_rss"] == {
        "min": min(small["driver_python_peak_rss_mb"], large["driver_python_peak_rss_mb"]),
        "max": max(small["driver_python_peak_rss_mb"], large["driver_python_peak_rss_mb"]),
    }
    assert 0 < large["jvm_heap_after_gc_mb"] < 1024
    # The executors ran in JVMs of their own (local-cluster), each writing its own GC log.
    assert found["master"] == f"local-cluster[{found['cores']},1,1024]"
    assert 0 < large["executor_jvm_heap_after_gc_mb"] < 1024
    assert len(list((tmp_path / "work" / "handler-1000").glob("executor-gc-*.log"))) == found["cores"]
    assert (tmp_path / "work" / "handler-1000" / "spark-home" / "work").is_dir()  # not inside the virtualenv
    rows = report._handler_rows(found)
    assert [row.split(":")[0] for row in rows] == [
        "| streaming handler alone, 300 records (1 partitions)",
        "| streaming handler alone, 1,000 records (3 partitions)",
    ]
    assert all("executors' heap after GC" in row for row in rows)
    # The live heap, from the full collections the run asked for (at least the one when the handler returned).
    assert 0 < large["jvm_live_heap_mb"] < 1024
    assert found["jvm_live_heap"]["max"] == max(small["jvm_live_heap_mb"], large["jvm_live_heap_mb"])
    # What the handler wrote: every record once, in the scored table, in files the tasks named.
    where = StreamTables.local(tmp_path / "work" / "handler-1000" / "warehouse", drift=True)
    committed = where.read(outputs.STREAM_PREDICTIONS, ["record_id"])
    assert len(committed) == large["runs"][0]["scored"] == 1000
    assert committed["record_id"].nunique() == 1000
    catalog = tables.catalog_from_settings(where.catalog)
    files = tables.data_file_paths(catalog, where.identifier(outputs.STREAM_PREDICTIONS))
    # One file per task (the 3 partitions coalesced to the task slots) and Arrow batch, named by both and
    # by the attempt.
    assert len(files) == min(3, found["cores"])
    assert all(
        re.search(r"/bench-handler-000000000000-0000[0-2]-00000-[0-9a-f]{32}\.parquet$", f) for f in files
    ), files
    # No other file in the table's data directory: nothing written that the commit left out.
    data = Path(urlparse(files[0]).path).parents[1]
    assert sorted(str(p) for p in data.rglob("*.parquet")) == sorted(urlparse(f).path for f in files)


def test_a_transport_floor_trial_reads_every_record_it_produced(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # its own moto, as a bench trial starts
    result = stream_latency.measure("unused", 200, 3, tmp_path, warmup_seconds=1, transport_only=True)
    assert result["reader"] == "read and discard (transport floor)"
    assert result["records"] == 600 and result["not_visible_within_120s"] == 0
    assert len(result["latencies_seconds"]) == 600
    assert 0 < result["p50_seconds"] <= result["p95_seconds"] <= result["max_seconds"]


def test_the_latency_probe_sees_each_committed_record_once_from_the_commit_that_made_it_visible(tmp_path):
    """stream_latency.Visibility, the probe a streaming trial polls: a record is visible from the poll after the
    commit that holds it, never from a file written but not committed; a poll of an unchanged snapshot reads
    nothing again."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("record_id", pa.string()), ("kinesis_arrival_time", pa.timestamp("us", tz="UTC"))])
    where = StreamTables.local(tmp_path / "warehouse")
    probe = stream_latency.Visibility(where)
    probe.poll()  # before the job created its table
    assert probe.visible_at == {}
    catalog = tables.catalog_from_settings(where.catalog)
    identifier = where.identifier(outputs.STREAM_PREDICTIONS)
    location = where.catalog.table_location(where.database, outputs.STREAM_PREDICTIONS.table)
    table = tables.ensure_table(catalog, identifier, schema, [("kinesis_arrival_time", "hour")], location)
    at = dt.datetime(2026, 12, 7, 2, tzinfo=dt.UTC)

    def written(ids: list[str]) -> str:
        path = f"{location}/data/{ids[0]}.parquet"
        with table.io.new_output(path).create() as stream:
            rows = [{"record_id": i, "kinesis_arrival_time": at} for i in ids]
            pq.write_table(pa.Table.from_pylist(rows, schema=schema), stream)
        return path

    tables.commit_data_files(catalog, identifier, [written(["a", "b"])], tables.CommitMarker("q", 0))
    written(["orphan"])  # an attempt that never committed
    probe.poll()
    first = dict(probe.visible_at)
    assert set(first) == {"a", "b"}
    probe.poll()  # the same snapshot: nothing read again, no time changed
    assert probe.visible_at == first
    tables.commit_data_files(catalog, identifier, [written(["c"])], tables.CommitMarker("q", 1))
    probe.poll()
    assert set(probe.visible_at) == {"a", "b", "c"} and {k: probe.visible_at[k] for k in first} == first
    assert probe.visible_at["c"] >= first["a"]
