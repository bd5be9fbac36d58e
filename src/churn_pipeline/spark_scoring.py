"""THE Spark scorer shared by the batch job and the streaming job: one DataFrame in, scored / rejected / failed out.

Rows cross into Python (Arrow, scalar pandas UDF) carrying only the columns the model needs; every other
column stays in the JVM and is re-joined to its row by Spark itself, so pass-through columns (record ids,
kinesis_* metadata, the raw CSV line) survive untouched. Inside the Python worker the shared
`features.encode` validates and encodes the rows, so a reject means the same thing in every job. Then
either the model scores them in-process (mode "embedded", loaded once per Python worker) or the rows go
as `text/csv` payloads to a SageMaker endpoint (mode "endpoint").

The UDF is marked non-deterministic and its result is persisted before the three outcomes are split off,
so Spark never evaluates it twice for a row: the endpoint is called once per row, the model run once.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import random
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from churn_pipeline.contract import codes, outputs
from churn_pipeline.features import SPEC_FILENAME, FeatureSpec, encode, resolve_columns
from churn_pipeline.model import ARCHIVE_FILENAME, cached_scorer, model_version, read_model_bytes
from churn_pipeline.scoring.config import ScoringConfig

log = logging.getLogger(__name__)

ARROW_BATCH_ROWS_CONF = "spark.sql.execution.arrow.maxRecordsPerBatch"

# Outcome of a row, a field of the UDF's result; the three datasets are split on it.
SCORED = "scored"
REJECTED = "rejected"
FAILED = "failed"
ENDPOINT_FAILED = codes.ENDPOINT_FAILED

PROBABILITY = outputs.PROBABILITY
PREDICTION = outputs.PREDICTION
VERSION = outputs.MODEL_VERSION
SCORED_AT = outputs.SCORED_AT
ERROR_CODE = outputs.ERROR_CODE
ERROR_REASON = outputs.ERROR_REASON

_RESULT = "_churn_scoring"
_PRIOR_CODE = "_prior_error_code"
_PRIOR_REASON = "_prior_error_reason"
RESULT_TYPE = T.StructType(
    [
        T.StructField("probability", T.DoubleType()),
        T.StructField("outcome", T.StringType()),
        T.StructField("error_code", T.StringType()),
        T.StructField("error_reason", T.StringType()),
    ]
)
RETRYABLE_ERROR_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceUnavailable", "InternalFailure"}
)


@dataclass
class ScoringResult:
    scored: DataFrame  # input columns + churn_probability, churn_prediction, model_version, scored_at
    rejected: DataFrame  # input columns + error_code + error_reason (the feature contract said no)
    failed: DataFrame  # input columns + error_reason (the endpoint could not score them after retries)
    tagged: DataFrame  # the persisted frame the three are split from; `release()` frees it
    model_version: str

    def counts(self) -> dict[str, int]:
        """Rows per outcome, in one pass over the persisted frame."""
        found: dict[str, int] = {outcome: 0 for outcome in (SCORED, REJECTED, FAILED)}
        for (outcome, _code), count in self.counts_by_code().items():
            found[outcome] += count
        return found

    def counts_by_code(self) -> dict[tuple[str, str | None], int]:
        """Rows per (outcome, error code), in one pass over the persisted frame."""
        grouped = self.tagged.groupBy(
            outcome_column().alias("outcome"), F.col(f"{_RESULT}.error_code").alias("code")
        ).count()
        return {(row["outcome"], row["code"]): int(row["count"]) for row in grouped.collect()}

    def release(self) -> None:
        self.tagged.unpersist()


def score(
    df: DataFrame,
    config: ScoringConfig,
    prior_error: tuple[str, str] | None = None,
    keep_for_unscored: Sequence[str] = (),
) -> ScoringResult:
    """Score every row of `df`; each row ends in exactly one of scored / rejected / failed.

    `prior_error` names a (code, reason) pair of columns set by an earlier check (a CSV or JSON parser):
    rows with a code are rejected with it, unscored, in the same single pass. Columns in `keep_for_unscored`
    (e.g. a raw input line) are kept for rejected and failed rows only, so they do not weigh on the cache.
    Raises ContractError (before any work) when a column the model needs is absent.
    """
    local_dir = local_model_dir(config.model_uri, config.region)
    spec = FeatureSpec.load(Path(local_dir) / SPEC_FILENAME)
    version = model_version(read_model_bytes(local_dir), spec)
    needed = resolve_columns(df.columns, spec.input_columns)  # model column -> input column

    inputs = [F.col(_quote(needed[name])).alias(name) for name in spec.input_columns]
    if prior_error:
        inputs += [
            F.col(_quote(prior_error[0])).alias(_PRIOR_CODE),
            F.col(_quote(prior_error[1])).alias(_PRIOR_REASON),
        ]
    udf = _scoring_udf(config, spec, with_prior_error=bool(prior_error))
    if config.arrow_batch_rows is not None:
        df.sparkSession.conf.set(ARROW_BATCH_ROWS_CONF, str(config.arrow_batch_rows))
    outcome = outcome_column()
    # One argument per column, not one struct: the JVM then builds no nested row per input row.
    tagged = df.withColumn(_RESULT, udf(*inputs))
    for name in keep_for_unscored:
        tagged = tagged.withColumn(name, F.when(outcome != SCORED, F.col(_quote(name))))
    tagged = tagged.persist(getattr(StorageLevel, config.storage_level))

    internal = set(prior_error or ())
    input_columns = [F.col(_quote(c)) for c in df.columns if c not in internal]
    passed_through = [
        F.col(_quote(c)) for c in df.columns if c not in internal and c not in set(keep_for_unscored)
    ]
    probability = F.col(f"{_RESULT}.probability")
    scored = tagged.where(outcome == SCORED).select(
        *passed_through,
        probability.alias(PROBABILITY),
        (probability >= F.lit(config.threshold)).cast("int").alias(PREDICTION),
        F.lit(version).alias(VERSION),
        F.current_timestamp().alias(SCORED_AT),
    )
    rejected = tagged.where(outcome == REJECTED).select(
        *input_columns,
        F.col(f"{_RESULT}.error_code").alias(ERROR_CODE),
        F.col(f"{_RESULT}.error_reason").alias(ERROR_REASON),
    )
    failed = tagged.where(outcome == FAILED).select(
        *input_columns, F.col(f"{_RESULT}.error_reason").alias(ERROR_REASON)
    )
    return ScoringResult(
        scored=scored, rejected=rejected, failed=failed, tagged=tagged, model_version=version
    )


def _quote(name: str) -> str:
    """Column reference for any header name (spaces, apostrophes, dots, question marks)."""
    return "`" + name.replace("`", "``") + "`"


def _scoring_udf(config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool):
    # Arrow UDFs arrived in Spark 4.1 (Glue 6.0); a job on an older Glue (Spark 3.5) uses the pandas UDF.
    if hasattr(F, "arrow_udf"):
        return F.arrow_udf(
            arrow_batch_scorer(config, spec, with_prior_error), RESULT_TYPE
        ).asNondeterministic()
    return F.pandas_udf(
        _pandas_batch_scorer(config, spec, with_prior_error), RESULT_TYPE
    ).asNondeterministic()


def arrow_batch_scorer(config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool = False):
    """The function the UDF applies to each Arrow batch in a Python worker: pyarrow arrays, one per input
    column (then the prior error's code and reason), in -> the result StructArray out. Public so that the
    bench can time it on its own, without Spark's transfer of the rows."""
    score_frame, columns = _frame_scorer(config, spec, with_prior_error)

    def score_arrow(*arrays):  # pyarrow.Array per column -> pyarrow.StructArray: no Python object per value
        return score_frame(_features_frame(arrays, columns)).to_arrow()

    return score_arrow


def _pandas_batch_scorer(config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool):
    score_frame, columns = _frame_scorer(config, spec, with_prior_error)

    def score_pandas(*series: pd.Series) -> pd.DataFrame:
        features = pd.concat([s.reset_index(drop=True) for s in series], axis=1, keys=columns)
        return score_frame(features).to_frame()

    return score_pandas


def _frame_scorer(config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool):
    columns = list(spec.input_columns) + ([_PRIOR_CODE, _PRIOR_REASON] if with_prior_error else [])
    score_rows = score_embedded if config.mode == "embedded" else score_with_endpoint

    def score_frame(features: pd.DataFrame) -> BatchResult:
        result = BatchResult.rejected(len(features))
        todo = np.arange(len(features))
        if with_prior_error:
            prior = features[_PRIOR_CODE].notna().to_numpy()
            result.code[prior] = features[_PRIOR_CODE].to_numpy()[prior]
            result.reason[prior] = features[_PRIOR_REASON].to_numpy()[prior]
            todo = np.flatnonzero(~prior)
            features = features.iloc[todo, : len(spec.input_columns)].reset_index(drop=True)
        if len(todo):
            score_rows(features, config, result, todo)
        return result

    return score_frame, columns


def _features_frame(arrays, columns: list[str]) -> pd.DataFrame:
    """Arrow columns -> pandas, text columns as categories (decoded once per distinct value, not per row)."""
    import pyarrow as pa

    fields = [
        array.dictionary_encode()
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type)
        else array
        for array in arrays
    ]
    return pa.Table.from_arrays(fields, names=columns).to_pandas()


