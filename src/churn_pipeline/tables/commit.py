"""The one idempotent commit: data files already written (Parquet, by Spark tasks) added to a table in one
Iceberg snapshot, its marker {writer, sequence} in the snapshot summary.

The rule is the one of Iceberg's own Spark streaming sink (apache/iceberg, spark/.../source/SparkWrite.java,
BaseStreamingWrite.commit and findLastCommittedEpochId): walk back from the current snapshot to the newest one
this writer committed; a sequence at or below its sequence is a replay and is skipped. The writer is the
streaming query's id (stable across restarts from one checkpoint) with the micro-batch id as the sequence, or
the batch job's run id with sequence 0.

A commit that loses an optimistic-concurrency race (another commit moved the branch between load and commit:
pyiceberg's AssertRefSnapshotId requirement; or Glue's UpdateTable refused the VersionId it read: pyiceberg
raises CommitFailedException for ConcurrentModificationException, pyiceberg/catalog/glue.py _update_glue_table)
reloads the table, re-checks the marker (the winner may have been another attempt at this same batch, or this
attempt itself whose response was lost) and tries again, a bounded number of times with growing waits.
Files an attempt wrote but never committed are referenced by no snapshot: no reader sees them.

A transient AWS error on the commit (a throttle, a 5xx, a lost response: `is_transient`) is met the same way:
Glue's UpdateTable is sent once (catalog.py), so its outcome is unknown; the reload and re-check find the
marker if it landed, else the next attempt commits. pyiceberg 0.12.0 deletes an attempt's manifests and
manifest list only on CommitFailedException or ValidationException (the commit did not land); on any other
exception it deletes nothing (pyiceberg/table/__init__.py, Transaction.commit_transaction), and every attempt
writes metadata files of its own (a new commit_uuid: pyiceberg/table/update/snapshot.py), so no retry deletes
a file the table references. Any other error (access denied, a validation error) is raised at once.
"""

from __future__ import annotations

import logging
import random
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.expressions import BooleanExpression
from pyiceberg.io.pyarrow import UnsupportedPyArrowTypeException
from pyiceberg.table import Table
from pyiceberg.table.snapshots import ancestors_of

from churn_pipeline.tables.create import COMMIT_RETRY_PROPERTY

log = logging.getLogger(__name__)

WRITER_PROPERTY = "churn.commit.writer"
SEQUENCE_PROPERTY = "churn.commit.sequence"


class CommitConflictError(RuntimeError):
    """Every attempt lost the race: the message names the table, the marker and the attempts."""


class CommitUnavailableError(RuntimeError):
    """Every attempt met a transient AWS error and none landed: the message names the table, marker and error."""


class DataFileError(ValueError):
    """A data file cannot be added as written: the message names the file and what the writer must change."""


@dataclass(frozen=True)
class CommitMarker:
    writer: str  # the streaming query id, or the batch job's run id
    sequence: int  # the micro-batch id; 0 for a batch run

    def __post_init__(self) -> None:
        if not isinstance(self.writer, str) or not self.writer.strip():
            raise ValueError(f"a commit marker needs a writer id (query id or run id), got {self.writer!r}")
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int) or self.sequence < 0:
            raise ValueError(f"a commit marker's sequence is a batch id >= 0, got {self.sequence!r}")

    def summary(self) -> dict[str, str]:
        return {WRITER_PROPERTY: self.writer, SEQUENCE_PROPERTY: str(self.sequence)}


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    first_wait_seconds: float = 0.2
    max_wait_seconds: float = 10.0

    def wait(self, failed_attempt: int) -> float:
        """Exponential, capped, with up to 10 % jitter so two losers do not collide again in step."""
        base = min(self.first_wait_seconds * 2 ** (failed_attempt - 1), self.max_wait_seconds)
        return base + random.uniform(0, 0.1 * base)


@dataclass(frozen=True)
class CommitOutcome:
    # True: this call's commit landed (also when found by its marker after an attempt whose answer was lost);
    # False: the marker was already in the table (a replay), nothing was committed
    committed: bool
    snapshot_id: int | None  # the snapshot holding the marker (None: nothing to commit and never committed)
    attempts: int


