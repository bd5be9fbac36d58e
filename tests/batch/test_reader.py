"""The batch reader's verdict on lines where its shortcuts could go wrong: the field count (counted by regular
expression only on a quoted line or one `from_csv` flags), a byte-order mark, the type checks' reasons."""

from __future__ import annotations

from churn_pipeline.batch import reader
from churn_pipeline.contract.dataset import tutorial

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
