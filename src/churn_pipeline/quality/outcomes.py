"""The outcomes reader: CSV with a header (the model's id and label columns, under the names its dataset
description gives them, and contract.outputs.KNOWN_AT), every line kept: a usable outcome or a reject with
its code and reason (contract.codes.OUTCOME_REJECTS), never dropped.

known_at is an ISO-8601 date (the start of that day, UTC) or timestamp (UTC when it gives no offset), e.g.
2026-01-31, 2026-01-31T17:05:00, 2026-01-31T17:05:00Z, 2026-01-31T19:05:00+02:00. Files are read as lines
(so a reject keeps its raw text) and split in the JVM as the batch reader does (batch.reader.split_lines);
every file must share the first file's header (another header line fails its checks and is rejected, visibly).
"""

from __future__ import annotations

import csv
import datetime
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from churn_pipeline.batch import reader
from churn_pipeline.contract import codes, outputs
from churn_pipeline.contract.dataset import INTEGER, DatasetDescription, canonical
from churn_pipeline.contract.errors import ContractError

# Internal columns of a usable outcome (underscored: never a name of the user's data).
OUTCOME_ID = "_outcome_id"
OUTCOME_LABEL = "_outcome_label"  # 1 churned, 0 stayed (the description's positive / negative values)
KNOWN_AT = "_known_at"  # timestamp (UTC)
LINE = "_line"  # the line's position as read: the first of duplicates is the one kept
CODE, REASON = "_code", "_reason"

# ISO-8601 as accepted: a date, or a date and time to the minute at least, with an optional fraction and
# offset. Checked before Spark's cast, which would also take partial forms such as "2026" or "2026-1-3".
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$"
)
_HAS_OFFSET = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"


class OutcomesError(ContractError):
    """Outcome files that cannot be read at all (no line, a header without the columns): names the file."""


@dataclass(frozen=True)
class OutcomeColumns:
    """Where the three columns are in the header (0-based)."""

    header: tuple[str, ...]
    id: int
    label: int
    known_at: int


def outcome_header(description: DatasetDescription) -> tuple[str, str, str]:
    """The columns an outcome file must have: the description's id and label columns, and known_at."""
    if description.id_column is None:
        raise OutcomesError(
            f"{description.source}: the dataset description {description.name!r} names no id column: outcomes "
            "cannot be joined to scores without one (give a column the role 'id')"
        )
    return description.id_column, description.label_column, outputs.KNOWN_AT


def parse_header(line: str, source: str, description: DatasetDescription) -> OutcomeColumns:
    names = tuple(n.strip() for n in next(csv.reader([line])))
    positions = {canonical(n): i for i, n in enumerate(names)}
    if len(positions) != len(names):
        raise OutcomesError(f"{source}: the header names a column twice (case-insensitively): {list(names)}")
    wanted = outcome_header(description)
    missing = [n for n in wanted if canonical(n) not in positions]
    if missing:
        raise OutcomesError(
            f"{source}: the first line is not an outcome header for {description.name!r}: missing column(s) "
            f"{missing} (expected {', '.join(wanted)}); first line: {line[:200]!r}"
        )
    return OutcomeColumns(names, *(positions[canonical(n)] for n in wanted))


@dataclass
class Outcomes:
    """Every line of the outcome files, tagged: CODE null for a usable outcome (so far: the join decides
    NOT_SCORED), or a reject code or a skipped line's code; persisted by the caller."""

    lines: DataFrame  # OUTCOME_ID, OUTCOME_LABEL, KNOWN_AT, LINE, SOURCE_FILE, RAW_LINE, CODE, REASON
    columns: OutcomeColumns


