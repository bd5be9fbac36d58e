"""results.* after a partial `make bench`: every part shown, the parts left out with the figures and the date of
the run that measured them (issue 28, item 3).

Fast: the results are built here, no Spark, no bench run; what is written is what `make bench` writes
(report.write_results into a directory holding the previous results.json).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from churn_tools.bench import parts, report, suite
from churn_tools.bench import settings as bench_settings
from churn_tools.bench.ratios import RATIOS, ratios, shape_ratio, stats

REPO = Path(__file__).resolve().parents[3]
MACHINE = {
    "cpu_count": 2, "cpu_model": "test CPU", "memory_gb": 8.0, "python": "3.11.7", "pyspark": "4.1.1",
    "xgboost": "3.0.5", "java": "openjdk 17", "load_average_before": [1.0, 1.0, 1.0],
    "load_average_after": [2.0, 2.0, 2.0],
}  # fmt: skip
DESCRIPTION = {ratio.name: ratio.description for ratio in RATIOS}
T1, T2, T3 = "2026-12-01T10:00:00+00:00", "2026-12-02T10:00:00+00:00", "2026-12-03T10:00:00+00:00"


# --- results as the suite measures them, each figure scaled by `slower` (to tell one run from another) -------


def batch_mode(rows: int, walls: list[float]) -> dict:
    return {
        "rows": rows,
        "wall_seconds": stats(walls),
        "rows_per_second": stats([rows / wall for wall in walls]),
        "peak_driver_jvm_rss_mb": stats([2048.0] * len(walls)),
        "peak_python_workers_rss_mb": stats([512.0] * len(walls)),
    }


def per_core(rows: int, rates: list[float]) -> dict:
    return {
        "rows": rows,
        "cores": 1,
        "rows_per_second": stats(rates),
        "rows_per_second_per_core": stats(rates),
    }


def trial(rate: float, p95: float) -> dict:
    return {
        "rate_target": rate, "rate_achieved": rate, "sustained_share": 0.9, "p95_seconds": p95,
        "not_visible_within_120s": 0, "sustained": p95 < 10,
    }  # fmt: skip


def measured(part: str, rows: int, slower: float) -> dict:
    """The figures of one part, in the shape the suite's measuring functions give them."""
    if part == "paths":
        return {
            "tutorial": {"rows": 4, "rows_per_second": stats([70 / slower, 80 / slower])},
            **{name: batch_mode(rows, [wall * slower, wall * slower * 1.2])
               for name, wall in (("endpoint", 30), ("floor_b", 20), ("floor_c", 10), ("embedded", 22),
                                  ("embedded_drift", 23))},
            **{name: per_core(rows, [rate / slower, rate / slower * 0.9])
               for name, rate in (("arrow_round_trip", 2e5), ("embedded_udf_in_spark", 1.4e5),
                                  ("embedded_scoring_step", 3.7e5), ("floor_a", 7e5))},
        }  # fmt: skip
    if part == "shapes":
        return {
            "tutorial": {
                "columns": 21, "numeric_features": 11, "categorical_features": 5, "encoded_features": 69,
                "made_from": "synthetic rows of its description", "model": {"trees": 100, "leaves": 648},
                "floor_b": batch_mode(rows, [20 * slower, 21 * slower]),
                "embedded": batch_mode(rows, [22 * slower, 22 * slower]),
            }
        }  # fmt: skip
    if part == "quality":
        return {
            "rows": rows,
            "floor_b": batch_mode(rows, [20 * slower, 20 * slower]),
            "quality": batch_mode(rows, [60 * slower, 50 * slower]),
        }
    if part == "scaling":
        return {
            "driver_heap": "2g",
            "runs": [{"rows": rows * factor, "peak_rss_mb": {"total": 2800.0 + factor}, "gc": {"pause_share_of_wall": 0.02}}
                     for factor in (1, 4)],
            "slope_seconds_per_million_rows": 26 * slower,
            "seconds_per_million_rows": {"smallest": 30 * slower, "largest": 27 * slower},
            "peak_total_rss_mb": {"min": 2801.0, "max": 2804.0 * slower},
        }  # fmt: skip
    if part == "stream_handler":
        size = {
            "records": 1000, "partitions": 1, "records_per_second_per_core": 12000 / slower,
            "driver_python_peak_rss_mb": 300.0, "jvm_live_heap_mb": 59.0, "jvm_heap_after_gc_mb": 80.0,
            "executor_jvm_heap_after_gc_mb": 100.0,
        }  # fmt: skip
        return {
            "sizes": {"1000": size}, "largest": size,
            "batch_same_rows": {"records_per_second_per_core": 11000.0},
            "driver_python_rss": {"min": 300.0, "max": 300.0 * slower},
            "jvm_live_heap": {"min": 59.0, "max": 59.0},
        }  # fmt: skip
    if part == "streaming":
        return {
            "p95_limit_seconds": 10.0, "latency_rate": 1000.0, "max_sustained_rate": 1000.0,
            "search": [trial(1000, 2.0 * slower), trial(2000, 12.0)],
            "p50_seconds_at_latency_rate": stats([1.5 * slower, 1.6 * slower]),
            "p95_seconds_at_latency_rate": stats([2.0 * slower, 2.2 * slower]),
            "max_seconds_at_latency_rate": stats([3.0 * slower, 3.1 * slower]),
            "commit_p50_seconds_at_latency_rate": stats([0.05 * slower, 0.07 * slower]),
            "commit_p95_seconds_at_latency_rate": stats([0.2 * slower, 0.3 * slower]),
            "latencies_seconds": [0.5 + i / 20 * slower for i in range(50)],
            "transport_floor": {"search": [trial(1000, 0.5), trial(2000, 0.6)], "every_rate_sustained": True,
                                "max_sustained_rate": 2000.0},
        }  # fmt: skip
    raise AssertionError(f"no figures for part {part}")


