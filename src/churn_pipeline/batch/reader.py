"""The batch CSV reader: CSV with a header, typed by the model's dataset description, nothing lost.

Files are read as lines (so a rejected row keeps its raw text) and each line is parsed in the JVM with
`from_csv` against the header: no inferSchema; the verdict is that of each field as trimmed text, cast to its
described type with try_cast (integer -> int, decimal -> double, string stays text). A clean line gets it from
one parse with the columns' types, any other line from the text parse (see `_fast_line`). A line that is not a
clean row is not dropped: it carries a reader error code and reason into the scorer, which rejects it unscored
in the same single pass.
Header lines (one per file) and blank lines are tagged too, so they are counted, not written.

The rows come out as the scored datasets keep them: the description's output columns in its order and
spelling (ignored columns read, unchecked and dropped; a label absent from a scoring input is null), then any
undescribed header columns as text, then the reader's INTERNAL_COLUMNS.

Limits: a quoted field cannot span lines (the dataset has none); every file must share the first file's
header (another header fails its type checks and is rejected, visibly).
"""

from __future__ import annotations

import csv
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
# from_csv's corrupt-record field: set on a line whose field count is not the header's, or with a value the
# parse's type refused.
_MALFORMED = "_malformed"
_CSV_OPTIONS = {
    "mode": "PERMISSIVE",
    "ignoreLeadingWhiteSpace": "true",
    "ignoreTrailingWhiteSpace": "true",
    "columnNameOfCorruptRecord": _MALFORMED,
}


@dataclass(frozen=True)
class CsvInput:
    rows: DataFrame  # described output columns (typed), extra header columns (text), the INTERNAL_COLUMNS
    header: tuple[str, ...]  # the first file's header, as written
    extra_columns: tuple[str, ...] = ()  # header columns the description does not name, kept as text


