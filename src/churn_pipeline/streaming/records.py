"""Parsing one Kinesis record (a JSON object per customer, field names as in the CSV header) against the contract.

This decides what the batch job's CSV reader decides for a line: is it UTF-8, one JSON object, is each known
field a scalar of its type (a number or numeric text for a numeric field, a string for a text field), is any
field given twice. Values come out typed like the batch reader's columns (int, double, string), and whether
a row is usable for the model (missing or negative values) is then decided by the one `features.encode`
through the shared scorer, exactly as for a CSV row. Unknown fields are allowed and ignored.
Kept compatible with Python 3.10 (Glue 4.0 runs this module).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from churn_pipeline.contract import outputs, schema

# Dead-letter codes decided here; the feature contract's own (MISSING_VALUE, OUT_OF_RANGE) follow in the scorer.
from churn_pipeline.contract.codes import (
    DUPLICATE_FIELD,
    EMPTY_PAYLOAD,
    INVALID_UTF8,
    MISTYPED_FIELD,
    NOT_A_NUMBER,
    NOT_AN_OBJECT,
    NOT_JSON,
    PAYLOAD_TOO_LARGE,
)

RECORD_ID = outputs.RECORD_ID
EVENT_TIME = outputs.EVENT_TIME
# A churn record is about 500 bytes; anything far larger is a producer bug, kept whole in the dead letter.
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024

_COLUMNS = {schema.canonical(c.name): c for c in schema.RAW_COLUMNS}
_META = {RECORD_ID: RECORD_ID, EVENT_TIME: EVENT_TIME}
FIELD_NAMES: tuple[str, ...] = schema.RAW_COLUMN_NAMES
PARSED_FIELDS: tuple[str, ...] = (*FIELD_NAMES, RECORD_ID, EVENT_TIME)


@dataclass(frozen=True)
class Parsed:
    """Either `values` (typed value per field of PARSED_FIELDS, None where absent) or an error code and reason."""

    values: dict[str, object] | None
    error_code: str | None = None
    error_reason: str | None = None


class _DuplicateKey(ValueError):
    pass


def _pairs_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict[str, object] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(f"field {key!r} appears more than once")
        seen[key] = value
    return seen


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def as_text(value: object) -> str:
    """JSON scalar -> text; 415.0 and 415 give the same '415'."""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


_INT32 = (-(2**31), 2**31 - 1)


def typed_value(value: Any, kind: str) -> tuple[object, str | None]:
    """(value of the column's type, None) or (None, problem) for a JSON number or text in a numeric field."""
    if kind == "double":
        try:
            number = float(value.strip()) if isinstance(value, str) else float(value)
        except ValueError:
            return None, f"is not a number: {value!r}"
        if not math.isfinite(number):
            return None, f"is not a finite number: {value!r}"
        return number, None
    try:
        if isinstance(value, str):
            number = int(value.strip())
        elif isinstance(value, float):
            if not value.is_integer():
                return None, f"is not a whole number: {value!r}"
            number = int(value)
        else:
            number = int(value)
    except (ValueError, OverflowError):
        return None, f"is not a whole number: {value!r}"
    if not _INT32[0] <= number <= _INT32[1]:
        return None, f"is out of the integer range: {value!r}"
    return number, None


def parse_record(data: bytes, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Parsed:
    if len(data) > max_payload_bytes:
        return Parsed(
            None, PAYLOAD_TOO_LARGE, f"payload is {len(data):,} bytes, the limit is {max_payload_bytes:,}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Parsed(None, INVALID_UTF8, f"payload is not UTF-8: {exc}")
    if not text.strip():
        return Parsed(None, EMPTY_PAYLOAD, "payload is empty")
    try:
        obj = json.loads(text, object_pairs_hook=_pairs_without_duplicates, parse_constant=_reject_constant)
    except _DuplicateKey as exc:
        return Parsed(None, DUPLICATE_FIELD, str(exc))
    except (ValueError, RecursionError) as exc:
        return Parsed(None, NOT_JSON, f"payload is not valid JSON: {exc}")
    if not isinstance(obj, dict):
        return Parsed(None, NOT_AN_OBJECT, f"payload is a JSON {type(obj).__name__}, not an object")

    values: dict[str, object] = dict.fromkeys(PARSED_FIELDS)
    given: dict[str, str] = {}
    mistyped: list[str] = []
    not_numbers: list[str] = []
    for key, value in obj.items():
        canonical = schema.canonical(key)
        column = _COLUMNS.get(canonical)
        name = column.name if column else _META.get(canonical)
        if name is None:
            continue  # unknown fields are allowed and ignored
        if name in given:
            return Parsed(
                None, DUPLICATE_FIELD, f"fields {given[name]!r} and {key!r} are the same field {name!r}"
            )
        given[name] = key
        kind = column.kind if column is not None else "string"
        if value is None:
            continue  # null is a missing value: the contract decides if that field may be missing
        if isinstance(value, (dict, list)):
            mistyped.append(
                f"{key!r} is a JSON {'object' if isinstance(value, dict) else 'array'}, expected a scalar"
            )
        elif isinstance(value, bool):
            mistyped.append(f"{key!r} is a JSON boolean ({json.dumps(value)}), expected a {_expected(kind)}")
        elif kind == "string":
            if isinstance(value, str) or name == RECORD_ID and isinstance(value, int):
                values[name] = as_text(value)
            else:
                mistyped.append(f"{key!r} is the number {value!r}, expected a string")
        else:
            typed, problem = typed_value(value, kind)
            if problem:
                not_numbers.append(f"{key!r} {problem}")
            values[name] = typed
    if mistyped:
        return Parsed(None, MISTYPED_FIELD, "; ".join(mistyped + not_numbers))
    if not_numbers:
        return Parsed(None, NOT_A_NUMBER, "; ".join(not_numbers))
    return Parsed(values)


def _expected(kind: str) -> str:
    return "string" if kind == "string" else "number"


def spark_type_name(name: str) -> str:
    """Spark SQL type of a parsed field, as the batch reader types the same CSV column."""
    column = _COLUMNS.get(schema.canonical(name))
    return {"int": "int", "double": "double"}.get(column.kind if column else "string", "string")


# Spark SQL DDL types of the parsed fields, for the schema option of Glue's Kinesis connector (streaming.glue).
_DDL_TYPES = {"int": "INT", "double": "DOUBLE", "string": "STRING"}
# Where Spark's JSON parser (PERMISSIVE mode) keeps the text of a record it could not parse into the schema.
CORRUPT_RECORD = "_corrupt_record"


def payload_ddl() -> str:
    """The record's fields as a Spark DDL schema (`Account Length` INT, ...), then the corrupt-record column."""
    fields = [f"`{name}` {_DDL_TYPES[spark_type_name(name)]}" for name in PARSED_FIELDS]
    return ", ".join([*fields, f"`{CORRUPT_RECORD}` STRING"])


def derived_record_id(
    shard_id: str | None,
    sequence_number: str | None,
    partition_key: str | None,
    arrival_micros: int | None,
    data: bytes,
) -> str:
    """A stable id for a record whose producer gave none, from what the record has; never "None".

    Kinesis sequence numbers are unique per shard, so shard/sequence where both are known; Glue's connector
    gives no shard id (its raw form) and may give no metadata at all (its parsed form): then partition
    key/sequence, and failing those a digest of the payload and its arrival time.
    """
    if shard_id and sequence_number:
        return f"{shard_id}/{sequence_number}"
    if sequence_number:
        return f"{partition_key or 'no-key'}/{sequence_number}"
    digest = hashlib.sha256(data + b"@" + str(arrival_micros).encode()).hexdigest()[:32]
    return f"sha256:{digest}"
