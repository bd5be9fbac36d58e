"""Every reject, dead-letter and failure code the jobs write: stable strings tables and alarms group by.

Each code is defined here once; the stage that decides it imports it. `CODES` describes every one (the docs
and Terraform's contract file list them from it).
"""

from __future__ import annotations

# The feature contract (features.encode): a row whose values the model cannot take. Batch and streaming alike.
MISSING_VALUE = "MISSING_VALUE"
NOT_A_NUMBER = "NOT_A_NUMBER"  # also the batch reader's and the JSON parser's code for an unparsable number
OUT_OF_RANGE = "OUT_OF_RANGE"

# The batch CSV reader (batch.reader).
WRONG_FIELD_COUNT = "WRONG_FIELD_COUNT"
# Lines that are not rows: counted in the batch summary, never written to rejects.
HEADER_LINE = "HEADER_LINE"
BLANK_LINE = "BLANK_LINE"

# The streaming JSON parser (streaming.records): the record is dead-lettered whole.
INVALID_UTF8 = "INVALID_UTF8"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
EMPTY_PAYLOAD = "EMPTY_PAYLOAD"
NOT_JSON = "NOT_JSON"
NOT_AN_OBJECT = "NOT_AN_OBJECT"
DUPLICATE_FIELD = "DUPLICATE_FIELD"
MISTYPED_FIELD = "MISTYPED_FIELD"
# Glue's Kinesis connector in its parsed form (classification=json) gave neither a field nor the record's text.
UNPARSED_RECORD = "UNPARSED_RECORD"

# Scoring failed for a valid row (the endpoint did not answer after retries): batch "failed", stream dead letter.
ENDPOINT_FAILED = "ENDPOINT_FAILED"

# The quality job's outcome reader and join (churn_pipeline.quality): an outcome it cannot use is kept with its
# reason in the outcome_rejects dataset, never dropped. A line with the wrong number of fields is
# WRONG_FIELD_COUNT, as in the batch reader; header and blank lines are counted, not written (SKIPPED_LINES).
MISSING_ID = "MISSING_ID"
UNKNOWN_LABEL = "UNKNOWN_LABEL"
INVALID_KNOWN_AT = "INVALID_KNOWN_AT"
FUTURE_KNOWN_AT = "FUTURE_KNOWN_AT"
DUPLICATE_OUTCOME = "DUPLICATE_OUTCOME"
NOT_SCORED = "NOT_SCORED"

CODES: dict[str, str] = {
    MISSING_VALUE: "a numeric field the model needs is missing, null or blank",
    NOT_A_NUMBER: "a numeric field is not a (finite, whole where required) number",
    OUT_OF_RANGE: "a numeric field is below the contract's minimum (usage figures are never negative)",
    WRONG_FIELD_COUNT: "a CSV line has more or fewer fields than the header",
    HEADER_LINE: "a CSV header line (one per file): counted, not written",
    BLANK_LINE: "a blank CSV line: counted, not written",
    INVALID_UTF8: "a Kinesis record is not UTF-8",
    PAYLOAD_TOO_LARGE: "a Kinesis record is larger than the job's payload limit",
    EMPTY_PAYLOAD: "a Kinesis record is empty or white space",
    NOT_JSON: "a Kinesis record is not valid JSON",
    NOT_AN_OBJECT: "a Kinesis record is JSON but not an object",
    DUPLICATE_FIELD: "a Kinesis record gives a field twice",
    MISTYPED_FIELD: "a Kinesis record gives a field as the wrong JSON type",
    UNPARSED_RECORD: "Glue's Kinesis connector parsed a record into no field of the contract and kept no text of it",
    ENDPOINT_FAILED: "the SageMaker endpoint did not score the row after every retry",
    MISSING_ID: "an outcome's id is blank",
    UNKNOWN_LABEL: "an outcome's label is not a value the model's dataset description lists (positive or negative)",
    INVALID_KNOWN_AT: "an outcome's known_at is not an ISO-8601 date or timestamp",
    FUTURE_KNOWN_AT: "an outcome's known_at is after the quality run started",
    DUPLICATE_OUTCOME: "a second outcome for the same id and known_at day (every copy when their labels differ)",
    NOT_SCORED: "no score of the outcome's id at or before its known_at within the horizon (horizon_days)",
}

CONTRACT_REJECTS = (MISSING_VALUE, NOT_A_NUMBER, OUT_OF_RANGE)
SKIPPED_LINES = (HEADER_LINE, BLANK_LINE)
BATCH_REJECTS = (WRONG_FIELD_COUNT, *CONTRACT_REJECTS)
RECORD_DEAD_LETTERS = (
    INVALID_UTF8,
    PAYLOAD_TOO_LARGE,
    EMPTY_PAYLOAD,
    NOT_JSON,
    NOT_AN_OBJECT,
    DUPLICATE_FIELD,
    MISTYPED_FIELD,
    UNPARSED_RECORD,
    *CONTRACT_REJECTS,
    ENDPOINT_FAILED,
)
OUTCOME_REJECTS = (
    WRONG_FIELD_COUNT,
    MISSING_ID,
    UNKNOWN_LABEL,
    INVALID_KNOWN_AT,
    FUTURE_KNOWN_AT,
    DUPLICATE_OUTCOME,
    NOT_SCORED,
)