def run(generated_at: str, rows: int, slower: float, left_out: dict[str, str]) -> dict:
    """A run's results as Suite.run returns them: the parts in `left_out` (part: why) not run."""
    results = {
        "generated_at": generated_at,
        "settings": {"rows": rows, "repeat": 2},
        "machine": MACHINE,
        **{part: parts.not_run(left_out[part]) if part in left_out else measured(part, rows, slower)
           for part in parts.PARTS},
    }  # fmt: skip
    results["ratios"] = ratios(results)
    return results


FULL = {}
PARTIAL = {
    "shapes": "no shapes given",
    "scaling": "no scale factors given",
    "streaming": "no stream rates given",
}
NOTHING = {part: f"{part} left out" for part in parts.PARTS}


def written(out: Path) -> tuple[dict, str]:
    return json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def sections(markdown: str) -> dict[str, str]:
    """results.md cut at its `## ` headings: {title: the section's text}."""
    head, *rest = markdown.split("\n## ")
    return {"": head, **{text.split("\n", 1)[0]: text.split("\n", 1)[1] for text in rest}}


# --- every part has a rendering -------------------------------------------------------------------------------


def test_every_part_the_suite_can_write_has_a_section_and_every_ratio_a_part(tmp_path):
    assert set(report.SECTIONS) == set(parts.PARTS)
    # A run leaving every part out starts no Spark and no process but `java -version`: its results hold every
    # part the suite writes, each marked as not run, and nothing else but facts about the run.
    settings = bench_settings.Settings(
        rows=10, repeat=1, model_dir="unused", data_dir=tmp_path, work_dir=tmp_path, out_dir=tmp_path,
        scale_factors=(), stream_rates=(), handler_sizes=(), paths=False, shapes=(), quality=False,
    )  # fmt: skip
    found = suite.Suite(settings).run()
    assert set(found) - set(parts.RUN_FACTS) == set(parts.PARTS)
    assert {part: found[part] for part in parts.PARTS} == {
        "paths": {"not_run": "--skip-paths"},
        "shapes": {"not_run": "no shapes given"},
        "quality": {"not_run": "--skip-quality"},
        "scaling": {"not_run": "no scale factors given"},
        "stream_handler": {"not_run": "no handler sizes given"},
        "streaming": {"not_run": "no stream rates given"},
    }
    assert all(ratio["value"] is None for ratio in found["ratios"].values())
    # Every ratio reads one part, which results.md shows it under.
    shape = measured("shapes", 10, 1.0)["tutorial"]
    for ratio in (*RATIOS, shape_ratio("tutorial", shape)):
        assert parts.part_of(ratio.numerator) == parts.part_of(ratio.denominator) in parts.PARTS, ratio.name
    # A part the suite writes without adding it to PARTS is refused, not left out of results.md.
    with pytest.raises(ValueError, match="results hold new_part, not in churn_tools.bench.parts.PARTS"):
        parts.check_complete({**found, "new_part": {"figure": 1}})
    with pytest.raises(ValueError, match="part 'scaling' is {}, neither its figures nor"):
        parts.check_complete({**found, "scaling": {}})


