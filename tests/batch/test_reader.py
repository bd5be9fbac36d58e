"""The batch reader's verdict on lines where its shortcuts could go wrong: the field count (counted by regular
expression only on a quoted line or one `from_csv` flags), a byte-order mark, the type checks' reasons, and the
typed parse, which must give every line what the text parse alone gives it."""

from __future__ import annotations

import random

from churn_pipeline.batch import reader
from churn_pipeline.contract.dataset import DatasetDescription, tutorial

from .helpers import GOOD_ROW, HEADER, write_lines

FIELDS = GOOD_ROW.split(",")


def row(**changes: str) -> str:
    """GOOD_ROW with fields replaced by position (f3="..." replaces the fourth field, Phone)."""
    fields = list(FIELDS)
    for key, value in changes.items():
        fields[int(key[1:])] = value
    return ",".join(fields)


COUNT = "row has {} field(s), the header has 21"
# line -> (code, reason) as the reader gives them (None, None: passed on to the scorer)
EXPECTED = {
    row(f3="a\\,b"): ("WRONG_FIELD_COUNT", COUNT.format(22)),  # no escape outside quotes
    row(f3='"a\\"b"'): (None, None),
    # one field to from_csv (\" escapes a quote inside quotes), two to the count of commas outside quotes
    row(f3='"a\\",b"'): ("WRONG_FIELD_COUNT", COUNT.format(22)),
    row(f3='a"b'): (None, None),
    row(f3='"a,b"'): (None, None),
    row(f3='"a,b'): ("WRONG_FIELD_COUNT", COUNT.format(22)),  # an unclosed quote
    row(f7="1,5"): ("WRONG_FIELD_COUNT", COUNT.format(22)),
    ",".join([""] * 21): (None, None),
    ",".join([""] * 20): ("WRONG_FIELD_COUNT", COUNT.format(20)),
    "\t": ("WRONG_FIELD_COUNT", COUNT.format(1)),
    "   ": ("BLANK_LINE", "blank line"),
    HEADER.upper(): ("HEADER_LINE", "header line"),
    row(f1="\u0661\u0662"): ("NOT_A_NUMBER", "'Account Length' is not a whole number: '\u0661\u0662'"),
    row(f1="12.0", f7="1d", f9="x"): (
        "NOT_A_NUMBER",
        "'Account Length' is not a whole number: '12.0'; 'Day Charge' is not a number: 'x'",
    ),
    row(f1=" 12 ", f7="Infinity"): (None, None),
    # read by the typed parse's converters (Integer.parseInt, String.toDouble, the CSV infinity spellings)
    row(f1="+12", f2="-0", f7="1d", f9="-Inf", f10="NaN", f12="1e3"): (None, None),
}


def test_lines_get_the_reader_verdict(spark, tmp_path):
    lines = list(EXPECTED)
    source = write_lines(tmp_path / "in" / "lines.csv", ["\ufeff" + HEADER, "\ufeff" + GOOD_ROW, *lines])
    rows = reader.read_churn_lines(spark, str(source), tutorial()).rows
    got = {
        (r[reader.RAW_LINE], r[reader.READ_ERROR_CODE], r[reader.READ_ERROR_REASON])
        for r in rows.select(reader.RAW_LINE, reader.READ_ERROR_CODE, reader.READ_ERROR_REASON).collect()
    }
    expected = {(line, code, reason) for line, (code, reason) in EXPECTED.items()}
    # each file's byte-order mark is not part of its line
    expected |= {(HEADER, "HEADER_LINE", "header line"), (GOOD_ROW, None, None)}
    assert got == expected


# Field values where Spark's CSV converters and try_cast could part: signs, Java's number suffixes and hex
# floats, the infinity and NaN spellings in several cases, out-of-range numbers, digits outside ASCII, control
# characters and whitespace the tokenizer trims or keeps, quotes, separators.
ATOMS = (
    "",
    " ",
    "\t",
    "\x0b",
    "\x00",
    "\x1f",
    "+",
    "-",
    "1",
    "12",
    "007",
    "+5",
    "-5",
    "1.5",
    ".5",
    "5.",
    "1e3",
    "1E3",
    "1d",
    "1f",
    "0x10",
    "0x1p3",
    "NaN",
    "nan",
    "Inf",
    "-Inf",
    "+Inf",
    "inf",
    "Infinity",
    "-Infinity",
    "2147483647",
    "2147483648",
    "-2147483648",
    "99999999999999999999",
    "1e400",
    "\u0661",
    "\uff11",
    "\u00e9",
    "\u0130",
    "\u00a0",
    '"',
    '""',
    "a",
    "x y",
    ",",
    "\\",
    "'",
    "1_000",
    "True",
    "False.",
)


