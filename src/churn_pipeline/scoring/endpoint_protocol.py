"""The SageMaker runtime wire format of the churn model, one module for its client and its server.

The built-in XGBoost container's `text/csv` contract: one encoded row per line, no header, no label, in; one
probability per line out (https://docs.aws.amazon.com/sagemaker/latest/dg/xgboost.html, "Inference"). The
jobs' endpoint client (`churn_pipeline.scoring.endpoint_client`) writes bodies and reads answers with it; the
local model server (`churn_tools.local.endpoint_server`) reads bodies and writes answers with it.
"""

from __future__ import annotations

import io

import numpy as np

CONTENT_TYPE = "text/csv"
# InvokeEndpoint's payload limit (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html).
MAX_BODY_BYTES = 6 * 1024 * 1024


# --- client side: request bodies out, answers in ---------------------------------------------------------


def format_csv(matrix: np.ndarray) -> bytes:
    """`text/csv` lines, no header, no label; float32 values in their shortest exact form (Arrow's writer).
    A missing value (NaN: a blank the dataset description allows) is an empty field, as the built-in XGBoost
    container reads one: its CSV decoder turns '' into 'nan' before building the DMatrix, whose missing value
    is NaN (aws/sagemaker-xgboost-container, src/sagemaker_xgboost_container/encoder.py, `_clean_csv_string`
    and `csv_to_dmatrix`)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    matrix = np.asarray(matrix, dtype=np.float32)
    table = pa.Table.from_arrays(
        # from_pandas: NaN becomes null, which Arrow's writer writes as an empty field
        [pa.array(matrix[:, j], from_pandas=True) for j in range(matrix.shape[1])],
        names=[f"f{j}" for j in range(matrix.shape[1])],
    )
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    return buffer.getvalue()


def split_payloads(matrix: np.ndarray, payload_bytes: int, max_rows: int):
    """Yield (first_row, body, n_rows): consecutive rows packed into bodies of at most `payload_bytes`."""
    if len(matrix) == 0:
        return
    data = format_csv(matrix)
    line_ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")) + 1
    if len(line_ends) != len(matrix):
        raise AssertionError(f"formatted {len(line_ends)} lines for {len(matrix)} rows")
    start = 0
    while start < len(matrix):
        first_byte = int(line_ends[start - 1]) if start else 0
        fits = int(np.searchsorted(line_ends, first_byte + payload_bytes, side="right"))
        stop = min(fits, start + max_rows, len(matrix))
        if stop <= start:
            raise ValueError(f"one encoded row is more than the payload budget of {payload_bytes} bytes")
        yield start, data[first_byte : int(line_ends[stop - 1])], stop - start
        start = stop


def parse_predictions(body: bytes, expected: int) -> np.ndarray:
    """Probabilities from a text/csv answer, newline- or comma-separated; the count must match the rows sent."""
    text = body.decode("utf-8").strip()
    tokens = [t for t in text.replace("\r", "\n").replace(",", "\n").split("\n") if t.strip()] if text else []
    if len(tokens) != expected:
        raise ValueError(f"endpoint returned {len(tokens)} prediction(s) for {expected} row(s)")
    try:
        return np.array([float(t) for t in tokens], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"endpoint returned a non-numeric prediction: {exc}") from exc


# --- server side: request bodies in, answers out ---------------------------------------------------------


class BadRequest(ValueError):
    """The body does not fit the model's input; the message names the problem."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def parse_csv_body(body: bytes, n_features: int, max_bytes: int = MAX_BODY_BYTES) -> np.ndarray:
    """The float32 matrix of a text/csv body, or BadRequest naming the first problem found. An empty field
    is a missing value (NaN), as in the XGBoost container (see `format_csv`); so is a 'nan' text."""
    if len(body) > max_bytes:
        raise BadRequest(f"body is {len(body)} bytes, over the limit of {max_bytes} bytes", status=413)
    if not body.strip():
        raise BadRequest("body is empty: send one CSV row of features per line")
    try:
        return _parse_fast(body, n_features)
    except Exception as exc:  # noqa: BLE001 - Arrow's message is vague; diagnose precisely below
        _diagnose(body, n_features)
        raise BadRequest(f"body is not CSV of {n_features} numeric columns: {exc}") from exc


def _parse_fast(body: bytes, n_features: int) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"f{j}" for j in range(n_features)]
    table = pa_csv.read_csv(
        io.BytesIO(body),
        read_options=pa_csv.ReadOptions(column_names=names),
        parse_options=pa_csv.ParseOptions(newlines_in_values=False),
        # Only an empty field is null (then NaN below); Arrow's float parser reads 'nan' as NaN itself.
        convert_options=pa_csv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.float32()), null_values=[""], strings_can_be_null=False
        ),
    )
    return np.column_stack([column.to_numpy(zero_copy_only=False) for column in table.columns]).astype(
        np.float32
    )


def _diagnose(body: bytes, n_features: int) -> None:
    """Raise BadRequest for the first wrong row: header, column count, non-numeric cell."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        cells = line.split(",")
        bad = [(j, c) for j, c in enumerate(cells, start=1) if c.strip() and not _is_number(c)]
        if number == 1 and bad and len(bad) >= len(cells) / 2:
            raise BadRequest(f"row 1 looks like a header ({line[:80]!r}): send rows without a header")
        if len(cells) != n_features:
            raise BadRequest(f"row {number} has {len(cells)} columns, the model expects {n_features}")
        if bad:
            column, cell = bad[0]
            raise BadRequest(f"row {number}, column {column}: {cell.strip()[:40]!r} is not a number")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def format_predictions(probabilities: np.ndarray) -> bytes:
    """One probability per line; float32 values printed exactly (Python floats round-trip)."""
    return ("\n".join(repr(v) for v in probabilities.astype(np.float64).tolist()) + "\n").encode()