def read_churn_lines(
    spark: SparkSession, input_path: str, description: DatasetDescription, *, typed_parse: bool = True
) -> CsvInput:
    """Read CSV file(s) under `input_path` (a file, a directory or a glob) into rows typed by `description`,
    tagging bad lines. Raises ContractError naming the file and the column(s) when the header lacks a
    column the description requires, before any Spark work on the data. `typed_parse=False` sends every
    line through the text parse: the same rows, slower (the reference tests/batch/test_reader.py holds the
    typed parse to)."""
    lines, first_file, header_line = read_header(spark, input_path)
    if header_line is None:
        raise ContractError(
            f"no lines in {input_path}: expected CSV with the header of {description.name!r} "
            f"({','.join(description.column_names)})"
        )
    header = parse_header(header_line, str(first_file), description)

    # Two parses of a line, the second only where the first cannot give the verdict. Most lines are clean rows:
    # `from_csv` with the columns' own types (Spark's CSV converters, the typed read's cost) gives their values,
    # and the line is `fast` when that parse flags nothing (see `_fast_line`: then the text parse would give the
    # same values and no reason). Any other line (a quote, a non-ASCII character, a value the typed parse
    # refused, a wrong field count, a blank or header line) is parsed again as text, each field cast with
    # try_cast and checked (`_text_verdict`): its values, verdict and reason come from that parse alone.
    width = len(header)
    described = description.by_canonical
    columns = [described.get(canonical(name)) for name in header]
    types = ["string" if c is None or c.role == dataset.IGNORED else spark_type(c.type) for c in columns]
    typed_ddl = ", ".join(f"c{j} {t.upper()}" for j, t in enumerate(types)) + f", {_MALFORMED} STRING"
    value = F.col("value")
    stripped = strip_lines(lines)
    typed = stripped.select(value, SOURCE_FILE, F.from_csv(value, typed_ddl, _CSV_OPTIONS).alias("_typed"))
    is_fast = _fast_line(header_line, check_ascii="int" in types) if typed_parse else F.lit(False)
    marked = typed.select(value, SOURCE_FILE, "_typed", is_fast.alias("_fast"))
    fast = F.col("_fast")
    # Its own projection: the text verdict is computed once per line, and only on a line that is not `fast`.
    slow = marked.select(
        value, SOURCE_FILE, "_typed", fast, F.when(~fast, _text_verdict(header, columns)).alias("_slow")
    )
    checked_columns = []
    for j, (name, column) in enumerate(zip(header, columns, strict=True)):
        if column is not None and column.role == dataset.IGNORED:
            continue  # read (the header names it) and dropped: not checked either
        parsed = F.col("_typed").getField(f"c{j}")
        if column is None or column.type == dataset.STRING:
            parsed = F.when(parsed != "", parsed)
        checked_columns.append(F.when(fast, parsed).otherwise(F.col("_slow").getField(f"v{j}")).alias(name))
    checked = slow.select(value, SOURCE_FILE, fast, "_slow", *checked_columns)

    blank = _blank(value)
    is_header = _is_header(value, header_line)
    n_fields = F.col("_slow.n_fields")
    wrong_count = n_fields != width
    type_reason = F.col("_slow.type_reason")
    code = (
        F.when(fast, F.lit(None).cast("string"))
        .when(blank, F.lit(BLANK_LINE))
        .when(is_header, F.lit(HEADER_LINE))
        .when(wrong_count, F.lit(WRONG_FIELD_COUNT))
        .when(type_reason != "", F.lit(NOT_A_NUMBER))
    )
    reason = (
        F.when(fast, F.lit(None).cast("string"))
        .when(blank, F.lit("blank line"))
        .when(is_header, F.lit("header line"))
        .when(wrong_count, F.format_string(f"row has %d field(s), the header has {width}", n_fields))
        .when(type_reason != "", type_reason)
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
    (the line's field count, quoted commas excluded: `_field_count`) and _t0.._t<width-1>, each field trimmed
    (null beyond the line's fields)."""
    schema_ddl = ", ".join(f"c{j} STRING" for j in range(width)) + f", {_MALFORMED} STRING"
    stripped = strip_lines(lines)
    value = F.col("value")
    parsed = stripped.select(value, SOURCE_FILE, F.from_csv(value, schema_ddl, _CSV_OPTIONS).alias("_parsed"))
    return parsed.select(
        value,
        SOURCE_FILE,
        F.expr(_field_count("_parsed", width)).alias("_n_fields"),
        *[F.trim(F.col("_parsed").getField(f"c{j}")).alias(f"_t{j}") for j in range(width)],
    )


def strip_lines(lines: DataFrame) -> DataFrame:
    """Text lines (spark.read.text) -> value (the line without a byte-order mark), SOURCE_FILE."""
    line = F.col("value")
    return lines.select(
        # a byte-order mark opens some exported files
        F.when(line.startswith(_BOM), F.expr("substr(value, 2)")).otherwise(line).alias("value"),
        F.col("_metadata.file_path").alias(SOURCE_FILE),
    )


def _field_count(parsed: str, width: int) -> str:
    """SQL: the field count of the line `value`, given `parsed`, its text parse by `from_csv` into `width`
    fields.

    The field count is the number of commas outside quoted fields plus one. On a line without a quote that
    is also what `from_csv` splits it into, and `from_csv` flags (in its corrupt-record field) a line whose
    field count is not `width` (apache/spark UnivocityParser.convert: "If the number of tokens doesn't match
    the schema, we should treat it as a malformed record"): so only a flagged or quoted line is counted with
    the regular expression; any other line has `width` fields."""
    return (
        f"CASE WHEN {parsed}.{_MALFORMED} IS NOT NULL OR contains(value, {_sql_string(chr(34))}) "
        f"THEN size(split(regexp_replace(value, {_sql_string(_QUOTED_FIELD)}, ''), ',', -1)) ELSE {width} END"
    )


def _text_verdict(header: tuple[str, ...], columns: list) -> Column:
    """A line's text parse, as one struct: n_fields (`_field_count`), v<j> for each column read (try_cast of
    the trimmed text to its type; a string column's text, null when empty) and type_reason (each bad value's
    reason, joined by "; "; empty when there is none).

    One SQL expression, the parse bound once as the lambda's argument (`transform` over a one-element array):
    a higher-order function is evaluated, not compiled, so this stays out of the whole-stage generated method
    and costs nothing on a line where the `when` around it does not hold. SQL, as pyspark 3.5 (Glue 5.x) has
    no try_cast on a Column."""
    width = len(header)
    text_ddl = ", ".join(f"c{j} STRING" for j in range(width)) + f", {_MALFORMED} STRING"
    options = ", ".join(f"{_sql_string(k)}, {_sql_string(v)}" for k, v in _CSV_OPTIONS.items())
    fields = [f"'n_fields', {_field_count('p', width)}"]
    reasons = []
    for j, (name, column) in enumerate(zip(header, columns, strict=True)):
        if column is not None and column.role == dataset.IGNORED:
            continue
        text = f"trim(p.c{j})"
        if column is None or column.type == dataset.STRING:
            fields.append(f"'v{j}', CASE WHEN {text} != '' THEN {text} END")
            continue
        typed = f"try_cast({text} AS {_SPARK_TYPES[column.type].upper()})"
        fields.append(f"'v{j}', {typed}")
        expected = "a whole number" if column.type == dataset.INTEGER else "a number"
        said = _sql_string(f"{name!r} is not {expected}: '")
        reasons.append(
            f"CASE WHEN {text} != '' AND {typed} IS NULL THEN concat({said}, {text}, {_sql_string(chr(39))}) END"
        )
    fields.append(f"'type_reason', concat_ws('; ', {', '.join(reasons) or 'NULL'})")
    return F.expr(
        f"transform(array(from_csv(value, {_sql_string(text_ddl)}, map({options}))), "
        f"p -> named_struct({', '.join(fields)}))[0]"
    )


def _sql_string(text: str) -> str:
    """A Spark SQL string literal of `text` (backslash escapes: spark.sql.parser.escapedStringLiterals off)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fast_line(header_line: str, check_ascii: bool) -> Column:
    """Whether a line's typed parse (the `_typed` struct: `from_csv` with the columns' types) is its verdict:
    it flagged nothing, and the line is none the text parse would judge otherwise.

    On such a line both parses see the same tokens (one tokenizer, the same options; no quote, so no field
    was quoted and each token is already trimmed as the text parse trims it). Spark's CSV converters accept a
    subset of what try_cast accepts, with the same value (apache/spark 4.1.1, the batch job's Glue 6.0):
    - a double: `String.toDouble`, or the nanValue / positiveInf / negativeInf spellings "NaN", "Inf", "-Inf"
      (catalyst/csv/UnivocityParser.scala, makeConverter); try_cast to a double runs as the legacy cast
      (catalyst/expressions/Cast.scala, canUseLegacyCastForTryCast: string to a fractional type), which is
      `toDouble`, then processFloatingPointSpecialLiterals for "inf", "-inf", "nan" in any case;
    - an int: `String.toInt` (Integer.parseInt: a sign, then digits), which try_cast (UTF8String.toIntExact)
      accepts with the same value, except for digits outside ASCII (Character.digit reads U+0661; try_cast
      reads '0'-'9' only): hence the ASCII check where an int is read (`length` counts characters,
      `octet_length` bytes).
    A blank or header line is left to the text parse for its code. tests/batch/test_reader.py holds the
    typed parse to the text parse, row for row, on lines built to part them."""
    value = F.col("value")
    header = header_line.strip().lower()
    ascii_only = F.length(value) == F.octet_length(value)
    fast = F.col("_typed").getField(_MALFORMED).isNull() & ~value.contains('"')
    if check_ascii:
        fast = fast & ascii_only
    # An ASCII line shorter than the header is not the header: `lower` copies the line, the lengths are read
    # off it (lowercasing keeps an ASCII line's length, not every other).
    not_header = (ascii_only & (F.octet_length(value) < len(header.encode()))) | ~_is_header(
        value, header_line
    )
    # An empty line is not flagged by the typed parse (its fields are null): the blank check stays.
    return fast & ~_blank(value) & not_header


def _blank(value: Column) -> Column:
    return F.trim(value) == ""


def _is_header(value: Column, header_line: str) -> Column:
    """The line is the header, in any case, with any spaces around it."""
    return F.lower(F.trim(value)) == header_line.strip().lower()


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
