"""The malformed-record corpus: (kind, payload, expected outcome). "scored" or the dead-letter error code."""

from __future__ import annotations

import json

VALID = {
    "State": "KS",
    "Account Length": 128,
    "Area Code": 415,
    "Phone": "382-4657",
    "Int'l Plan": "no",
    "VMail Plan": "yes",
    "VMail Message": 25,
    "Day Mins": 265.1,
    "Day Calls": 110,
    "Day Charge": 45.07,
    "Eve Mins": 197.4,
    "Eve Calls": 99,
    "Eve Charge": 16.78,
    "Night Mins": 244.7,
    "Night Calls": 91,
    "Night Charge": 11.01,
    "Intl Mins": 10.0,
    "Intl Calls": 3,
    "Intl Charge": 2.7,
    "CustServ Calls": 1,
    "Churn?": "False.",
}


def _record(record_id: str, **changes) -> dict:
    body = {**VALID, "record_id": record_id, "event_time": "2026-11-26T12:00:00.000+00:00"}
    for key, value in changes.items():
        key = key.replace("_", " ")
        if value is _DROP:
            body.pop(key)
        else:
            body[key] = value
    return body


_DROP = object()


def _json(record_id: str, **changes) -> bytes:
    return json.dumps(_record(record_id, **changes)).encode()


def _text(record_id: str) -> str:
    return json.dumps(_record(record_id))


def corpus() -> list[tuple[str, bytes, str]]:
    """At least 20 kinds of bad input next to the good cases they resemble, each with its asserted outcome."""
    valid = _text("c-valid")
    lower = json.dumps({k.lower(): v for k, v in _record("c-lower-keys").items()})
    return [
        ("valid record", valid.encode(), "scored"),
        ("invalid UTF-8", b'{"State": "K\xff\xfeS"}', "INVALID_UTF8"),
        ("truncated JSON", valid[: len(valid) // 2].encode(), "NOT_JSON"),
        ("trailing garbage after the object", (valid + " }{").encode(), "NOT_JSON"),
        ("UTF-8 byte order mark", ("\ufeff" + valid).encode(), "NOT_JSON"),
        ("NaN literal", _json("c-nan").replace(b"265.1", b"NaN"), "NOT_JSON"),
        ("nesting deeper than the parser allows", b"[" * 5000 + b"]" * 5000, "NOT_JSON"),
        ("JSON array of records", f"[{valid}]".encode(), "NOT_AN_OBJECT"),
        ("JSON null", b"null", "NOT_AN_OBJECT"),
        ("JSON string", b'"KS,128,415"', "NOT_AN_OBJECT"),
        ("blank payload", b"   \n", "EMPTY_PAYLOAD"),
        ("huge payload", _json("c-huge", padding="x" * 100_000), "PAYLOAD_TOO_LARGE"),
        (
            "duplicated key",
            valid.replace('"State": "KS"', '"State": "KS", "State": "OH"').encode(),
            "DUPLICATE_FIELD",
        ),
        ("same key in two cases", _json("c-two-cases", STATE="OH"), "DUPLICATE_FIELD"),
        ("boolean for a number", _json("c-bool", Day_Mins=True), "MISTYPED_FIELD"),
        ("object for a number", _json("c-object", Day_Calls={"value": 110}), "MISTYPED_FIELD"),
        ("array for a number", _json("c-array", Eve_Mins=[197.4]), "MISTYPED_FIELD"),
        ("number for a text field", _json("c-number-state", State=20), "MISTYPED_FIELD"),
        ("non-numeric string for a number", _json("c-string-nan", Night_Mins="lots"), "NOT_A_NUMBER"),
        ("fraction for a whole number", _json("c-fraction", Day_Calls=110.5), "NOT_A_NUMBER"),
        ("number beyond double range", _json("c-inf").replace(b"265.1", b"1e400"), "NOT_A_NUMBER"),
        ("whole number beyond int range", _json("c-int-overflow", Intl_Calls=2**40), "NOT_A_NUMBER"),
        ("null for a number", _json("c-null", Day_Mins=None), "MISSING_VALUE"),
        ("missing field", _json("c-missing", Day_Mins=_DROP), "MISSING_VALUE"),
        ("negative minutes", _json("c-negative", Eve_Mins=-3.5), "OUT_OF_RANGE"),
        (
            "numeric strings for numbers",
            _json("c-numeric-strings", Day_Mins="265.1", Day_Calls=" 110 "),
            "scored",
        ),
        ("lower-case keys", lower.encode(), "scored"),
        ("unknown extra fields", _json("c-extra", customer_segment="gold", nested={"a": [1, 2]}), "scored"),
        ("area code as 415.0", _json("c-area-float", Area_Code=415.0), "scored"),
        ("state never seen in training", _json("c-unseen-state", State="ZZ"), "scored"),
        (
            "no record_id",
            json.dumps({k: v for k, v in _record("x").items() if k != "record_id"}).encode(),
            "scored",
        ),
        ("label missing (scoring-time record)", _json("c-no-label", **{"Churn?": _DROP}), "scored"),
    ]


CONTRACT_CODES = {"MISSING_VALUE", "OUT_OF_RANGE"}  # decided by features.encode, not by the JSON parser