# --- inside the Python workers -------------------------------------------------------------------------


@dataclass
class BatchResult:
    """The UDF's answer for one Arrow batch, as column arrays (filled in place, turned into a frame once)."""

    probability: np.ndarray
    outcome: np.ndarray
    code: np.ndarray
    reason: np.ndarray

    @classmethod
    def rejected(cls, n_rows: int) -> BatchResult:
        return cls(
            probability=np.full(n_rows, np.nan),
            outcome=np.full(n_rows, REJECTED, dtype=object),
            code=np.full(n_rows, None, dtype=object),
            reason=np.full(n_rows, None, dtype=object),
        )

    def to_arrow(self):
        import pyarrow as pa

        outcomes = pd.Categorical(self.outcome, categories=[SCORED, REJECTED, FAILED])
        outcome = pa.DictionaryArray.from_arrays(
            pa.array(outcomes.codes, type=pa.int8()), pa.array(list(outcomes.categories))
        ).cast(pa.string())
        return pa.StructArray.from_arrays(
            [
                pa.array(self.probability, type=pa.float64(), from_pandas=True),
                outcome,
                pa.array(self.code, type=pa.string()),
                pa.array(self.reason, type=pa.string()),
            ],
            names=["probability", "outcome", "error_code", "error_reason"],
        )

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "probability": self.probability,
                "outcome": self.outcome,
                "error_code": self.code,
                "error_reason": self.reason,
            },
            copy=False,
        )


