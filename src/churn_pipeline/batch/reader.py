"""The batch CSV reader: CSV with a header, typed by the model's dataset description, nothing lost.

Files are read as lines (so a rejected row keeps its raw text) and each line is parsed in the JVM with
`from_csv` against the header: no inferSchema, each described column cast to its described type with try_cast
(integer -> int, decimal -> double, string stays text). A line that is not a clean row is not dropped: it
carries a reader error code and reason into the scorer, which rejects it unscored in the same single pass.
Header lines (one per file) and blank lines are tagged too, so they are counted, not written.

The rows come out as the scored datasets keep them: the description's output columns in its order and
spelling (ignored columns read, unchecked and dropped; a label absent from a scoring input is null), then any
undescribed header columns as text, then the reader's INTERNAL_COLUMNS.

Limits: a quoted field cannot span lines (the dataset has none); every file must share the first file's
header (another header fails its type checks and is rejected, visibly).
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from churn_pipeline.contract import dataset
from churn_pipeline.contract.codes import BLANK_LINE, HEADER_LINE, NOT_A_NUMBER, WRONG_FIELD_COUNT
from churn_pipeline.contract.dataset import DatasetDescription, canonical
from churn_pipeline.contract.errors import ContractError

RAW_LINE = "_raw_line"
SOURCE_FILE = "_source_file"
READ_ERROR_CODE = "_read_error_code"
READ_ERROR_REASON = "_read_error_reason"
INTERNAL_COLUMNS = (RAW_LINE, SOURCE_FILE, READ_ERROR_CODE, READ_ERROR_REASON)


# The Spark type of each described value type (as the Glue catalog stores it: contract.dataset.CATALOG_TYPES).
_SPARK_TYPES = {dataset.INTEGER: "int", dataset.DECIMAL: "double"}
# A quoted field, with "" as an escaped quote: removed before counting the separators of a line.
_BOM = "\ufeff"
_QUOTED_FIELD = '"(?:[^"]|"")*"'
# from_csv's corrupt-record field: set on a line whose field count is not the header's.
_MALFORMED = "_malformed"


@dataclass(frozen=True)
class CsvInput:
    rows: DataFrame  # described output columns (typed), extra header columns (text), the INTERNAL_COLUMNS
    header: tuple[str, ...]  # the first file's header, as written
    extra_columns: tuple[str, ...] = ()  # header columns the description does not name, kept as text


def read_churn_lines(spark: SparkSession, input_path: str, description: DatasetDescription) -> CsvInput:
    """Read CSV file(s) under `input_path` (a file, a directory or a glob) into rows typed by `description`,
    tagging bad lines. Raises ContractError naming the file and the column(s) when the header lacks a
    column the description requires, before any Spark work on the data."""
    lines, first_file, header_line = read_header(spark, input_path)
    if header_line is None:
        raise ContractError(
            f"no lines in {input_path}: expected CSV with the header of {description.name!r} "
            f"({','.join(description.column_names)})"
        )
    header = parse_header(header_line, str(first_file), description)

    # Staged projections, each column computed once and referenced by name: a single projection with the
    # per-column checks inlined twice (code and reason) outgrows the JVM's 64 KB method limit for codegen.
    width = len(header)
    described = description.by_canonical
    texts = split_lines(lines, width)
    value = F.col("value")
    casts: list[Column] = []
    kept: list[tuple[str, Column]] = []  # (name, the typed column in `cast`) for each column read
    checks: list[tuple[Column, Column]] = []  # (bad, reason) for each typed column
    for j, name in enumerate(header):
        column = described.get(canonical(name))
        text = F.col(f"_t{j}")
        if column is not None and column.role == dataset.IGNORED:
            continue  # read (the header names it) and dropped: not checked either
        if column is None or column.type == dataset.STRING:
            kept.append((name, F.when(text != "", text)))
            continue
        casts.append(F.expr(f"try_cast(_t{j} as {_SPARK_TYPES[column.type]})").alias(f"_v{j}"))
        kept.append((name, F.col(f"_v{j}")))
        expected = "a whole number" if column.type == dataset.INTEGER else "a number"
        bad = text.isNotNull() & (text != "") & F.col(f"_v{j}").isNull()
        checks.append((bad, F.when(bad, F.concat(F.lit(f"{name!r} is not {expected}: '"), text, F.lit("'")))))
    # Each value cast once (its own projection), then checked. The reasons are built only on a line that has a
    # bad value, by `filter` (a higher-order function: evaluated, not compiled), so that the checks' projection
    # stays out of the whole-stage generated method: with the reasons compiled into it, that method grew past
    # the 8,000 bytes of bytecode HotSpot compiles at all (9,066 for the tutorial's 21 columns, `explain(mode=
    # "codegen")`) and the whole read ran interpreted, 2-3x slower (see batch.job RUN_CONF).
    cast = texts.select(value, SOURCE_FILE, "_n_fields", *[F.col(f"_t{j}") for j in range(width)], *casts)
    any_bad = functools.reduce(lambda a, b: a | b, [bad for bad, _ in checks], F.lit(False))
    checked = cast.select(
        value,
        SOURCE_FILE,
        "_n_fields",
        *[typed.alias(name) for name, typed in kept],
        F.when(
            any_bad, F.concat_ws("; ", F.filter(F.array(*[r for _, r in checks]), lambda r: r.isNotNull()))
        ).alias("_type_reason"),
    )

    blank = F.trim(value) == ""
    is_header = F.lower(F.trim(value)) == header_line.strip().lower()
    n_fields = F.col("_n_fields")
    wrong_count = n_fields != width
    type_reason = F.col("_type_reason")
    code = (
        F.when(blank, F.lit(BLANK_LINE))
        .when(is_header, F.lit(HEADER_LINE))
        .when(wrong_count, F.lit(WRONG_FIELD_COUNT))
        .when(type_reason.isNotNull(), F.lit(NOT_A_NUMBER))
    )
    reason = (
        F.when(blank, F.lit("blank line"))
        .when(is_header, F.lit("header line"))
        .when(wrong_count, F.format_string(f"row has %d field(s), the header has {width}", n_fields))
        .when(type_reason.isNotNull(), type_reason)
    )
    in_header = {canonical(name): name for name in header}
    outputs = [
        F.col(_quote(in_header[canonical(c.name)])).alias(c.name)
        if canonical(c.name) in in_header
        else F.lit(None).cast(_SPARK_TYPES.get(c.type, "string")).alias(c.name)  # a label not given
        for c in description.output_columns
    ]
    extras = tuple(name for name in header if canonical(name) not in described)
    rows = checked.select(
        *outputs,
        *[F.col(_quote(name)) for name in extras],
        value.alias(RAW_LINE),
        F.col(SOURCE_FILE),
        code.alias(READ_ERROR_CODE),
        reason.alias(READ_ERROR_REASON),
    )
    return CsvInput(rows=rows, header=header, extra_columns=extras)


def spark_type(value_type: str) -> str:
    """The Spark SQL type the reader gives a column of this described value type (int, double, string)."""
    return _SPARK_TYPES.get(value_type, "string")


def read_header(spark: SparkSession, input_path: str) -> tuple[DataFrame, str | None, str | None]:
    """The lines of the CSV file(s) under `input_path` (recursively), the first file's name and its first line
    (without a byte-order mark); (lines, None, None) when there is no line."""
    lines = spark.read.option("recursiveFileLookup", "true").text(input_path)
    first = lines.select(F.col("_metadata.file_path").alias("file"), "value").first()
    if first is None:
        return lines, None, None
    return lines, first["file"], first["value"].lstrip(_BOM)


def split_lines(lines: DataFrame, width: int) -> DataFrame:
    """Text lines (spark.read.text) -> value (the line, without a byte-order mark), SOURCE_FILE, _n_fields
    (the line's field count, quoted commas excluded) and _t0.._t<width-1>, each field trimmed (null beyond the
    line's fields).

    The field count is the number of commas outside quoted fields plus one. On a line without a quote that
    is also what `from_csv` splits it into, and `from_csv` flags (in its corrupt-record field) a line whose
    field count is not `width` (apache/spark UnivocityParser.convert: "If the number of tokens doesn't match
    the schema, we should treat it as a malformed record"): so only a flagged or quoted line is counted with
    the regular expression; any other line has `width` fields."""
    schema_ddl = ", ".join(f"c{j} STRING" for j in range(width)) + f", {_MALFORMED} STRING"
    options = {
        "mode": "PERMISSIVE",
        "ignoreLeadingWhiteSpace": "true",
        "ignoreTrailingWhiteSpace": "true",
        "columnNameOfCorruptRecord": _MALFORMED,
    }
    line = F.col("value")
    stripped = lines.select(
        # a byte-order mark opens some exported files
        F.when(line.startswith(_BOM), F.expr("substr(value, 2)")).otherwise(line).alias("value"),
        F.col("_metadata.file_path").alias(SOURCE_FILE),
    )
    value = F.col("value")
    parsed = stripped.select(value, SOURCE_FILE, F.from_csv(value, schema_ddl, options).alias("_parsed"))
    counted = F.col("_parsed").getField(_MALFORMED).isNotNull() | value.contains('"')
    n_fields = F.when(counted, F.size(F.split(F.regexp_replace(value, _QUOTED_FIELD, ""), ",", -1)))
    return parsed.select(
        value,
        SOURCE_FILE,
        n_fields.otherwise(F.lit(width)).alias("_n_fields"),
        *[F.trim(F.col("_parsed").getField(f"c{j}")).alias(f"_t{j}") for j in range(width)],
    )


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def parse_header(line: str, source: str, description: DatasetDescription) -> tuple[str, ...]:
    """The header's column names; every column the description requires of a scoring input (all but the
    label) must be present (any case), extras are kept."""
    names = tuple(n.strip() for n in next(csv.reader([line])))
    present = {canonical(n) for n in names}
    missing = [n for n in description.required_columns if canonical(n) not in present]
    if missing:
        raise ContractError(
            f"{source}: the first line is not the header of {description.name!r}; missing column(s) "
            f"{missing}; first line: {line[:200]!r}"
        )
    if len(present) != len(names):
        raise ContractError(f"{source}: the header names a column twice (case-insensitively): {list(names)}")
    return names
