"""The bench results as Markdown (printed, and linked from the README as the latest figures) and as a chart.

results.md has one section per part of the run (churn_tools.bench.parts.PARTS, each rendered by SECTIONS), in
the order the suite runs them: the part's figures, then its checks (the ratios that read it, with their targets).
A part this run left out shows the figures of the last run that measured it, under a line that says it was not
run in this run and gives that run's date; a part no run has measured says that instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from churn_tools.bench import parts
from churn_tools.bench.ratios import ratios
from churn_tools.bench.settings import P95_TARGET_SECONDS

# (key in results["paths"], label, figure): the rows of the table and the bars of the chart, in this order.
THROUGHPUT = (
    ("tutorial", "tutorial: new client + 1 request per row", "rows_per_second"),
    ("endpoint", "batch, endpoint mode", "rows_per_second"),
    ("floor_b", "floor B: batch job without scoring", "rows_per_second"),
    ("floor_c", "floor C: Spark's own CSV → Parquet copy, explicit schema", "rows_per_second"),
    ("embedded", "batch, embedded mode", "rows_per_second"),
    ("embedded_drift", "batch, embedded mode with drift", "rows_per_second"),
    ("arrow_round_trip", "Spark → Python → Spark, a UDF doing nothing, per core", "rows_per_second_per_core"),
    ("embedded_udf_in_spark", "scoring UDF in Spark, cached rows, per core", "rows_per_second_per_core"),
    ("embedded_scoring_step", "embedded scoring step, no I/O, 1 thread", "rows_per_second_per_core"),
    ("floor_a", "floor A: raw XGBoost, 1 thread", "rows_per_second_per_core"),
)


# One row of a throughput table: (label, figures or None if not measured, figure key).
Throughput = tuple[str, dict | None, str]


def _path_rows(paths: dict) -> list[Throughput]:
    """Every path, measured or not (a run before floor C has none: the row says so rather than vanish)."""
    return [(label, paths.get(key), figure) for key, label, figure in THROUGHPUT]


def _shape_rows(shapes: dict) -> list[Throughput]:
    rows = []
    for name, shape in shapes.items():
        size = f"{name} shape, {shape['columns']} columns"
        rows.append((f"floor B, {size}", shape["floor_b"], "rows_per_second"))
        rows.append((f"batch, embedded mode, {size}", shape["embedded"], "rows_per_second"))
    return rows


def _quality_rows(quality: dict) -> list[Throughput]:
    return [
        ("floor B, beside the quality job", quality["floor_b"], "rows_per_second"),
        ("quality job: outcomes joined to as many scored rows", quality["quality"], "rows_per_second"),
    ]


def _number(value: float) -> str:
    """Whole numbers from 100 up, three significant digits below (rows/s span 1 to 10^6 here)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _span(figure: dict) -> str:
    return f"{_number(figure['median'])} ({_number(figure['min'])} – {_number(figure['max'])})"


def _optional(path: dict, key: str) -> str:
    return _span(path[key]) if key in path else "–"


def _handler_rows(handler: dict) -> list[str]:
    return [
        f"| streaming handler alone, {size['records']:,} records ({size['partitions']} partitions): "
        f"records/s per core; driver Python RSS / driver JVM live heap / driver JVM heap after young GCs; "
        f"executors' heap after GC (MB) "
        f"| {_number(size['records_per_second_per_core'])}; {_number(size['driver_python_peak_rss_mb'])} / "
        f"{_number(size['jvm_live_heap_mb'])} / {_number(size['jvm_heap_after_gc_mb'])}; "
        f"{_number(size['executor_jvm_heap_after_gc_mb'])} | – | – |"
        for size in handler["sizes"].values()
    ]


def _streaming_rows(stream: dict) -> list[str]:
    limit, p95 = stream["p95_limit_seconds"], stream["p95_seconds_at_latency_rate"]
    rates_tried = "; ".join(_trial_outcome(t, limit) for t in stream["search"])
    spread = f"p50 {_span(stream['p50_seconds_at_latency_rate'])}, max {_span(stream['max_seconds_at_latency_rate'])}"
    return [
        f"| streaming p95 PutRecords → visible at {stream['latency_rate']:g} records/s ({spread}) "
        f"| {_span(p95)} s | < {limit:g} s | {'yes' if p95['median'] < limit else '**no**'} |",
        f"| streaming p95 at {stream['latency_rate']:g} records/s, target "
        f"| {_span(p95)} s | <= {P95_TARGET_SECONDS:g} s | {'yes' if p95['median'] <= P95_TARGET_SECONDS else '**no**'} |",
        f"| streaming: highest rate with p95 < {limit:g} s (tried {rates_tried}) "
        f"| {stream['max_sustained_rate']:g} records/s | – | – |",
        _commit_row(stream),
        *_floor_rows(stream.get("transport_floor"), limit),
    ]


