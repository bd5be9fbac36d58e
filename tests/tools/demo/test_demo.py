"""`make demo` end to end: a failing step, an interrupt, and a full run whose report agrees with DuckDB."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from churn_pipeline.contract import codes, outputs
from churn_pipeline.model import ModelDir
from churn_pipeline.streaming.handler import StreamTables
from churn_pipeline.tables import JobTables
from churn_tools.demo import steps
from churn_tools.local import services as local_services

ROWS = 3000


def demo_command(work: Path, moto_port: int, endpoint_port: int) -> list[str]:
    return [
        sys.executable, "-m", "churn_tools.demo", "--work", str(work), "--rows", str(ROWS),
        "--moto-port", str(moto_port), "--endpoint-port", str(endpoint_port), "--stream-timeout", "300",
    ]  # fmt: skip


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention `text` (the demo's work dir is in every child's args)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # the process ended while we looked
        if text in args:
            found.append(f"{entry.name}: {args[:200]}")
    return found


def assert_nothing_left(work: Path, ports: tuple[int, ...]) -> None:
    deadline = time.monotonic() + 10  # a killed JVM may take a moment to go
    while time.monotonic() < deadline and (
        processes_mentioning(str(work)) or any(map(local_services.port_in_use, ports))
    ):
        time.sleep(0.5)
    assert processes_mentioning(str(work)) == []
    for port in ports:
        assert not local_services.port_in_use(port), f"port {port} is still bound"


@pytest.fixture
def ports() -> tuple[int, int]:
    return local_services.free_port(), local_services.free_port()


def test_a_taken_endpoint_port_stops_the_demo_naming_it(repo_root, tmp_path, ports):
    moto_port, endpoint_port = ports
    work = tmp_path / "demo"
    with socket.socket() as squatter:
        squatter.bind((local_services.LOOPBACK, endpoint_port))
        squatter.listen()
        result = subprocess.run(
            demo_command(work, moto_port, endpoint_port),
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"port {endpoint_port} (for the local endpoint) is already in use" in result.stdout
    # Checked before the first step: nothing was generated, trained or started.
    assert "[1/10]" not in result.stdout
    assert not (work / "model").exists()
    assert "Traceback" not in result.stdout + result.stderr
    assert_nothing_left(work, (moto_port,))


@pytest.mark.slow(seconds=340)
def test_interrupt_during_the_deploy_then_a_clean_rerun(repo_root, tmp_path, ports):
    """Ctrl-C while Terraform applies against the running moto and endpoint: the demo's longest step, and the one
    that leaves most behind (Terraform, its provider plugin, half-applied state). Interrupting there rather than
    in a later step keeps this test, which runs the demo twice, inside the suite's time budget; every step's child
    is stopped by the same code (the runner's stop_children, one process group per child)."""
    moto_port, endpoint_port = ports
    work = tmp_path / "demo"
    demo = subprocess.Popen(
        demo_command(work, moto_port, endpoint_port),
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    in_deploy = False
    for line in demo.stdout:
        seen.append(line)
        in_deploy = in_deploy or line.startswith("[4/10]")
        # A heartbeat of the deploy step showing Terraform at work on a resource: the apply is under way.
        if in_deploy and line.startswith("          ") and "module." in line:
            demo.send_signal(signal.SIGINT)
            break
    rest, _ = demo.communicate(timeout=180)
    output = "".join(seen) + rest
    assert demo.returncode == 130, output
    assert "interrupted: stopping everything the demo started" in output
    assert_nothing_left(work, (moto_port, endpoint_port))

    # The next run needs no manual clean-up and succeeds.
    result = subprocess.run(
        demo_command(work, moto_port, endpoint_port),
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-3000:]
    assert_nothing_left(work, (moto_port, endpoint_port))
    report = json.loads((work / "report.json").read_text())
    assert all(report["checks"].values()), report["checks"]

    # The report's numbers agree with a direct DuckDB query over the outputs.
    lake = work / "lake"
    con = duckdb.connect()

    # The batch job's tables, read by a pyiceberg scan of their current snapshot.
    batch_tables = JobTables.local(lake / "batch" / "warehouse", "batch", drift=True)

    def rows(dataset) -> int:
        return len(batch_tables.read(dataset, [outputs.BATCH_PARTITION]))

    batch = report["batch"]
    assert batch["rows_read"] == ROWS
    assert rows(outputs.BATCH_PREDICTIONS) == batch["scored"]
    assert rows(outputs.BATCH_REJECTS) == batch["rejected"]
    assert rows(outputs.BATCH_FAILED) == batch["failed"]
    assert batch["scored"] + batch["rejected"] + batch["failed"] == ROWS
    # The stream's tables, read by a pyiceberg scan of their current snapshot (not the demo's own views).
    where = StreamTables.local(lake / "stream" / "warehouse", drift=True)
    stream_scored = len(where.read(outputs.STREAM_PREDICTIONS, ["record_id"]))
    dead = len(where.read(outputs.STREAM_DEAD_LETTER, ["record_id"]))
    assert stream_scored == report["duckdb"]["stream_scored"]
    assert dead == report["duckdb"]["dead_lettered"]
    assert stream_scored + dead == report["produced"]["total"] == ROWS + report["produced"]["malformed"]
    # The saved queries of the model's data: one per categorical feature (the first three shown), score deciles.
    assert "churn rate by State, top 5 (batch scores; saved query churn_rate_by_state)" in result.stdout
    assert "score deciles (batch scores):" in result.stdout

    # The quality step: the table printed, the rejects by code, and the AUC of each model version and week equal
    # to sklearn's over the joined rows recomputed here from the files it read (outcomes, batch and stream scores).
    quality = report["quality"]
    assert "model quality (the quality job:" in result.stdout
    assert "outcome rejects by code: " in result.stdout
    assert quality["reject_codes"] == {
        codes.DUPLICATE_OUTCOME: 1,
        codes.NOT_SCORED: 1 + quality["outcomes"]["customers_without_a_score"],
        codes.UNKNOWN_LABEL: 1,
    }
    joined = joined_outcomes(quality["outcomes"]["file"], ModelDir(work / "model").description(), lake, con)
    assert len(joined) == quality["joined"] > 0
    assert quality["joined"] + quality["rejected"] == quality["outcomes"]["lines"]
    table = {(row[outputs.MODEL_VERSION], row[outputs.SCORE_WEEK]): row for row in quality["table"]}
    groups = joined.groupby([outputs.MODEL_VERSION, outputs.SCORE_WEEK])
    assert set(table) == set(groups.groups)
    for key, rows in groups:
        assert table[key][outputs.ROWS] == len(rows), key
        assert table[key][outputs.POSITIVES] == rows["label"].sum(), key
        expected = roc_auc_score(rows["label"], rows[outputs.PROBABILITY])
        assert abs(table[key][outputs.AUC] - expected) <= 1e-9, (key, table[key][outputs.AUC], expected)
        line = f"{key[0]} {key[1]} {len(rows)}"
        assert any(" ".join(printed.split()).startswith(line) for printed in result.stdout.splitlines()), line


def joined_outcomes(outcomes_file: str, description, lake: Path, con) -> pd.DataFrame:
    """The outcome file's usable lines (a known label, the first of a repeat) joined to their id's latest
    score at or before known_at, from the batch scores and the stream's committed ones (the stream's wins a
    tie), with the ISO week of that score: what the quality job should have joined."""
    outcomes = pd.read_csv(outcomes_file, dtype=str, keep_default_na=False)
    id_column, label_column = description.id_column, description.label_column
    outcomes["label"] = outcomes[label_column].map(description.label_value)
    outcomes = outcomes[outcomes["label"].notna()].drop_duplicates([id_column, outputs.KNOWN_AT])
    outcomes["known_at"] = pd.to_datetime(outcomes[outputs.KNOWN_AT], utc=True)
    steps.table_view(
        con,
        StreamTables.local(lake / "stream" / "warehouse", drift=True),
        outputs.STREAM_PREDICTIONS,
        "stream_scored",
    )
    steps.table_view(
        con, JobTables.local(lake / "batch" / "warehouse", "batch"), outputs.BATCH_PREDICTIONS, "batch_scored"
    )
    picked = f'CAST("{id_column}" AS VARCHAR) AS id, {outputs.PROBABILITY}, {outputs.MODEL_VERSION}, {outputs.SCORED_AT}'
    scores = con.execute(
        f"SELECT {picked}, 0 AS source FROM batch_scored UNION ALL SELECT {picked}, 1 AS source FROM stream_scored"
    ).df()
    scores["scored_at"] = pd.to_datetime(scores[outputs.SCORED_AT], utc=True)
    both = outcomes.merge(scores, left_on=id_column, right_on="id")
    both = both[both["scored_at"] <= both["known_at"]]
    latest = both.sort_values(["scored_at", "source"]).groupby([id_column, "known_at"]).tail(1)
    week = latest["scored_at"].dt.isocalendar()
    latest[outputs.SCORE_WEEK] = [
        f"{y:04d}-W{w:02d}" for y, w in zip(week["year"], week["week"], strict=True)
    ]
    return latest.astype({"label": int})
