"""The bench results as a Markdown table (printed, and pasted into the README) and as a chart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

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


def throughput_rows(results: dict) -> list[tuple[str, dict, str]]:
    """(label, figures, figure key) of every path measured, then of each shape's floor B and embedded, then
    the quality job's and its floor B's."""
    rows = [
        (label, results["paths"][key], figure) for key, label, figure in THROUGHPUT if key in results["paths"]
    ]
    shapes = results.get("shapes", {})
    for name, shape in () if "skipped" in shapes else shapes.items():
        size = f"{name} shape, {shape['columns']} columns"
        rows.append((f"floor B, {size}", shape["floor_b"], "rows_per_second"))
        rows.append((f"batch, embedded mode, {size}", shape["embedded"], "rows_per_second"))
    quality = results.get("quality", {"skipped": "not run"})
    if "skipped" not in quality:
        rows.append(("floor B, beside the quality job", quality["floor_b"], "rows_per_second"))
        rows.append(
            ("quality job: outcomes joined to as many scored rows", quality["quality"], "rows_per_second")
        )
    return rows


def _number(value: float) -> str:
    """Whole numbers from 100 up, three significant digits below (rows/s span 1 to 10^6 here)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _span(figure: dict) -> str:
    return f"{_number(figure['median'])} ({_number(figure['min'])} – {_number(figure['max'])})"


def _optional(path: dict, key: str) -> str:
    return _span(path[key]) if key in path else "–"


def markdown(results: dict) -> str:
    settings, machine, paths = results["settings"], results["machine"], results["paths"]
    lines = [
        f"{settings['rows']:,} rows, median (min – max) of {settings['repeat']} runs; "
        f"{machine['cpu_count']} cores ({machine['cpu_model']}), {machine['memory_gb']} GB, "
        f"load {machine['load_average_before'][0]:.1f} before / {machine['load_average_after'][0]:.1f} after; "
        f"Python {machine['python']}, pyspark {machine['pyspark']}, xgboost {machine['xgboost']}, "
        f"{machine['java']}.",
        "",
        "| path | rows/s | wall s | peak driver JVM MB | peak Python workers MB |",
        "| --- | --- | --- | --- | --- |",
    ]
    if not paths:
        lines.append("| floor A, the batch paths, the UDF in Spark | not measured (left out) | – | – | – |")
    for label, path, figure in throughput_rows(results):
        lines.append(
            f"| {label} | {_span(path[figure])} | {_optional(path, 'wall_seconds')} | "
            f"{_optional(path, 'peak_driver_jvm_rss_mb')} | {_optional(path, 'peak_python_workers_rss_mb')} |"
        )
    lines += ["", "| check | value | target | met |", "| --- | --- | --- | --- |"]
    for ratio in results["ratios"].values():
        if ratio["value"] is None:
            lines.append(f"| {ratio['description']} | not measured | {ratio['target'] or '–'} | – |")
            continue
        met = {True: "yes", False: "**no**", None: "–"}[ratio["meets_target"]]
        value = _number(ratio["value"])
        if "per_round" in ratio:
            rounds = ", ".join(_number(r) for r in ratio["per_round"])
            value += f" (median of rounds {rounds}; of medians {_number(ratio['of_medians'])})"
        lines.append(f"| {ratio['description']} | {value} | {ratio['target'] or '–'} | {met} |")
    if "skipped" in results.get("shapes", {"skipped": "not run"}):
        lines.append(f"| batch embedded / floor B by shape of data | not measured "
                     f"({results.get('shapes', {'skipped': 'not run'})['skipped']}) | – | – |")  # fmt: skip
    lines += _handler_rows(results.get("stream_handler", {"skipped": "not run"}))
    lines += _streaming_rows(results["streaming"]) + _scaling_rows(results["scaling"])
    return "\n".join(lines) + "\n"


def _handler_rows(handler: dict) -> list[str]:
    if "skipped" in handler:
        return [f"| streaming handler alone | not measured ({handler['skipped']}) | – | – |"]
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
    if "skipped" in stream:
        return [f"| streaming | not measured ({stream['skipped']}) | – | – |"]
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
        *_floor_rows(stream.get("transport_floor"), limit),
    ]


def _floor_rows(floor: dict | None, limit: float) -> list[str]:
    if floor is None:
        return []
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
    if "skipped" in scale:
        return [f"| scaling | not measured ({scale['skipped']}) | – | – |"]
    runs = scale["runs"]
    sizes = ", ".join(f"{r['rows']:,}" for r in runs)
    peaks = ", ".join(_number(r["peak_rss_mb"]["total"]) for r in runs)
    gc_share = ", ".join(f"{r['gc']['pause_share_of_wall']:.1%}" for r in runs)
    return [
        f"| scaling, batch embedded at {sizes} rows on a fixed {scale['driver_heap']} heap (peak MB {peaks}; "
        f"GC pauses {gc_share} of wall time): least-squares slope "
        f"| {_number(scale['slope_seconds_per_million_rows'])} s per million rows | linear | – |"
    ]


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
    if "skipped" in stream:
        histogram.text(0.5, 0.5, f"streaming not measured\n({stream['skipped']})", ha="center", va="center")
        histogram.set_axis_off()
    else:
        _latency_histogram(histogram, stream)
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
    bars.set_title(f"Throughput by path, {rows:,} rows")
    for position, value, above in zip(positions, medians, high, strict=True):
        bars.annotate(f"  {_number(value)}", (value + above, position), va="center", fontsize=8)


def _latency_histogram(histogram, stream: dict) -> None:
    histogram.hist(stream["latencies_seconds"], bins=40, color="#55a868")
    histogram.axvline(stream["p95_limit_seconds"], color="#c44e52", linestyle="--", label="p95 limit")
    p95 = stream["p95_seconds_at_latency_rate"]["median"]
    histogram.axvline(p95, color="black", linestyle=":", label=f"p95 {p95:.2f} s")
    histogram.set_xlabel("PutRecords → visible in output (s)")
    histogram.set_ylabel("records")
    histogram.set_title(f"Streaming latency at {stream['latency_rate']:g} records/s")
    histogram.legend()


def write_results(results: dict, out_dir: Path) -> dict[str, Path]:
    """results.json (the histogram's raw latencies left out: one float per record), results.png, results.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stream = results["streaming"]
    stored = {**results, "streaming": {k: v for k, v in stream.items() if k != "latencies_seconds"}}
    if "latencies_seconds" in stream:
        counts, edges = np.histogram(stream["latencies_seconds"], bins=40)
        stored["streaming"]["latency_histogram"] = {
            "counts": counts.tolist(),
            "edges_seconds": edges.round(3).tolist(),
        }
    paths = {"json": out_dir / "results.json", "png": out_dir / "results.png", "md": out_dir / "results.md"}
    paths["json"].write_text(json.dumps(stored, indent=2) + "\n")
    chart(results, paths["png"])
    paths["md"].write_text(markdown(results))
    return paths