def _commit_row(stream: dict) -> str:
    label = (
        f"streaming: the tables' commit per micro-batch at {stream['latency_rate']:g} records/s, p50 / p95"
    )
    p50, p95 = (
        stream.get("commit_p50_seconds_at_latency_rate"),
        stream.get("commit_p95_seconds_at_latency_rate"),
    )
    if p50 is None or p95 is None:  # runs before the job logged its commits, or a trial whose log had none
        return f"| {label} | not measured | – | – |"
    return f"| {label} | {_span(p50)} / {_span(p95)} s | – | – |"


def _floor_rows(floor: dict | None, limit: float) -> list[str]:
    if floor is None:  # runs before the transport floor was measured
        return ["| transport floor: producer -> local Kinesis -> read only | not measured | – | – |"]
    tried = "; ".join(_trial_outcome(t, limit) for t in floor["search"])
    bound = " (every rate tried sustained: a lower bound)" if floor["every_rate_sustained"] else ""
    return [
        f"| transport floor: producer -> local Kinesis -> read only, highest rate with p95 < {limit:g} s "
        f"(tried {tried}) | {floor['max_sustained_rate']:g} records/s{bound} | – | – |"
    ]


def _trial_outcome(trial: dict, limit: float) -> str:
    """`1500 ok`, or why a rate was not sustained: `2000 no (p95 36.9 s, the producer sent only 1,262/s)`."""
    if trial["sustained"]:
        return f"{trial['rate_target']:g} ok"
    why = []
    if trial["p95_seconds"] is None:
        why.append("nothing became visible")
    elif trial["p95_seconds"] >= limit:
        why.append(f"p95 {trial['p95_seconds']:.3g} s")
    if trial["not_visible_within_120s"]:
        why.append(f"{trial['not_visible_within_120s']:,} records not visible within 120 s")
    if trial["rate_achieved"] < trial["rate_target"] * trial["sustained_share"]:
        why.append(f"the producer sent only {_number(trial['rate_achieved'])}/s")
    return f"{trial['rate_target']:g} no ({', '.join(why)})"


def _scaling_rows(scale: dict) -> list[str]:
    runs = scale["runs"]
    sizes = ", ".join(f"{r['rows']:,}" for r in runs)
    peaks = ", ".join(_number(r["peak_rss_mb"]["total"]) for r in runs)
    gc_share = ", ".join(f"{r['gc']['pause_share_of_wall']:.1%}" for r in runs)
    return [
        f"| scaling, batch embedded at {sizes} rows on a fixed {scale['driver_heap']} heap (peak MB {peaks}; "
        f"GC pauses {gc_share} of wall time): least-squares slope "
        f"| {_number(scale['slope_seconds_per_million_rows'])} s per million rows | linear | – |"
    ]


@dataclass(frozen=True)
class Section:
    """How results.md shows one part: its title, its throughput rows, its check rows (besides its ratios)."""

    title: str
    throughput: Callable[[dict], list[Throughput]] = lambda figures: []
    checks: Callable[[dict], list[str]] = lambda figures: []


# Every part of parts.PARTS; tests/tools/bench/test_report_parts.py fails on a part missing here.
SECTIONS = {
    "paths": Section("Floor A, the batch paths, the UDF in Spark", throughput=_path_rows),
    "shapes": Section("By shape of data", throughput=_shape_rows),
    "quality": Section("The quality job beside floor B", throughput=_quality_rows),
    "scaling": Section("Scaling", checks=_scaling_rows),
    "stream_handler": Section("Streaming handler alone", checks=_handler_rows),
    "streaming": Section("Streaming", checks=_streaming_rows),
}
THROUGHPUT_HEADER = (
    "| path | rows/s | wall s | peak driver JVM MB | peak Python workers MB |",
    "| --- | --- | --- | --- | --- |",
)
CHECK_HEADER = ("| check | value | target | met |", "| --- | --- | --- | --- |")


def throughput_rows(results: dict) -> list[Throughput]:
    """The throughput rows with figures, part by part; those of a carried part name the run that measured them."""
    rows = []
    for part in parts.PARTS:
        value, found = results[part], parts.figures(results[part])
        if found is None:
            continue
        note = f" ({_earlier_run(value)})" if parts.carried(value) else ""
        rows += [(label + note, figures, key) for label, figures, key in SECTIONS[part].throughput(found)
                 if figures is not None]  # fmt: skip
    return rows


