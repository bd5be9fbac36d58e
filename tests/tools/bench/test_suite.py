"""A tiny run of `make bench`'s suite (the 1,000,000-row measurement runs outside `make test`).

No assertion here depends on how fast anything ran: the figures must be consistent with each other, not good.
The streaming trials are replaced by recorded results (a real trial starts moto and a streaming job, a minute
on two cores); everything else runs for real: floor A, the batch paths against a real endpoint and the scoring
step. The scaling check is left out of the suite run (each size starts its own JVM) and runs on its own below.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from churn_tools.bench import measure as bench_measure
from churn_tools.bench import ratios as bench_ratios
from churn_tools.bench import report as bench_report
from churn_tools.bench import settings as bench_settings
from churn_tools.bench import stream_latency, suite

ROWS = 1000


def fake_trial(model_dir, rate, seconds, work_dir, *args, **kwargs):
    """A streaming trial's result: latency grows with the rate; p95 reaches the 10 s limit near 1,580/s."""
    latencies = np.linspace(0.5, rate / 150, 50)
    return {
        "rate_target": rate,
        "rate_achieved": rate * 0.97,
        "records": len(latencies),
        "not_visible_within_120s": 0,
        "p50_seconds": float(np.percentile(latencies, 50)),
        "p95_seconds": float(np.percentile(latencies, 95)),
        "max_seconds": float(latencies.max()),
        "commit_batches": 20,
        "commit_p50_seconds": rate / 10_000,
        "commit_p95_seconds": rate / 5_000,
        "job_log": str(work_dir / "job.log"),
        "latencies_seconds": latencies.tolist(),
    }


pytestmark = pytest.mark.slow(seconds=110)