def test_a_full_run_shows_every_part_in_order_with_every_ratio(tmp_path):
    report.write_results(run(T1, 1000, 1.0, FULL), tmp_path)
    stored, markdown = written(tmp_path)
    titles = list(sections(markdown))[1:]
    assert titles == [report.SECTIONS[part].title for part in parts.PARTS]
    assert sections(markdown)[""].endswith("\n\nEvery part was measured in this run.\n")
    assert "not measured" not in markdown and "Not run" not in markdown
    for ratio in stored["ratios"].values():
        assert ratio["value"] is not None and "measured_at" not in ratio
        assert f"| {ratio['description']} | {report._number(ratio['value'])}" in markdown
    assert "latencies_seconds" not in stored["streaming"]
    assert sum(stored["streaming"]["latency_histogram"]["counts"]) == 50
    assert (
        "| streaming: the tables' commit per micro-batch at 1000 records/s, p50 / p95 "
        "| 0.06 (0.05 – 0.07) / 0.25 (0.2 – 0.3) s |"
    ) in markdown


def test_a_streaming_run_without_commit_figures_says_they_were_not_measured():
    # Results from before the job logged its commits, or trials whose logs had none (measure.streaming leaves
    # the figures out then).
    assert report._commit_row({"latency_rate": 1000.0}) == (
        "| streaming: the tables' commit per micro-batch at 1000 records/s, p50 / p95 | not measured | – | – |"
    )


# --- partial runs -----------------------------------------------------------------------------------------------