def _earlier_run(carried: dict) -> str:
    """`run of 2026-12-01, 1,000,000 rows`: short, for the chart's labels."""
    return f"run of {carried['measured_at'][:10]}, {carried['measured_with']['rows']:,} rows"


def markdown(results: dict) -> str:
    settings, machine = results["settings"], results["machine"]
    left_out = [SECTIONS[part].title for part in parts.PARTS if not parts.measured(results[part])]
    lines = [
        f"Run of {results['generated_at']}: {settings['rows']:,} rows, median (min – max) of "
        f"{settings['repeat']} runs; {machine['cpu_count']} cores ({machine['cpu_model']}), "
        f"{machine['memory_gb']} GB, load {machine['load_average_before'][0]:.1f} before / "
        f"{machine['load_average_after'][0]:.1f} after; Python {machine['python']}, pyspark {machine['pyspark']}, "
        f"xgboost {machine['xgboost']}, {machine['java']}.",
        "",
        f"Not run in this run: {'; '.join(left_out)} (each shows the figures of the last run that measured it, "
        "with its date, if there was one)."
        if left_out
        else "Every part was measured in this run.",
    ]
    by_part = _ratios_by_part(results["ratios"])
    for part in parts.PARTS:
        lines += ["", f"## {SECTIONS[part].title}", "", *_section(part, results[part], by_part[part])]
    return "\n".join(lines) + "\n"


def _ratios_by_part(found: dict) -> dict[str, list[dict]]:
    by_part: dict[str, list[dict]] = {part: [] for part in parts.PARTS}
    for name, ratio in found.items():
        part = parts.part_of(ratio["numerator"])
        if part not in by_part:
            raise ValueError(f"ratio {name} reads {ratio['numerator']}, of no part in parts.PARTS")
        by_part[part].append(ratio)
    return by_part


def _section(part: str, value: dict, part_ratios: list[dict]) -> list[str]:
    if parts.carried(value):
        measured_with = value["measured_with"]
        return [
            f"**Not run in this run** ({value[parts.NOT_RUN]}). The figures below are those of the run of "
            f"{value['measured_at']} ({measured_with['rows']:,} rows, median (min – max) of "
            f"{measured_with['repeat']} runs), and the checks are computed from them.",
            "",
            *_tables(SECTIONS[part], value["previous"], part_ratios),
        ]
    if not parts.measured(value):
        checks = [_ratio_row(ratio) for ratio in part_ratios]  # each "not measured", beside its target
        return [
            f"**Not run in this run** ({value[parts.NOT_RUN]}); no earlier figure.",
            *(["", *CHECK_HEADER, *checks] if checks else []),
        ]
    return _tables(SECTIONS[part], value, part_ratios)


def _tables(section: Section, figures: dict, part_ratios: list[dict]) -> list[str]:
    lines = []
    if throughput := section.throughput(figures):
        lines += [*THROUGHPUT_HEADER, *(_throughput_row(*row) for row in throughput)]
    if checks := section.checks(figures) + [_ratio_row(ratio) for ratio in part_ratios]:
        if lines:
            lines.append("")
        lines += [*CHECK_HEADER, *checks]
    return lines


def _throughput_row(label: str, figures: dict | None, key: str) -> str:
    if figures is None:
        return f"| {label} | not measured | – | – | – |"
    return (
        f"| {label} | {_span(figures[key])} | {_optional(figures, 'wall_seconds')} | "
        f"{_optional(figures, 'peak_driver_jvm_rss_mb')} | {_optional(figures, 'peak_python_workers_rss_mb')} |"
    )


def _ratio_row(ratio: dict) -> str:
    if ratio["value"] is None:
        return f"| {ratio['description']} | not measured | {ratio['target'] or '–'} | – |"
    met = {True: "yes", False: "**no**", None: "–"}[ratio["meets_target"]]
    value = _number(ratio["value"])
    if "per_round" in ratio:
        rounds = ", ".join(_number(r) for r in ratio["per_round"])
        value += f" (median of rounds {rounds}; of medians {_number(ratio['of_medians'])})"
    return f"| {ratio['description']} | {value} | {ratio['target'] or '–'} | {met} |"