def read_outcomes(
    spark: SparkSession, path: str, description: DatasetDescription, now: datetime.datetime
) -> Outcomes:
    """Read and check the outcome file(s) under `path` (a file, a directory or a glob). The session's time
    zone must be UTC (the job sets it): a known_at without an offset is UTC."""
    lines, first_file, header_line = reader.read_header(spark, path)
    if header_line is None:
        raise OutcomesError(
            f"no lines in {path}: expected CSV with the header {','.join(outcome_header(description))}"
        )
    columns = parse_header(header_line, str(first_file), description)
    width = len(columns.header)
    texts = reader.split_lines(lines, width).withColumn(LINE, F.monotonically_increasing_id())
    value = F.col("value")
    id_text, label_text, known_text = (F.col(f"_t{j}") for j in (columns.id, columns.label, columns.known_at))
    known_at = _known_at(known_text)
    label = _label(label_text, description)
    outcome_id = _normal_id(id_text, description)
    now_literal = F.lit(now.astimezone(datetime.UTC).replace(tzinfo=None)).cast("timestamp")

    blank = F.trim(value) == ""
    is_header = F.lower(F.trim(value)) == header_line.strip().lower()
    n_fields = F.col("_n_fields")
    wrong_count = n_fields != width
    no_id = outcome_id.isNull()
    bad_date = known_at.isNull()
    future = known_at > now_literal
    unknown_label = label.isNull()
    shown = F.coalesce(label_text, F.lit(""))
    code = (
        F.when(blank, F.lit(codes.BLANK_LINE))
        .when(is_header, F.lit(codes.HEADER_LINE))
        .when(wrong_count, F.lit(codes.WRONG_FIELD_COUNT))
        .when(no_id, F.lit(codes.MISSING_ID))
        .when(bad_date, F.lit(codes.INVALID_KNOWN_AT))
        .when(future, F.lit(codes.FUTURE_KNOWN_AT))
        .when(unknown_label, F.lit(codes.UNKNOWN_LABEL))
    )
    known_values = ", ".join(repr(v) for v in (*description.positive_labels, *description.negative_labels))
    reason = (
        F.when(blank, F.lit("blank line"))
        .when(is_header, F.lit("header line"))
        .when(wrong_count, F.format_string(f"row has %d field(s), the header has {width}", n_fields))
        .when(no_id, F.lit(f"{columns.header[columns.id]!r} is blank"))
        .when(
            bad_date,
            F.concat(
                F.lit(f"{outputs.KNOWN_AT} is not an ISO-8601 date or timestamp: '"),
                F.coalesce(known_text, F.lit("")),
                F.lit("'"),
            ),
        )
        .when(
            future,
            F.concat(
                F.lit(f"{outputs.KNOWN_AT} "),
                F.date_format(known_at, "yyyy-MM-dd'T'HH:mm:ss'Z'"),
                F.lit(f" is after the run started ({now:%Y-%m-%dT%H:%M:%SZ})"),
            ),
        )
        .when(
            unknown_label,
            F.concat(
                F.lit(f"{columns.header[columns.label]!r} is '"),
                shown,
                F.lit(f"', not a value the description knows ({known_values})"),
            ),
        )
    )
    tagged = texts.select(
        outcome_id.alias(OUTCOME_ID),
        label.alias(OUTCOME_LABEL),
        known_at.alias(KNOWN_AT),
        F.col(LINE),
        F.col(reader.SOURCE_FILE),
        value.alias(reader.RAW_LINE),
        code.alias(CODE),
        reason.alias(REASON),
    )
    return Outcomes(_tag_duplicates(tagged), columns)


def _known_at(text: Column) -> Column:
    """The timestamp (UTC) of an ISO-8601 date or timestamp text, null when it is neither (or no such day)."""
    with_offset = (
        F.when(text.rlike(_ISO_DATE), F.concat(text, F.lit("T00:00:00Z")))
        .when(text.rlike(_ISO_TIMESTAMP) & text.rlike(_HAS_OFFSET), text)
        .when(text.rlike(_ISO_TIMESTAMP), F.concat(text, F.lit("Z")))
    )
    return with_offset.try_cast("timestamp")


def _label(text: Column, description: DatasetDescription) -> Column:
    """1 / 0 for the description's positive / negative values (trimmed, as DatasetDescription.label_value)."""
    return F.when(text.isin(*description.positive_labels), F.lit(1)).when(
        text.isin(*description.negative_labels), F.lit(0)
    )


def _normal_id(text: Column, description: DatasetDescription) -> Column:
    """The id as the join compares it (scores.normal_id does the same to a scored row's id)."""
    return normal_id(F.when(text != "", text), description)


def normal_id(value: Column, description: DatasetDescription) -> Column:
    """An id as text: an integer id as its number's text ("007" and 7 are one customer), any other trimmed."""
    if description.column(outcome_header(description)[0]).type == INTEGER:
        return value.cast("string").try_cast("bigint").cast("string")
    text = F.trim(value.cast("string"))
    return F.when(text != "", text)