@pytest.fixture(scope="module")
def results(spark, model_dir, tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(stream_latency, "measure", fake_trial)
    work = tmp_path_factory.mktemp("bench")
    settings = bench_settings.Settings(
        rows=ROWS, repeat=2, model_dir=str(model_dir), data_dir=work / "data", work_dir=work / "work",
        out_dir=work / "out", per_row_sample=4, floor_a_max_rows=500, warmup_rows=0, scale_factors=(),
        stream_rates=(1000, 2000, 4000), stream_seconds=1, latency_rate=1000, driver_memory="1g",
        handler_sizes=(),  # fresh JVMs per size: tests/tools/bench/test_stream_parts.py runs it on its own
        shapes=(),  # tests/tools/bench/test_shapes.py runs it on its own
        quality=False,  # tests/tools/bench/test_quality_part.py runs it on its own
    )  # fmt: skip
    try:
        found = suite.Suite(settings).run(spark=spark)
    finally:
        monkeypatch.undo()
    written = bench_report.write_results(found, settings.out_dir)
    return found, written, settings


def test_every_path_is_reported_with_min_median_max(results):
    found, _, settings = results
    paths = found["paths"]
    assert set(paths) == {
        "floor_a", "floor_b", "floor_c", "tutorial", "endpoint", "embedded", "embedded_drift",
        "embedded_scoring_step", "embedded_udf_in_spark", "arrow_round_trip",
    }  # fmt: skip
    assert paths["tutorial"]["rows"] == 4
    # Floor A and the step without I/O run on the same first rows of the file, one thread each.
    assert paths["floor_a"]["rows"] == paths["embedded_scoring_step"]["rows"] == 500
    assert paths["floor_a"]["threads"] == paths["embedded_scoring_step"]["threads"] == 1
    # Floor C (Spark's own CSV -> Parquet copy) counts the rows of the Parquet it wrote: every data line.
    for name in ("floor_b", "floor_c", "endpoint", "embedded", "embedded_drift"):
        assert paths[name]["rows"] == ROWS, name
        assert paths[name]["peak_driver_jvm_rss_mb"]["min"] > 0, name
    for name in ("endpoint", "embedded"):  # the paths that run Python workers: the meter saw them
        assert paths[name]["peak_python_workers_rss_mb"]["min"] > 0, name
    assert paths["embedded_udf_in_spark"]["rows"] == paths["arrow_round_trip"]["rows"] == ROWS
    figures = [(name, key, value) for name, path in paths.items() for key, value in path.items()]
    figures = [
        (name, key, value) for name, key, value in figures if isinstance(value, dict) and "median" in value
    ]
    assert len(figures) >= 20
    for name, key, value in figures:
        assert len(value["runs"]) == settings.repeat, (name, key)
        assert value["min"] <= value["median"] <= value["max"], (name, key)
        assert value["min"] == min(value["runs"]) and value["max"] == max(value["runs"]), (name, key)
        assert value["min"] > 0, (name, key)
    for name in ("embedded_udf_in_spark", "arrow_round_trip"):
        per_core = paths[name]
        assert per_core["rows_per_second_per_core"]["median"] == pytest.approx(
            per_core["rows_per_second"]["median"] / per_core["cores"]
        ), name


def test_ratios_are_the_quotients_of_the_figures_they_name(results):
    found, _, _ = results
    assert set(found["ratios"]) == {ratio.name for ratio in bench_ratios.RATIOS}
    assert all("ratio" in name for name in found["ratios"])
    measured = {name: r for name, r in found["ratios"].items() if r["value"] is not None}
    # Those of the batch paths and the stream's rate against its transport floor (scaling and the handler
    # alone are left out here).
    assert len(measured) == 7
    for name, ratio in measured.items():
        numerator = bench_ratios.lookup(found, ratio["numerator"])
        denominator = bench_ratios.lookup(found, ratio["denominator"])
        assert ratio["of_medians"] == pytest.approx(numerator / denominator), name
        if ratio["target"] is not None:
            assert ratio["meets_target"] == bench_ratios.meets(ratio["value"], ratio["target"]), name
    # Paths measured side by side in each round: the median of the rounds' quotients.
    embedded = found["ratios"]["embedded_vs_floor_b_wall_time_ratio"]
    paths = found["paths"]
    walls = zip(
        paths["embedded"]["wall_seconds"]["runs"], paths["floor_b"]["wall_seconds"]["runs"], strict=True
    )
    assert embedded["per_round"] == pytest.approx([e / b for e, b in walls])
    assert embedded["value"] == pytest.approx(float(np.median(embedded["per_round"])))
    assert embedded["method"] == "median of per-round quotients"
    # Floor C runs in the same rounds: embedded / floor C is paired as well, beside embedded / floor B.
    engine = found["ratios"]["embedded_vs_floor_c_wall_time_ratio"]
    walls = zip(
        paths["embedded"]["wall_seconds"]["runs"], paths["floor_c"]["wall_seconds"]["runs"], strict=True
    )
    assert engine["per_round"] == pytest.approx([e / c for e, c in walls])
    assert (engine["target"], embedded["target"]) == ("<= 2.0", "<= 1.10")
    # Floor A and the step without I/O alternate in their rounds too.
    step = found["ratios"]["embedded_scoring_step_vs_floor_a_per_core_ratio"]
    rates = zip(
        paths["embedded_scoring_step"]["rows_per_second_per_core"]["runs"],
        paths["floor_a"]["rows_per_second_per_core"]["runs"],
        strict=True,
    )
    assert step["per_round"] == pytest.approx([s / a for s, a in rates])
    # The UDF in Spark is not measured in floor A's rounds: a plain quotient of the medians, with no target.
    in_spark = found["ratios"]["embedded_udf_in_spark_vs_floor_a_per_core_ratio"]
    assert in_spark["method"] == "quotient" and in_spark["value"] == in_spark["of_medians"]
    assert "per_round" not in in_spark and in_spark["target"] is None and in_spark["meets_target"] is None
    endpoint = found["ratios"]["endpoint_vs_tutorial_rows_per_second_ratio"]
    assert endpoint["denominator"] == "paths.tutorial.rows_per_second.median"
    assert len(endpoint["per_round"]) == 2


def test_a_part_left_out_is_reported_as_not_measured(results):
    # No earlier results.json in the out-dir: each part left out says it has no earlier figure
    # (tests/tools/bench/test_report_parts.py: the figures a part left out carries from an earlier run).
    found, written, _ = results
    table = written["md"].read_text()
    assert found["scaling"] == {"not_run": "no scale factors given"}
    scaling_ratios = [r for name, r in found["ratios"].items() if name.startswith("scaling_")]
    assert len(scaling_ratios) == 2
    assert all(r["value"] is None and r["meets_target"] is None for r in scaling_ratios)
    assert "## Scaling\n\n**Not run in this run** (no scale factors given); no earlier figure.\n" in table
    assert found["stream_handler"] == {"not_run": "no handler sizes given"}
    assert (
        "## Streaming handler alone\n\n**Not run in this run** (no handler sizes given); no earlier figure.\n"
        in table
    )
    assert found["shapes"] == {"not_run": "no shapes given"}
    assert not any(name.endswith("_shape") for name in found["ratios"])
    assert "## By shape of data\n\n**Not run in this run** (no shapes given); no earlier figure.\n" in table
    assert found["quality"] == {"not_run": "--skip-quality"}
    quality_ratio = found["ratios"]["quality_vs_floor_b_rows_per_second_ratio"]
    assert quality_ratio["value"] is None
    assert f"| {quality_ratio['description']} | not measured | – | – |" in table


def test_scaling_runs_a_size_in_its_own_process(model_dir, tmp_path, monkeypatch):
    # One size only: each size starts a JVM of its own, which is most of this test's time.
    # The child's collector is the one `make bench` runs (G1), not the suite's (tests/conftest.py): under the
    # suite's serial collector the committed heap leaves out one survivor space (989 MB of a fixed 1g), so the
    # GC readings below would be of a JVM the bench never measures. Only the suite's other flag is kept, C1
    # only: it changes what the JIT compiles, not the heap the readings below are of.
    conf = tmp_path / "spark-conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("spark.driver.defaultJavaOptions -XX:TieredStopAtLevel=1\n")
    monkeypatch.setenv("SPARK_CONF_DIR", str(conf))
    settings = bench_settings.Settings(
        rows=500, repeat=1, model_dir=str(model_dir), data_dir=tmp_path / "data", work_dir=tmp_path / "work",
        out_dir=tmp_path / "out", scale_factors=(1,), master="local[1]", scaling_driver_memory="1g",
    )  # fmt: skip
    scale = bench_measure.scaling(settings, say=print)
    [run] = scale["runs"]
    assert run["rows"] == 500 and bench_measure.count_data_rows(tmp_path / "data" / "churn-500.csv") == 500
    # The meter is rooted at the child: this is its JVM, not the test session's.
    assert run["peak_rss_mb"]["driver_jvm"] > 0
    # The child's GC log: the heap was fixed at 1g from the start (-Xms reached the driver JVM).
    assert run["gc"]["collections"] > 0 and run["gc"]["peak_heap_committed_mb"] == 1024
    assert 0 < run["gc"]["peak_heap_after_gc_mb"] < 1024
    # The collector `make bench` runs, G1, not the suite's.
    assert "Using G1" in (tmp_path / "work" / "scaling" / "x1" / "gc.log").read_text()
    assert run["gc"]["pause_share_of_wall"] == pytest.approx(
        run["gc"]["pause_seconds"] / run["wall_seconds"], abs=1e-4
    )
    assert scale["driver_heap"] == "1g"
    assert (tmp_path / "work" / "scaling" / "x1" / "summary.json").exists()
    assert scale["slope_seconds_per_million_rows"] == pytest.approx(run["wall_seconds"] / 500 * 1e6)
    assert scale["peak_total_rss_mb"] == {
        "min": run["peak_rss_mb"]["total"],
        "max": run["peak_rss_mb"]["total"],
    }


def test_streaming_search_stops_at_the_first_rate_over_the_limit_then_bisects(results):
    found, _, settings = results
    stream = found["streaming"]
    # 2000/s misses the limit, so 4000 is never tried; two bisection steps between 1000 and 2000 follow.
    assert [t["rate_target"] for t in stream["search"]] == [1000, 2000, 1500, 1750]
    assert [t["sustained"] for t in stream["search"]] == [True, False, True, False]
    assert stream["max_sustained_rate"] == 1500
    # The transport floor's search goes the same way here (the same recorded trials).
    assert [t["rate_target"] for t in stream["transport_floor"]["search"]] == [1000, 2000, 1500, 1750]
    ratio = found["ratios"]["stream_sustained_rate_vs_transport_floor_ratio"]
    assert ratio["value"] == 1.0 and ratio["meets_target"] is True
    # REPEAT trials at 1,000 records/s in all, the search's first one included.
    assert len(stream["p95_seconds_at_latency_rate"]["runs"]) == settings.repeat


def test_streaming_search_goes_below_a_first_rate_that_is_not_sustained(monkeypatch, tmp_path):
    monkeypatch.setattr(stream_latency, "measure", fake_trial)
    settings = bench_settings.Settings(
        rows=ROWS, repeat=2, model_dir="unused", data_dir=tmp_path, work_dir=tmp_path, out_dir=tmp_path,
        stream_rates=(2000, 4000), stream_seconds=1, latency_rate=1000,
    )  # fmt: skip
    stream = bench_measure.streaming(settings, say=print)
    # 2000/s misses the limit, so the bisection runs between 0 and 2000: 1000 (sustained), then 1500.
    assert [t["rate_target"] for t in stream["search"]] == [2000, 1000, 1500]
    assert [t["sustained"] for t in stream["search"]] == [False, True, True]
    assert stream["max_sustained_rate"] == 1500
    assert len(stream["p95_seconds_at_latency_rate"]["runs"]) == settings.repeat


def test_json_png_and_table_are_written(results):
    found, written, _ = results
    stored = json.loads(written["json"].read_text())
    assert stored["paths"] == found["paths"] and stored["ratios"] == found["ratios"]
    machine = stored["machine"]
    for fact in ("cpu_count", "cpu_model", "memory_gb", "python", "pyspark", "xgboost", "java",
                 "load_average_before", "load_average_after"):  # fmt: skip
        assert machine[fact] not in (None, "", "not installed"), fact
    assert sum(stored["streaming"]["latency_histogram"]["counts"]) == 50
    assert "latencies_seconds" not in stored["streaming"]
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and written["png"].stat().st_size > 10_000
    table = written["md"].read_text()
    for ratio in found["ratios"].values():
        assert ratio["description"] in table and (ratio["target"] or "| – |") in table
    assert "streaming p95 PutRecords → visible at 1000 records/s" in table
    # Every trial at the latency rate committed in 0.1 s (p50) / 0.2 s (p95) by the recorded trials.
    assert (
        "| streaming: the tables' commit per micro-batch at 1000 records/s, p50 / p95 | 0.1 (0.1 – 0.1) / 0.2"
        in table
    )
    missed = found["streaming"]["search"][1]  # 2000/s: over the limit, and why is in the table
    assert f"1000 ok; 2000 no (p95 {missed['p95_seconds']:.3g} s); 1500 ok; 1750 no (" in table