def _encode_rows(features: pd.DataFrame, spec: FeatureSpec, result: BatchResult, rows: np.ndarray):
    """Encode `features` (the batch's rows `rows`); note rejects; returns the encoded batch and its valid rows."""
    encoded = encode(features, spec)
    rejected = rows[~encoded.valid]
    result.code[rejected] = encoded.reject_code.to_numpy()
    result.reason[rejected] = encoded.reject_reason.to_numpy()
    return encoded, rows[encoded.valid]


def score_embedded(
    features: pd.DataFrame, config: ScoringConfig, result: BatchResult, rows: np.ndarray
) -> None:
    scorer = cached_scorer(local_model_dir(config.model_uri, config.region))
    encoded, valid = _encode_rows(features, scorer.spec, result, rows)
    result.probability[valid] = scorer.predict_matrix(encoded.matrix)
    result.outcome[valid] = SCORED


def score_with_endpoint(
    features: pd.DataFrame, config: ScoringConfig, result: BatchResult, rows: np.ndarray
) -> None:
    spec = cached_spec(local_model_dir(config.model_uri, config.region))
    encoded, valid = _encode_rows(features, spec, result, rows)
    if len(valid) == 0:
        return
    client = runtime_client(
        config.concurrency,
        config.botocore_attempts,
        config.connect_timeout_seconds,
        config.read_timeout_seconds,
        config.region,
    )
    chunks = list(split_payloads(encoded.matrix, config.payload_bytes, config.max_rows_per_request))
    pool = _worker_pool(config.concurrency)
    outcomes = list(pool.map(lambda chunk: _invoke_with_retries(client, config, chunk[1]), chunks))
    for (start, _body, n_rows), (probabilities, error) in zip(chunks, outcomes, strict=True):
        chunk_rows = valid[start : start + n_rows]
        if error is None:
            result.probability[chunk_rows] = probabilities
            result.outcome[chunk_rows] = SCORED
        else:
            result.outcome[chunk_rows] = FAILED
            result.code[chunk_rows] = ENDPOINT_FAILED
            result.reason[chunk_rows] = error