def varied_lines(seed: int, count: int) -> list[str]:
    """GOOD_ROW with one to three fields replaced by one to three atoms each; some lines short or long by a
    field, some with a field quoted."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        fields = list(FIELDS)
        for _ in range(rng.choice((1, 1, 2, 3))):
            fields[rng.randrange(len(fields))] = "".join(
                rng.choice(ATOMS) for _ in range(rng.choice((1, 1, 2, 3)))
            )
        if rng.random() < 0.05:
            fields = fields[:-1] if rng.random() < 0.5 else [*fields, "1"]
        if rng.random() < 0.1:
            j = rng.randrange(len(fields))
            fields[j] = f'"{fields[j]}"'
        lines.append(",".join(fields))
    return lines


def test_the_typed_parse_gives_every_line_the_text_parse_verdict_and_values(spark, tmp_path):
    varied = varied_lines(seed=20261207, count=4000)
    lines = [*EXPECTED, *varied]
    source = write_lines(tmp_path / "in" / "lines.csv", [HEADER, *lines])
    typed = reader.read_churn_lines(spark, str(source), tutorial()).rows
    text_only = reader.read_churn_lines(spark, str(source), tutorial(), typed_parse=False).rows
    assert typed.schema == text_only.schema
    by_line = {r[reader.RAW_LINE]: r for r in text_only.collect()}
    got = {r[reader.RAW_LINE]: r for r in typed.collect()}
    # NaN != NaN: compare the rows' text
    assert {k: repr(v) for k, v in got.items()} == {k: repr(v) for k, v in by_line.items()}
    # the generated lines reach both parses: lines of both codes a row of fields can get, and clean rows with
    # values only the typed converters' own rules read
    codes = {got[line][reader.READ_ERROR_CODE] for line in varied}
    assert codes == {None, "WRONG_FIELD_COUNT", "NOT_A_NUMBER"}
    clean = [line for line in varied if got[line][reader.READ_ERROR_CODE] is None]
    assert all(any(atom in line for line in clean) for atom in ("+5", "1d", "0x1p3", "Inf", "NaN"))


def id_feature_label(feature: dict) -> DatasetDescription:
    """A description of three columns: id (text), `feature`, Churn (the label, yes / no)."""
    return DatasetDescription.from_dict(
        {
            "description_version": 1,
            "name": "three-columns",
            "label": {"column": "Churn", "positive": ["yes"], "negative": ["no"]},
            "columns": [
                {"name": "id", "type": "string", "role": "id"},
                feature,
                {"name": "Churn", "type": "string", "role": "label"},
            ],
        }
    )


def test_a_header_or_blank_line_the_typed_parse_accepts_gets_its_code(spark, tmp_path):
    # Text columns only: the header line (in any case) and a blank line parse as a row of text.
    description = id_feature_label({"name": "plan", "type": "string", "role": "categorical"})
    lines = ["id,plan,Churn", "a1,gold,yes", " ID,PLAN,CHURN ", "", "   ", "a2,,no"]
    source = write_lines(tmp_path / "in" / "lines.csv", lines)
    for typed_parse in (True, False):
        rows = reader.read_churn_lines(spark, str(source), description, typed_parse=typed_parse).rows
        got = sorted(
            (r[reader.RAW_LINE], r["id"], r["plan"], r[reader.READ_ERROR_CODE])
            for r in rows.select(reader.RAW_LINE, "id", "plan", reader.READ_ERROR_CODE).collect()
        )
        assert got == [
            ("", None, None, "BLANK_LINE"),
            ("   ", None, None, "BLANK_LINE"),
            (" ID,PLAN,CHURN ", "ID", "PLAN", "HEADER_LINE"),
            ("a1,gold,yes", "a1", "gold", None),
            ("a2,,no", "a2", None, None),
            ("id,plan,Churn", "id", "plan", "HEADER_LINE"),
        ], typed_parse


def test_a_reason_names_a_column_whose_name_has_quotes_and_a_backslash(spark, tmp_path):
    # The reasons are built in SQL text (reader._text_verdict): the name must come out as written.
    name = 'Int\'l \\ "Mins"'
    description = id_feature_label({"name": name, "type": "decimal", "role": "numeric"})
    header = 'id,"Int\'l \\ ""Mins""",Churn'
    source = write_lines(tmp_path / "in" / "lines.csv", [header, "a1,1.5,yes", "a2,x\\y,no"])
    rows = reader.read_churn_lines(spark, str(source), description).rows
    got = sorted((r["id"], r[name], r[reader.READ_ERROR_REASON]) for r in rows.collect())
    assert got == [
        ("a1", 1.5, None),
        ("a2", None, f"{name!r} is not a number: 'x\\y'"),
        ("id", None, "header line"),
    ]