def _tag_duplicates(tagged: DataFrame) -> DataFrame:
    """Among the usable outcomes, a second one for the same id and known_at day (UTC) is DUPLICATE_OUTCOME;
    when their labels differ, every copy is (no one of them can be trusted)."""
    usable = F.col(CODE).isNull()
    day = F.to_date(F.col(KNOWN_AT))
    group = Window.partitionBy(F.col(OUTCOME_ID), day)
    first = Window.partitionBy(F.col(OUTCOME_ID), day).orderBy(F.col(reader.SOURCE_FILE), F.col(LINE))
    candidates = tagged.where(usable)
    ranked = candidates.select(
        *tagged.columns,
        F.count(F.lit(1)).over(group).alias("_copies"),
        (F.min(OUTCOME_LABEL).over(group) != F.max(OUTCOME_LABEL).over(group)).alias("_conflict"),
        F.row_number().over(first).alias("_rank"),
    )
    conflict, later = F.col("_conflict"), F.col("_rank") > 1
    duplicate = F.col("_copies") > 1
    day_text = F.date_format(F.col(KNOWN_AT), "yyyy-MM-dd")
    checked = ranked.select(
        *[c for c in tagged.columns if c not in (CODE, REASON)],
        F.when(duplicate & (conflict | later), F.lit(codes.DUPLICATE_OUTCOME)).alias(CODE),
        F.when(
            duplicate & conflict,
            F.format_string("%d outcomes for id '%s' on %s with different labels: none kept",
                            F.col("_copies"), F.col(OUTCOME_ID), day_text),
        ).when(
            duplicate & later,
            F.format_string("a repeat of the outcome for id '%s' on %s (the first one read is kept)",
                            F.col(OUTCOME_ID), day_text),
        ).alias(REASON),
    )  # fmt: skip
    return checked.unionByName(tagged.where(~usable))


# ---------------------------------------------------------------------- the same checks without Spark
def parse_known_at(text: str) -> datetime.datetime | None:
    """known_at as the reader takes it (same patterns, UTC when no offset), None when it is not one."""
    import re

    text = text.strip()
    try:
        if re.fullmatch(_ISO_DATE, text):
            return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.UTC)
        if re.fullmatch(_ISO_TIMESTAMP, text):
            value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    except ValueError:  # no such day or time (2026-02-30): not a date, as Spark's cast says
        return None
    return None


@dataclass(frozen=True)
class LineProblem:
    line: int  # 1-based line number in the file
    code: str
    reason: str
    text: str


def check_file(path: str, description: DatasetDescription, now: datetime.datetime) -> list[LineProblem]:
    """Every problem the job's reader would find in one outcome file, by line (the join's NOT_SCORED
    aside: it needs the scores). Raises OutcomesError when the file has no header with the columns."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        lines = handle.read().splitlines()
    if not lines:
        raise OutcomesError(f"{path} is empty: expected the header {','.join(outcome_header(description))}")
    columns = parse_header(lines[0], path, description)
    problems: list[LineProblem] = []
    seen: dict[tuple[str, datetime.date], list[tuple[int, int, str]]] = {}
    for number, text in enumerate(lines[1:], start=2):
        if not text.strip() or text.strip().lower() == lines[0].strip().lower():
            continue  # blank and header lines are counted by the job, not rejected
        fields = [f.strip() for f in next(csv.reader([text]))]
        problem = _line_problem(fields, columns, description, now)
        if problem is not None:
            problems.append(LineProblem(number, problem[0], problem[1], text))
            continue
        known_at = parse_known_at(fields[columns.known_at])
        assert known_at is not None  # _line_problem checked it
        label = description.label_value(fields[columns.label])
        key = (fields[columns.id], known_at.astimezone(datetime.UTC).date())
        seen.setdefault(key, []).append((number, int(label or 0), text))
    for (outcome_id, day), copies in seen.items():
        conflict = len({label for _n, label, _t in copies}) > 1
        for index, (number, _label, text) in enumerate(copies):
            if len(copies) > 1 and (conflict or index > 0):
                reason = (
                    f"{len(copies)} outcomes for id '{outcome_id}' on {day} with different labels: none kept"
                    if conflict
                    else f"a repeat of the outcome for id '{outcome_id}' on {day} (the first one read is kept)"
                )
                problems.append(LineProblem(number, codes.DUPLICATE_OUTCOME, reason, text))
    return sorted(problems, key=lambda p: p.line)


def _line_problem(
    fields: list[str], columns: OutcomeColumns, description: DatasetDescription, now: datetime.datetime
) -> tuple[str, str] | None:
    header = columns.header
    if len(fields) != len(header):
        return codes.WRONG_FIELD_COUNT, f"row has {len(fields)} field(s), the header has {len(header)}"
    if not fields[columns.id]:
        return codes.MISSING_ID, f"{header[columns.id]!r} is blank"
    known_at = parse_known_at(fields[columns.known_at])
    if known_at is None:
        return codes.INVALID_KNOWN_AT, (
            f"{outputs.KNOWN_AT} is not an ISO-8601 date or timestamp: '{fields[columns.known_at]}'"
        )
    if known_at > now:
        return (
            codes.FUTURE_KNOWN_AT,
            f"{outputs.KNOWN_AT} {known_at.astimezone(datetime.UTC):%Y-%m-%dT%H:%M:%SZ} is after {now:%Y-%m-%dT%H:%M:%SZ}",
        )
    if description.label_value(fields[columns.label]) is None:
        return codes.UNKNOWN_LABEL, (
            f"{header[columns.label]!r} is '{fields[columns.label]}', not a value the description knows"
        )
    return None