def format_csv(matrix: np.ndarray) -> bytes:
    """`text/csv` lines, no header, no label; float32 values in their shortest exact form (Arrow's writer)."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    matrix = np.asarray(matrix, dtype=np.float32)
    table = pa.Table.from_arrays(
        [pa.array(matrix[:, j]) for j in range(matrix.shape[1])],
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


def _invoke_with_retries(client, config: ScoringConfig, body: bytes) -> tuple[np.ndarray | None, str | None]:
    """(probabilities, None) or (None, reason) once own backoff is exhausted; never raises for endpoint errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    n_rows = body.count(b"\n")
    last_error = "not attempted"
    for attempt in range(1, config.max_attempts + 1):
        try:
            response = client.invoke_endpoint(
                EndpointName=config.endpoint_name, ContentType="text/csv", Accept="text/csv", Body=body
            )
            return parse_predictions(response["Body"].read(), n_rows), None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            last_error = f"{error.get('Code', 'error')} (HTTP {status}): {error.get('Message', exc)}"
            if not (error.get("Code") in RETRYABLE_ERROR_CODES or status == 429 or status >= 500):
                break  # a client error (bad payload, unknown endpoint): retrying cannot help
        except BotoCoreError as exc:  # connection refused or reset, timeouts: the endpoint may come back
            last_error = f"{type(exc).__name__}: {exc}"
        except (
            ValueError
        ) as exc:  # wrong prediction count or garbage: the answer cannot be attributed to rows
            last_error = str(exc)
        if attempt < config.max_attempts:
            delay = min(config.backoff_cap_seconds, config.backoff_base_seconds * 2 ** (attempt - 1))
            time.sleep(random.uniform(0, delay))  # full jitter: retries of many workers spread out
    return (
        None,
        f"endpoint {config.endpoint_name!r} failed after {config.max_attempts} attempt(s): {last_error}",
    )


# --- per-process caches (one per Python worker) --------------------------------------------------------


@functools.lru_cache(maxsize=4)
def runtime_client(
    pool_size: int,
    botocore_attempts: int,
    connect_timeout: float,
    read_timeout: float,
    region: str | None = None,
):
    """One sagemaker-runtime client per worker; boto3 honours AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME itself.
    The region is the job's (--aws_region): a Glue worker's environment does not promise one."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "sagemaker-runtime",
        region_name=region,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": botocore_attempts},
            max_pool_connections=pool_size,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        ),
    )


@functools.lru_cache(maxsize=4)
def _worker_pool(size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="invoke-endpoint")


@functools.lru_cache(maxsize=4)
def cached_spec(model_dir: str) -> FeatureSpec:
    return FeatureSpec.load(Path(model_dir) / SPEC_FILENAME)


_download_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def local_model_dir(model_uri: str, region: str | None = None) -> str:
    """A local directory with model.tar.gz + feature_spec.json; an s3:// prefix is downloaded once per process."""
    if not model_uri.startswith("s3://"):
        path = Path(model_uri)
        if not (path / SPEC_FILENAME).exists():
            raise FileNotFoundError(f"model directory {path} has no {SPEC_FILENAME}")
        return str(path)
    import boto3

    bucket, _, prefix = model_uri[len("s3://") :].partition("/")
    prefix = prefix.strip("/")
    with _download_lock:
        target = Path(tempfile.mkdtemp(prefix="churn-model-"))
        s3 = boto3.client("s3", region_name=region)
        for name in (ARCHIVE_FILENAME, SPEC_FILENAME):
            key = f"{prefix}/{name}" if prefix else name
            s3.download_file(bucket, key, str(target / name))
    log.info("downloaded %s to %s (pid %d)", model_uri, target, os.getpid())
    return str(target)


def outcome_column() -> Column:
    """The per-row outcome of a tagged frame (for callers that split or count it themselves)."""
    return F.col(f"{_RESULT}.outcome")
