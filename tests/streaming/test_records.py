"""The JSON parser over the malformed-record corpus: each kind's outcome at the parsing stage."""

from __future__ import annotations

import pytest

from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.streaming import records

from .corpus import CONTRACT_CODES, VALID, corpus

CASES = corpus()
PARSER = records.RecordParser.for_description(tutorial())


def test_corpus_has_at_least_twenty_kinds_of_bad_input():
    bad = [kind for kind, _, outcome in CASES if outcome != "scored"]
    assert len(bad) >= 20, bad
    assert len({kind for kind, _, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("kind", "payload", "outcome"), CASES, ids=[c[0] for c in CASES])
def test_parser_outcome(kind, payload, outcome):
    parsed = PARSER.parse(payload)
    if outcome == "scored" or outcome in CONTRACT_CODES:
        assert parsed.error_code is None, parsed.error_reason
        assert parsed.values is not None
    else:
        assert parsed.values is None
        assert parsed.error_code == outcome
        assert parsed.error_reason  # a human-readable reason naming the problem


def test_valid_record_is_typed_like_the_batch_readers_columns():
    parsed = PARSER.parse(
        b'{"state": "KS", "Area Code": "415", "Day Mins": 265, "Day Calls": 110.0, "record_id": 7, "zzz": 1}'
    )
    values = parsed.values
    assert values["State"] == "KS"
    assert values["Area Code"] == 415 and isinstance(values["Area Code"], int)
    assert values["Day Mins"] == 265.0 and isinstance(values["Day Mins"], float)
    assert values["Day Calls"] == 110 and isinstance(values["Day Calls"], int)
    assert values["record_id"] == "7"
    assert values["Eve Mins"] is None  # absent: the contract decides
    assert set(values) == set(PARSER.parsed_fields)


def test_reasons_name_the_field_and_the_value():
    assert PARSER.parse(b'{"Night Mins": "lots"}').error_reason == "'Night Mins' is not a number: 'lots'"
    assert "'Day Mins' is a JSON boolean (true)" in PARSER.parse(b'{"Day Mins": true}').error_reason
    dup = PARSER.parse(b'{"State": "KS", "state": "OH"}')
    assert dup.error_reason == "fields 'State' and 'state' are the same field 'State'"


def test_payload_limit_is_configurable_and_counts_bytes():
    import json

    payload = json.dumps(VALID).encode()
    assert PARSER.parse(payload, max_payload_bytes=len(payload)).error_code is None
    assert PARSER.parse(payload, max_payload_bytes=len(payload) - 1).error_code == records.PAYLOAD_TOO_LARGE
