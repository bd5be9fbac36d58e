"""The batch CSV reader: the tutorial's format with header, schema enforced explicitly, nothing lost.

Files are read as lines (so a rejected row keeps its raw text) and each line is parsed in the JVM with
`from_csv` against the header: no inferSchema, types cast with try_cast. A line that is not a clean row is
not dropped: it carries a reader error code and reason into the scorer, which rejects it unscored in the same
single pass. Header lines (one per file) and blank lines are tagged too, so they are counted, not written.

Limits: a quoted field cannot span lines (the dataset has none); every file must share the first file's
header (another header fails its type checks and is rejected, visibly).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from churn_pipeline.contract import schema
from churn_pipeline.contract.codes import BLANK_LINE, HEADER_LINE, NOT_A_NUMBER, WRONG_FIELD_COUNT
from churn_pipeline.contract.features import ContractError

RAW_LINE = "_raw_line"
SOURCE_FILE = "_source_file"
READ_ERROR_CODE = "_read_error_code"
READ_ERROR_REASON = "_read_error_reason"
INTERNAL_COLUMNS = (RAW_LINE, SOURCE_FILE, READ_ERROR_CODE, READ_ERROR_REASON)


_SPARK_TYPES = {"int": "int", "double": "double"}
# A quoted field, with "" as an escaped quote: removed before counting the separators of a line.
_BOM = "\ufeff"
_QUOTED_FIELD = '"(?:[^"]|"")*"'


@dataclass(frozen=True)
class CsvInput:
    rows: DataFrame  # header columns (typed per schema, extras as text) + the INTERNAL_COLUMNS
    header: tuple[str, ...]


def read_churn_lines(spark: SparkSession, input_path: str) -> CsvInput:
    """Read CSV file(s) under `input_path` (a file, a directory or a glob) into typed rows, tagging bad lines."""
    lines = spark.read.option("recursiveFileLookup", "true").text(input_path)
    first = lines.select(F.col("_metadata.file_path").alias("file"), "value").first()
    if first is None:
        raise ContractError(
            f"no lines in {input_path}: expected CSV with the header {','.join(schema.RAW_COLUMN_NAMES)}"
        )
    header_line = first["value"].lstrip(_BOM)
    header = parse_header(header_line, first["file"])

    # Staged projections, each column computed once and referenced by name: a single projection with the
    # per-column checks inlined twice (code and reason) outgrows the JVM's 64 KB method limit for codegen.
    width = len(header)
    kinds = {schema.canonical(c.name): c.kind for c in schema.RAW_COLUMNS}
    schema_ddl = ", ".join(f"c{j} STRING" for j in range(width))
    options = {"mode": "PERMISSIVE", "ignoreLeadingWhiteSpace": "true", "ignoreTrailingWhiteSpace": "true"}
    stripped = lines.select(
        F.regexp_replace("value", "^" + _BOM, "").alias(
            "value"
        ),  # a byte-order mark opens some exported files
        F.col("_metadata.file_path").alias(SOURCE_FILE),
    )
    value = F.col("value")
    parsed = stripped.select(
        value,
        SOURCE_FILE,
        F.size(F.split(F.regexp_replace(value, _QUOTED_FIELD, ""), ",", -1)).alias("_n_fields"),
        F.from_csv(value, schema_ddl, options).alias("_parsed"),
    )
    texts = parsed.select(
        value,
        SOURCE_FILE,
        "_n_fields",
        *[F.trim(F.col("_parsed").getField(f"c{j}")).alias(f"_t{j}") for j in range(width)],
    )
    typed: list[Column] = []
    errors: list[Column] = []
    for j, name in enumerate(header):
        kind = kinds.get(schema.canonical(name), "string")
        text = F.col(f"_t{j}")
        if kind == "string":
            typed.append(F.when(text != "", text).alias(name))
            continue
        cast = F.expr(f"try_cast(_t{j} as {_SPARK_TYPES[kind]})")
        typed.append(cast.alias(name))
        expected = "a whole number" if kind == "int" else "a number"
        bad = text.isNotNull() & (text != "") & cast.isNull()
        errors.append(F.when(bad, F.concat(F.lit(f"{name!r} is not {expected}: '"), text, F.lit("'"))))
    checked = texts.select(
        value, SOURCE_FILE, "_n_fields", *typed, F.concat_ws("; ", *errors).alias("_type_reason")
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
        .when(type_reason != "", F.lit(NOT_A_NUMBER))
    )
    reason = (
        F.when(blank, F.lit("blank line"))
        .when(is_header, F.lit("header line"))
        .when(wrong_count, F.format_string(f"row has %d field(s), the header has {width}", n_fields))
        .when(type_reason != "", type_reason)
    )
    rows = checked.select(
        *[F.col(_quote(name)) for name in header],
        value.alias(RAW_LINE),
        F.col(SOURCE_FILE),
        code.alias(READ_ERROR_CODE),
        reason.alias(READ_ERROR_REASON),
    )
    return CsvInput(rows=rows, header=header)


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def parse_header(line: str, source: str) -> tuple[str, ...]:
    """The header's column names; every raw column must be present (any case), extras are kept."""
    names = tuple(n.strip() for n in next(csv.reader([line])))
    present = {schema.canonical(n) for n in names}
    missing = [n for n in schema.RAW_COLUMN_NAMES if schema.canonical(n) not in present]
    if missing:
        raise ContractError(
            f"{source}: the first line is not the churn header; missing column(s) {missing}; "
            f"first line: {line[:200]!r}"
        )
    if len(present) != len(names):
        raise ContractError(f"{source}: the header names a column twice (case-insensitively): {list(names)}")
    return names
