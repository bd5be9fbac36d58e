"""A tiny run of the throughput script (the 1,000,000-row measurement runs outside `make test`)."""

from __future__ import annotations

from churn_pipeline import synthetic
from churn_pipeline.bench.batch_throughput import measure


def test_throughput_script_runs_every_method_and_reports_ratios(spark, model_dir, tmp_path):
    data = synthetic.write_csv(1500, tmp_path / "data.csv", seed=5)
    report = measure(str(data), str(model_dir), tmp_path / "bench", per_row_sample=20, repeat=1, spark=spark)
    assert report["rows"] == 1500 and report["per_row_sample"] == 20
    assert set(report["best_wall_seconds"]) == {"no-scoring", "embedded", "endpoint"}
    for mode, runs in report["runs"].items():
        assert [r["rows"] for r in runs] == [1500], mode
        assert runs[0]["wall_seconds"] > 0 and runs[0]["cpu_seconds"] > 0, mode
    expected_ratio = round(
        1500 / report["best_wall_seconds"]["endpoint"] / report["per_row_rows_per_second"], 1
    )
    assert abs(report["endpoint_vs_per_row"] - expected_ratio) <= 0.02 * expected_ratio
    assert not (tmp_path / "bench" / "endpoint" / "endpoint.pid").exists()  # the endpoint was stopped