def _markers(table: Table):
    """(writer, sequence, snapshot id) of the current branch's snapshots, newest first."""
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        if WRITER_PROPERTY in summary:
            yield summary[WRITER_PROPERTY], int(summary[SEQUENCE_PROPERTY]), snapshot.snapshot_id


def last_committed_sequence(table: Table, writer: str) -> int | None:
    """The sequence of the newest snapshot in the current branch's history that `writer` committed."""
    return next((sequence for who, sequence, _ in _markers(table) if who == writer), None)


def is_committed(table: Table, marker: CommitMarker) -> bool:
    """Whether the table already has the marker's batch: its writer's newest marker in the current branch's
    history is at `marker.sequence` or later (a replay of it, or of an earlier batch, commits nothing)."""
    done = last_committed_sequence(table, marker.writer)
    return done is not None and marker.sequence <= done


# Error codes and HTTP statuses botocore's standard retry mode treats as transient or throttling
# (botocore/retries/standard.py, TransientRetryableChecker and ThrottledRetryableChecker), and Glue's own 5xx
# and timeout faults (UpdateTable's errors in botocore/data/glue/2017-03-31/service-2.json: InternalService-
# Exception, OperationTimeoutException; InternalFailure is the generic 500 of every AWS JSON API).
_TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalFailure", "InternalServiceException", "OperationTimeoutException", "ServiceUnavailable",
        "RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "Throttling",
        "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
        "RequestLimitExceeded", "RequestThrottled", "SlowDown",
    }
)  # fmt: skip
_TRANSIENT_STATUS_CODES = frozenset({429, 500, 502, 503, 504})