def test_a_partial_run_shows_its_new_figures_and_the_carried_ones_with_their_date(tmp_path):
    report.write_results(run(T1, 1000, 1.0, FULL), tmp_path)
    full_stored, full_markdown = written(tmp_path)
    partial = run(T2, 500, 2.0, PARTIAL)
    report.write_results(partial, tmp_path)
    stored, markdown = written(tmp_path)

    # results.json: the parts measured now hold this run's figures; each left out, the full run's, dated.
    for part in parts.PARTS:
        if part in PARTIAL:
            assert stored[part] == {
                "not_run": PARTIAL[part],
                "measured_at": T1,
                "measured_with": {"rows": 1000, "repeat": 2},
                "previous": full_stored[part],
            }, part
        else:
            assert stored[part] == json.loads(json.dumps(partial[part])), part
    # The ratios: those of a carried part computed from its carried figures, and dated.
    for name, ratio in stored["ratios"].items():
        carried = parts.part_of(ratio["numerator"]) in PARTIAL
        source = full_stored if carried else partial
        assert ratio["value"] == pytest.approx(source["ratios"][name]["value"]), name
        assert ratio.get("measured_at") == (T1 if carried else None), name

    # results.md: a carried part's section is the full run's, under a line saying so with the full run's date.
    now, before = sections(markdown), sections(full_markdown)
    assert now[""].endswith(
        "\n\nNot run in this run: By shape of data; Scaling; Streaming (each shows the figures of the last run "
        "that measured it, with its date, if there was one).\n"
    )
    for part in parts.PARTS:
        title = report.SECTIONS[part].title
        if part in PARTIAL:
            assert now[title] == (
                f"\n**Not run in this run** ({PARTIAL[part]}). The figures below are those of the run of {T1} "
                f"(1,000 rows, median (min – max) of 2 runs), and the checks are computed from them.\n"
                + before[title]
            ), part
        else:  # measured now: as this run alone shows it
            assert now[title] == sections(report.markdown(partial))[title], part
            assert now[title] != before[title], part
    # One whole section, to see what a reader sees.
    assert now["Scaling"] == (
        f"""
**Not run in this run** (no scale factors given). The figures below are those of the run of {T1} (1,000 rows, median (min – max) of 2 runs), and the checks are computed from them.

| check | value | target | met |
| --- | --- | --- | --- |
| scaling, batch embedded at 1,000, 4,000 rows on a fixed 2g heap (peak MB 2,801, 2,804; GC pauses 2.0%, 2.0% of wall time): least-squares slope | 26 s per million rows | linear | – |
| {DESCRIPTION["scaling_peak_memory_max_vs_min_ratio"]} | 1 | <= 1.2 | yes |
| {DESCRIPTION["scaling_per_row_time_largest_vs_smallest_ratio"]} | 0.9 | <= 1.25 | yes |
"""
    )
    # The chart names the earlier run beside each carried bar; the latency histogram is drawn from the one
    # results.json kept (the raw latencies are not stored).
    merged = parts.carry_over(partial, full_stored)
    labels = [label for label, _, _ in report.throughput_rows(merged)]
    assert "floor B, tutorial shape, 21 columns (run of 2026-12-01, 1,000 rows)" in labels
    assert "floor B: batch job without scoring" in labels
    assert (tmp_path / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_part_carried_twice_keeps_the_date_of_the_run_that_measured_it(tmp_path):
    """Three runs: everything; then all but scaling and streaming; then only the quality job. The whole
    results.md of the third."""
    report.write_results(run(T1, 1000, 1.0, FULL), tmp_path)
    report.write_results(run(T2, 500, 2.0, {"scaling": "no scale factors given", "streaming": "no rates"}),
                         tmp_path)  # fmt: skip
    _, second_markdown = written(tmp_path)
    only_quality = {part: why for part, why in NOTHING.items() if part != "quality"}
    report.write_results(run(T3, 200, 3.0, only_quality), tmp_path)
    stored, markdown = written(tmp_path)

    assert (stored["scaling"]["measured_at"], stored["scaling"]["measured_with"]) == (
        T1,
        {"rows": 1000, "repeat": 2},
    )
    assert stored["scaling"]["not_run"] == "scaling left out"  # this run's reason, the first run's figures
    assert stored["paths"]["measured_at"] == T2 and stored["paths"]["measured_with"]["rows"] == 500
    assert "measured_at" not in stored["quality"] and stored["quality"]["rows"] == 200
    first = sections(report.markdown(parts.carry_over(run(T3, 200, 3.0, only_quality), None)))
    second = sections(second_markdown)

    def figures_of(section: str) -> str:
        """A carried section without its line saying so."""
        return section.split("\n", 2)[2]

    def carried(part: str, date: str, rows: str, body: str) -> str:
        return (
            f"\n**Not run in this run** ({part} left out). The figures below are those of the run of {date} "
            f"({rows} rows, median (min – max) of 2 runs), and the checks are computed from them.\n" + body
        )

    assert markdown == (
        f"Run of {T3}: 200 rows, median (min – max) of 2 runs; 2 cores (test CPU), 8.0 GB, load 1.0 before / "
        "2.0 after; Python 3.11.7, pyspark 4.1.1, xgboost 3.0.5, openjdk 17.\n"
        "\n"
        "Not run in this run: Floor A, the batch paths, the UDF in Spark; By shape of data; Scaling; Streaming "
        "handler alone; Streaming (each shows the figures of the last run that measured it, with its date, if "
        "there was one).\n"
        "\n## Floor A, the batch paths, the UDF in Spark\n"
        + carried("paths", T2, "500", second["Floor A, the batch paths, the UDF in Spark"])
        + "\n## By shape of data\n"
        + carried("shapes", T2, "500", second["By shape of data"])
        + "\n## The quality job beside floor B\n"
        + first["The quality job beside floor B"]
        + "\n## Scaling\n"
        # carried twice: the first run's figures and date (the second run's section says the same)
        + carried("scaling", T1, "1,000", figures_of(second["Scaling"]))
        + "\n## Streaming handler alone\n"
        + carried("stream_handler", T2, "500", second["Streaming handler alone"])
        + "\n## Streaming\n"
        + carried("streaming", T1, "1,000", figures_of(second["Streaming"]))
    )
    assert f"run of {T1} (1,000 rows" in second["Scaling"]


def test_a_part_no_run_measured_says_so(tmp_path):
    # The previous results.json as the suite wrote it before parts were carried: a part left out was
    # {"skipped": why} ({} for the paths), and the parts added since are absent.
    old = run(T1, 1000, 1.0, {})
    old.update(paths={}, shapes={"skipped": "no shapes given"})
    for part in ("quality", "stream_handler"):
        del old[part]
    (tmp_path / "results.json").write_text(json.dumps(old))
    left_out = {"paths": "--skip-paths", "shapes": "no shapes given", "quality": "--skip-quality",
                "stream_handler": "no handler sizes given"}  # fmt: skip
    report.write_results(run(T2, 500, 1.0, left_out), tmp_path)
    stored, markdown = written(tmp_path)
    for part, why in left_out.items():
        assert stored[part] == {"not_run": why}, part
    now = sections(markdown)
    assert now["By shape of data"] == "\n**Not run in this run** (no shapes given); no earlier figure.\n"
    assert now["The quality job beside floor B"] == (
        "\n**Not run in this run** (--skip-quality); no earlier figure.\n\n"
        "| check | value | target | met |\n| --- | --- | --- | --- |\n"
        f"| {DESCRIPTION['quality_vs_floor_b_rows_per_second_ratio']} | not measured | – | – |\n"
    )
    assert now["Floor A, the batch paths, the UDF in Spark"].startswith(
        "\n**Not run in this run** (--skip-paths); no earlier figure.\n\n| check |"
    )
    # Carried on: the next partial run still says no earlier figure, and keeps what the previous one measured.
    report.write_results(run(T3, 500, 1.0, {**left_out, "scaling": "no scale factors given"}), tmp_path)
    stored, _ = written(tmp_path)
    assert stored["shapes"] == {"not_run": "no shapes given"}
    assert stored["scaling"]["measured_at"] == T2


def test_the_committed_results_are_carried_by_a_run_that_measures_nothing(tmp_path):
    """What the next partial `make bench` does with bench/results.json, whatever run wrote it."""
    committed = json.loads((REPO / "bench" / "results.json").read_text())
    shutil.copy(REPO / "bench" / "results.json", tmp_path / "results.json")
    report.check_previous(tmp_path)
    report.write_results(run(T3, 100, 1.0, NOTHING), tmp_path)
    stored, markdown = written(tmp_path)
    for part in parts.PARTS:
        earlier = committed.get(part)
        if parts.measured(earlier):
            assert (
                stored[part]["previous"] == earlier
                and stored[part]["measured_at"] == committed["generated_at"]
            )
        elif parts.carried(earlier):
            assert stored[part]["previous"] == earlier["previous"]
            assert stored[part]["measured_at"] == earlier["measured_at"]
        else:
            assert stored[part] == {"not_run": f"{part} left out"}
        assert f"**Not run in this run** ({part} left out)" in sections(markdown)[report.SECTIONS[part].title]


def test_a_previous_results_file_that_cannot_be_carried_is_named_before_a_run(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text("{not json")
    with pytest.raises(ValueError, match=f"{results}: not JSON"):
        report.write_results(run(T2, 100, 1.0, NOTHING), tmp_path)
    results.write_text(json.dumps({"settings": {"rows": 1, "repeat": 1}, "paths": {}}))
    with pytest.raises(ValueError, match=f"{results}: no generated_at, settings.rows or settings.repeat"):
        parts.read_previous(tmp_path)
    broken = run(T1, 100, 1.0, FULL)
    del broken["scaling"]["runs"]
    results.write_text(json.dumps(broken))
    with pytest.raises(ValueError, match=r"its figures cannot be shown \(KeyError: 'runs'\)"):
        report.check_previous(tmp_path)
    # `make bench` says so before measuring anything.
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--model-dir", "unused", "--shapes", "", "--out-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    assert f"--out-dir: {results}: its figures cannot be shown" in capsys.readouterr().err
