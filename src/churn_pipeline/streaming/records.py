"""Parsing one Kinesis record (a JSON object per customer, field names as in the data's header) against the
dataset description of the model that scores it.

This decides what the batch job's CSV reader decides for a line: is it UTF-8, one JSON object, is each known
field a scalar of its type (a number or numeric text for a numeric field, a string for a text field), is any
field given twice. Values come out typed like the batch reader's columns (int, double, string; blank text in
a numeric field is a missing value, as a blank CSV field is), and whether a row is usable for the model
(missing values, bounds) is then decided by the one `features.encode` through the shared scorer, exactly as
for a CSV row. Unknown fields are allowed and ignored.

The fields come from the description (`RecordParser.for_description`, built once per job and pickled into
the tasks): the description's output columns, then record_id and event_time (`outputs.stream_record_fields`,
what the kinesis_customer_churn catalog table declares). An ignored column is not one of them: it is
neither kept in the outputs nor read by the model, so a record need not carry it and a value there is
not checked (like any unknown field). The label may be absent (a customer scored before the outcome).
Kept compatible with Python 3.10 (Glue 4.0 runs this module).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from churn_pipeline.contract import outputs

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
from churn_pipeline.contract.dataset import DatasetDescription, canonical
from churn_pipeline.contract.errors import ContractError

RECORD_ID = outputs.RECORD_ID
EVENT_TIME = outputs.EVENT_TIME
# A churn record is about 500 bytes; anything far larger is a producer bug, kept whole in the dead letter.
DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Parsed:
    """Either `values` (typed value per field of the parser's `parsed_fields`, None where absent) or an error
    code and reason."""

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
    """(value of the column's type, None) or (None, problem) for a JSON number or text in a numeric field.
    Blank text is a missing value (None, None), as a blank CSV field is: the contract decides if it may be."""
    number_text = value.strip() if isinstance(value, str) else None
    if number_text == "":
        return None, None
    if kind == outputs.DOUBLE:
        try:
            number = float(value if number_text is None else number_text)
        except ValueError:
            return None, f"is not a number: {value!r}"
        if not math.isfinite(number):
            return None, f"is not a finite number: {value!r}"
        return number, None
    try:
        if number_text is not None:
            number = int(number_text)
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


# Spark SQL DDL types of the parsed fields (by catalog type), for the schema option of Glue's Kinesis connector.
_DDL_TYPES = {outputs.INT: "INT", outputs.DOUBLE: "DOUBLE", outputs.STRING: "STRING"}
# Where Spark's JSON parser (PERMISSIVE mode) keeps the text of a record it could not parse into the schema.
CORRUPT_RECORD = "_corrupt_record"


@dataclass(frozen=True)
class RecordParser:
    """The parser of one description's records: built once per job (`for_description`), pickled into the
    tasks, where `parse` runs per record with nothing derived from the description left to do."""

    # The fields a parsed record has, in order: the description's output columns, then record_id, event_time.
    parsed_fields: tuple[str, ...]
    # Their catalog types (string, int, double), as the scored datasets store them.
    types: tuple[str, ...]
    # canonical field name -> (field name, catalog type): what a JSON key is matched with, in any case.
    _by_key: dict[str, tuple[str, str]] = field(repr=False, compare=False)

    @classmethod
    def for_description(cls, description: DatasetDescription) -> RecordParser:
        fields = outputs.stream_record_fields(description)
        by_key: dict[str, tuple[str, str]] = {}
        for f in fields:
            key = canonical(f.name)
            if key in by_key:
                extras = ", ".join(f.name for f in outputs.STREAM_RECORD_EXTRA_FIELDS)
                raise ContractError(
                    f"{description.source}: column {by_key[key][0]!r} has the name of a field the stream adds "
                    f"to every record ({extras}): rename it"
                )
            by_key[key] = (f.name, f.type)
        return cls(tuple(f.name for f in fields), tuple(f.type for f in fields), by_key)

    @property
    def data_fields(self) -> tuple[str, ...]:
        """The fields from the description (the parsed fields without record_id and event_time)."""
        return self.parsed_fields[: -len(outputs.STREAM_RECORD_EXTRA_FIELDS)]

    def type_of(self, name: str) -> str:
        """Catalog type of a parsed field (its Spark SQL type has the same name: int, double, string)."""
        return self._by_key[canonical(name)][1]

    def payload_ddl(self) -> str:
        """The parsed fields as a Spark DDL schema (`tenure` INT, ...), then the corrupt-record column."""
        fields = [
            f"`{name.replace('`', '``')}` {_DDL_TYPES[kind]}"
            for name, kind in zip(self.parsed_fields, self.types, strict=True)
        ]
        return ", ".join([*fields, f"`{CORRUPT_RECORD}` STRING"])

    def parse(self, data: bytes, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> Parsed:
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
            obj = json.loads(
                text, object_pairs_hook=_pairs_without_duplicates, parse_constant=_reject_constant
            )
        except _DuplicateKey as exc:
            return Parsed(None, DUPLICATE_FIELD, str(exc))
        except (ValueError, RecursionError) as exc:
            return Parsed(None, NOT_JSON, f"payload is not valid JSON: {exc}")
        if not isinstance(obj, dict):
            return Parsed(None, NOT_AN_OBJECT, f"payload is a JSON {type(obj).__name__}, not an object")

        by_key = self._by_key
        values: dict[str, object] = dict.fromkeys(self.parsed_fields)
        given: dict[str, str] = {}
        mistyped: list[str] = []
        not_numbers: list[str] = []
        for key, value in obj.items():
            found = by_key.get(canonical(key))
            if found is None:
                continue  # unknown fields are allowed and ignored
            name, kind = found
            if name in given:
                return Parsed(
                    None, DUPLICATE_FIELD, f"fields {given[name]!r} and {key!r} are the same field {name!r}"
                )
            given[name] = key
            if value is None:
                continue  # null is a missing value: the contract decides if that field may be missing
            if isinstance(value, (dict, list)):
                mistyped.append(
                    f"{key!r} is a JSON {'object' if isinstance(value, dict) else 'array'}, expected a scalar"
                )
            elif isinstance(value, bool):
                mistyped.append(
                    f"{key!r} is a JSON boolean ({json.dumps(value)}), expected a {_expected(kind)}"
                )
            elif kind == outputs.STRING:
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
    return "string" if kind == outputs.STRING else "number"


def payload_ddl(description: DatasetDescription) -> str:
    """The DDL schema of a description's records for Glue's Kinesis connector (parsed form)."""
    return RecordParser.for_description(description).payload_ddl()


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