def chart(results: dict, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (bars, histogram) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"width_ratios": [3, 2]})
    labels, medians, low, high = [], [], [], []
    for label, path, name in throughput_rows(results):
        value = path[name]
        labels.append(label)
        medians.append(value["median"])
        low.append(value["median"] - value["min"])
        high.append(value["max"] - value["median"])
    if not labels:  # every throughput part left out
        bars.text(0.5, 0.5, "no throughput measured", ha="center", va="center")
        bars.set_axis_off()
    else:
        _throughput_bars(bars, labels, medians, low, high, results["settings"]["rows"])

    stream = results["streaming"]
    if parts.figures(stream) is None:
        histogram.text(0.5, 0.5, f"streaming not run in this run\n({stream[parts.NOT_RUN]}; no earlier figure)",
                       ha="center", va="center")  # fmt: skip
        histogram.set_axis_off()
    else:
        note = f"\n{_earlier_run(stream)}" if parts.carried(stream) else ""
        _latency_histogram(histogram, parts.figures(stream), note)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _throughput_bars(bars, labels: list[str], medians: list[float], low: list[float], high: list[float],
                     rows: int) -> None:  # fmt: skip
    positions = range(len(labels))
    bars.barh(positions, medians, xerr=[low, high], color="#4c72b0", capsize=3)
    bars.set_yticks(list(positions), labels)
    bars.set_xscale("log")
    bars.set_xlabel("rows/s (median of REPEAT, bars: min – max; log scale)")
    bars.set_title(f"Throughput by path\n{rows:,} rows unless the label names an earlier run", fontsize=10)
    for position, value, above in zip(positions, medians, high, strict=True):
        bars.annotate(f"  {_number(value)}", (value + above, position), va="center", fontsize=8)


def _latency_histogram(histogram, stream: dict, note: str) -> None:
    """From the run's latencies, or from the histogram results.json keeps of them (a carried part)."""
    counts, edges = _histogram(stream)
    histogram.stairs(counts, edges, fill=True, color="#55a868")
    histogram.axvline(stream["p95_limit_seconds"], color="#c44e52", linestyle="--", label="p95 limit")
    p95 = stream["p95_seconds_at_latency_rate"]["median"]
    histogram.axvline(p95, color="black", linestyle=":", label=f"p95 {p95:.2f} s")
    histogram.set_xlabel("PutRecords → visible in output (s)")
    histogram.set_ylabel("records")
    histogram.set_title(f"Streaming latency at {stream['latency_rate']:g} records/s{note}", fontsize=10)
    histogram.legend()


def _histogram(stream: dict) -> tuple[list[int], list[float]]:
    if "latencies_seconds" in stream:
        counts, edges = np.histogram(stream["latencies_seconds"], bins=40)
        return counts.tolist(), edges.round(3).tolist()
    return stream["latency_histogram"]["counts"], stream["latency_histogram"]["edges_seconds"]


def dated_ratios(results: dict) -> dict:
    """The ratios of every part with figures, this run's or carried; a carried part's bear its date."""
    found = ratios(parts.with_figures(results))
    for ratio in found.values():
        value = results.get(parts.part_of(ratio["numerator"]))
        if parts.carried(value):
            ratio["measured_at"] = value["measured_at"]
    return found


def check_previous(out_dir: Path) -> None:
    """Render what a run would carry from the results.json in `out_dir`, so that a file this code cannot show
    fails before a run of an hour rather than after it."""
    previous = parts.read_previous(out_dir)
    if previous is None:
        return
    carrying_all = {**previous, **{part: parts.not_run("a check") for part in parts.PARTS}}
    try:
        merged = parts.carry_over(carrying_all, previous)
        merged["ratios"] = dated_ratios(merged)
        markdown(merged)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(
            f"{out_dir / 'results.json'}: its figures cannot be shown ({type(exc).__name__}: {exc}); "
            "move it away to start the figures afresh"
        ) from exc


def write_results(results: dict, out_dir: Path) -> dict[str, Path]:
    """results.json (the histogram's raw latencies left out: one float per record), results.png, results.md.

    Each part the run left out carries the figures the previous results.json in `out_dir` holds for it, with
    the date of the run that measured them (churn_tools.bench.parts), so a partial run loses no figure.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    merged = parts.carry_over(results, parts.read_previous(out_dir))
    merged["ratios"] = dated_ratios(merged)
    stored = dict(merged)
    if parts.measured(stream := merged["streaming"]) and "latencies_seconds" in stream:
        counts, edges = _histogram(stream)
        stored["streaming"] = {k: v for k, v in stream.items() if k != "latencies_seconds"}
        stored["streaming"]["latency_histogram"] = {"counts": counts, "edges_seconds": edges}
    paths = {"json": out_dir / "results.json", "png": out_dir / "results.png", "md": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(stored, indent=2) + "\n")
    chart(merged, paths["png"])
    paths["md"].write_text(markdown(merged))
    return paths