def is_transient(error: BaseException) -> bool:
    """An AWS error worth another attempt: a throttle, a server fault, or a connection or read failure (the
    request may or may not have reached the service: botocore's ConnectionError and HTTPClientError cover
    EndpointConnectionError, ReadTimeoutError, ConnectionClosedError)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error.response.get("Error", {}).get("Code") in _TRANSIENT_ERROR_CODES or status in (
            _TRANSIENT_STATUS_CODES
        )
    return isinstance(error, (BotocoreConnectionError, HTTPClientError))


def _snapshot_of(table: Table, marker: CommitMarker) -> int | None:
    return next(
        (sid for who, seq, sid in _markers(table) if (who, seq) == (marker.writer, marker.sequence)), None
    )


def commit_data_files(
    catalog: Catalog,
    identifier: str,
    file_paths: Sequence[str],
    marker: CommitMarker,
    retry: RetryPolicy = RetryPolicy(),
    sleep: Callable[[float], None] = time.sleep,
    commit_empty: bool = False,
    replace: BooleanExpression | None = None,
    loaded: Table | None = None,
) -> CommitOutcome:
    """Add `file_paths` to the table in one snapshot carrying `marker`, unless the marker is already there.
    With no file, no snapshot, unless `commit_empty`: then an empty snapshot records the marker (the writer's
    "this batch is done" for a table it commits last: pyiceberg 0.12.0's Transaction.add_files with no file
    still appends a snapshot, with no data file, pyiceberg/table/__init__.py; test_commit.py checks it).

    `replace`: the rows the files take the place of (a batch run's partition, `batch_id = <id>`), dropped in
    the same transaction, so a reader sees the old rows or the new ones, never both or neither. It must select
    whole partitions: pyiceberg 0.12.0's Transaction.delete drops a file whose partition the filter matches
    entirely from the manifests alone (a DELETE snapshot, no data rewritten) and would otherwise rewrite it.

    `loaded`: the table as the caller loaded it, checked and committed against by the first attempt instead of
    a new load; if the table has moved since, that commit loses the race (its requirements name the state it
    was loaded in) and the next attempt reloads and re-checks, as after any lost race."""
    paths = list(file_paths)
    if len(set(paths)) != len(paths):
        raise DataFileError(f"{identifier}: the file list names a file twice: {sorted(paths)}")
    outcome_unknown = False  # the previous attempt met a transient error: it may have landed
    for attempt in range(1, retry.attempts + 1):
        table = loaded if attempt == 1 and loaded is not None else catalog.load_table(identifier)
        if table.properties.get(COMMIT_RETRY_PROPERTY) != "0":
            raise CommitConflictError(
                f"{identifier}: {COMMIT_RETRY_PROPERTY} is not 0, so pyiceberg would retry a lost race itself "
                "without re-checking the marker; create the table with churn_pipeline.tables.ensure_table"
            )
        if is_committed(table, marker):
            log.info("%s: %s batch %s already committed, skipped", identifier, marker.writer, marker.sequence)
            return CommitOutcome(outcome_unknown, _snapshot_of(table, marker), attempt)
        if not paths and not commit_empty and replace is None:  # nothing to add, nothing to drop
            return CommitOutcome(False, None, attempt)
        try:
            _add_files(table, identifier, paths, marker, replace)
        except CommitFailedException as lost:
            if attempt == retry.attempts:
                raise CommitConflictError(
                    f"{identifier}: the commit of {marker} lost the race {attempt} times; last: {lost}"
                ) from lost
            wait = retry.wait(attempt)
            log.warning("%s: commit of %s lost a race (%s); reload and re-check in %.2f s", identifier, marker,
                        lost, wait)  # fmt: skip
            outcome_unknown = False
            sleep(wait)
            continue
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == retry.attempts:
                landed = _snapshot_of(catalog.load_table(identifier), marker)
                if landed is not None:
                    return CommitOutcome(True, landed, attempt)
                raise CommitUnavailableError(
                    f"{identifier}: the commit of {marker} met a transient AWS error {attempt} times and did not "
                    f"land; last: {error!r}"
                ) from error
            wait = retry.wait(attempt)
            log.warning("%s: commit of %s met a transient error (%r); reload and re-check in %.2f s",
                        identifier, marker, error, wait)  # fmt: skip
            outcome_unknown = True
            sleep(wait)
            continue
        snapshot = table.current_snapshot()
        return CommitOutcome(True, snapshot.snapshot_id if snapshot else None, attempt)
    raise AssertionError("unreachable: the loop returns or raises")  # retry.attempts >= 1


def _add_files(
    table: Table, identifier: str, paths: list[str], marker: CommitMarker, replace: BooleanExpression | None
) -> None:
    """One transaction, one snapshot. pyiceberg 0.12.0's add_files (pyiceberg/table/__init__.py
    Transaction.add_files, io/pyarrow.py parquet_file_to_data_file) reads each file's footer: the schema must
    match the table's (matched by name through the table's name mapping, which add_files sets on first use,
    since Spark writes no field ids); the partition values come from the footer's min/max statistics of the
    source column, so a file must hold exactly one partition (one hour) and carry statistics; timestamps must
    be microseconds: Spark's default INT96 reads as nanoseconds, has no statistics and is refused.
    check_duplicate_files is off: it reads every data manifest of the current snapshot on each commit (a cost
    growing with the table), and the marker already makes a replay a no-op; each attempt's files are new."""
    try:
        with table.transaction() as transaction:
            if replace is not None:
                with warnings.catch_warnings():  # a first run replaces nothing: not worth a warning
                    warnings.filterwarnings("ignore", "Delete operation did not match any records")
                    transaction.delete(replace)
            transaction.add_files(paths, snapshot_properties=marker.summary(), check_duplicate_files=False)
    except UnsupportedPyArrowTypeException as error:
        if pa.types.is_timestamp(error.field.type) and error.field.type.unit == "ns":
            raise DataFileError(
                f"{identifier}: column {error.field.name!r} stores nanosecond timestamps (Spark's default INT96); "
                f"write with spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS. Files: {paths}"
            ) from error
        raise DataFileError(f"{identifier}: cannot add {paths}: {error}") from error
    except ValueError as error:
        raise DataFileError(f"{identifier}: cannot add {paths}: {error}") from error
