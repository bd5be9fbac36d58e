"""The parts of a `make bench` run, and how a part a run leaves out keeps the figures an earlier run measured.

Every part the suite can write is named in PARTS, and report.py renders each of them (a test fails on a part
without a rendering). In the results, a part is its figures, or, when the run left it out, a marker:

    {"not_run": why}                                          no earlier run measured the part
    {"not_run": why, "measured_at": "<generated_at of the run that measured it>",
     "measured_with": {"rows": ..., "repeat": ...}, "previous": {...the part's figures...}}

When `bench/results.*` are written, each part the run left out takes the figures of the previous results.json in
the same directory, with the date of the run that measured them: a part carried through several partial runs
keeps its first date, and no figure is lost because a later run was a quick look at another part.
"""

from __future__ import annotations

import json
from pathlib import Path

# In the order the suite runs them (and results.md shows them).
PARTS = ("paths", "shapes", "quality", "scaling", "stream_handler", "streaming")
# The other keys of a run's results: facts about the run, and the ratios computed from the parts' figures.
RUN_FACTS = ("generated_at", "settings", "machine", "data", "elapsed_seconds", "ratios")

NOT_RUN = "not_run"
# Written by the suite before parts were carried over: {"skipped": why}, and {} for paths left out.
OLD_NOT_RUN = "skipped"


def not_run(reason: str) -> dict:
    return {NOT_RUN: reason}


def measured(value) -> bool:
    """The part's own figures, measured by the run whose results hold them (not a marker of a part left out)."""
    return isinstance(value, dict) and bool(value) and NOT_RUN not in value and OLD_NOT_RUN not in value


def carried(value) -> bool:
    """A part left out of the run, with the figures of an earlier run that measured it."""
    return isinstance(value, dict) and NOT_RUN in value and "previous" in value


def figures(value) -> dict | None:
    """The part's figures, measured by this run or carried from an earlier one; None if no run measured it."""
    if measured(value):
        return value
    return value["previous"] if carried(value) else None


def part_of(dotted: str) -> str:
    """The part a dotted figure path (a ratio's numerator, `scaling.peak_total_rss_mb.max`) reads."""
    return dotted.split(".", 1)[0]


def check_complete(results: dict) -> None:
    """Every part present, measured or marked as left out, and no key that is neither a part nor a run fact
    (a new part must be added to PARTS, which the report renders, or it would be missing from results.md)."""
    if unknown := sorted(set(results) - set(PARTS) - set(RUN_FACTS)):
        raise ValueError(
            f"results hold {', '.join(unknown)}, not in churn_tools.bench.parts.PARTS or RUN_FACTS: "
            "add a part there (and its rendering to report.SECTIONS)"
        )
    for part in PARTS:
        value = results.get(part)
        if not (measured(value) or (isinstance(value, dict) and isinstance(value.get(NOT_RUN), str))):
            raise ValueError(
                f"results: part {part!r} is {value!r}, neither its figures nor {{{NOT_RUN!r}: why}}"
            )


def read_previous(out_dir: Path) -> dict | None:
    """The results.json an earlier run wrote into `out_dir`, or None if there is none."""
    path = out_dir / "results.json"
    if not path.exists():
        return None
    try:
        previous = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc}); its parts cannot be carried into this run") from exc
    if not isinstance(previous, dict):
        raise ValueError(f"{path}: not an object of results; its parts cannot be carried into this run")
    settings = previous.get("settings")
    if (
        "generated_at" not in previous
        or not isinstance(settings, dict)
        or not {"rows", "repeat"} <= set(settings)
    ):
        raise ValueError(
            f"{path}: no generated_at, settings.rows or settings.repeat, so the figures it holds cannot be "
            "dated; move it away to start the figures afresh"
        )
    return previous


def carry_over(results: dict, previous: dict | None) -> dict:
    """`results` with each part it left out carrying the figures of `previous` for that part (if any)."""
    check_complete(results)
    merged = dict(results)
    for part in PARTS:
        value = results[part]
        if measured(value):
            continue
        earlier = (previous or {}).get(part)
        if measured(earlier):
            merged[part] = {
                NOT_RUN: value[NOT_RUN],
                "measured_at": previous["generated_at"],
                "measured_with": {key: previous["settings"][key] for key in ("rows", "repeat")},
                "previous": earlier,
            }
        elif carried(earlier):  # already carried: keep the date of the run that measured it
            merged[part] = {**earlier, NOT_RUN: value[NOT_RUN]}
        else:
            merged[part] = not_run(value[NOT_RUN])
    return merged


def with_figures(results: dict) -> dict:
    """`results` with each carried part replaced by its figures (what the ratios are computed from)."""
    return {**results, **{part: figures(results[part]) or results[part] for part in PARTS}}
