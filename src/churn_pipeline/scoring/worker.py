"""What runs in a Spark Python worker, on one Arrow batch: validate and encode the rows with the shared
`encode`, then score them in-process (mode "embedded") or through the endpoint client (mode "endpoint").

No Spark here: the functions take and return Arrow arrays / pandas frames, so the bench can time them alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from churn_pipeline.contract import codes
from churn_pipeline.contract.features import FeatureSpec, encode
from churn_pipeline.model import ModelDir, cached_scorer
from churn_pipeline.scoring import endpoint_client
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.scoring.endpoint_protocol import split_payloads

# Outcome of a row, a field of the UDF's result; the three datasets are split on it.
SCORED = "scored"
REJECTED = "rejected"
FAILED = "failed"
ENDPOINT_FAILED = codes.ENDPOINT_FAILED
# The UDF's result fields, in order.
RESULT_FIELDS = ("probability", "outcome", "error_code", "error_reason")
# Input columns after the model's: the code and reason of an earlier check (a CSV or JSON parser).
PRIOR_CODE = "_prior_error_code"
PRIOR_REASON = "_prior_error_reason"


# Called with each batch's scored rows (model inputs by the model's names) and their probabilities: where the
# drift counts are taken, on rows already in numpy (see churn_pipeline.scoring.spark).
OnScored = Callable[[pd.DataFrame, np.ndarray], None]


def arrow_batch_scorer(
    config: ScoringConfig,
    spec: FeatureSpec,
    with_prior_error: bool = False,
    on_scored: OnScored | None = None,
):
    """The function the UDF applies to each Arrow batch in a Python worker: pyarrow arrays, one per input
    column (then the prior error's code and reason), in -> the result StructArray out. Public so that the
    bench can time it on its own, without Spark's transfer of the rows."""
    score_frame, columns = _frame_scorer(config, spec, with_prior_error, on_scored)

    def score_arrow(*arrays):  # pyarrow.Array per column -> pyarrow.StructArray: no Python object per value
        return score_frame(_features_frame(arrays, columns)).to_arrow()

    return score_arrow


def pandas_batch_scorer(
    config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool, on_scored: OnScored | None = None
):
    score_frame, columns = _frame_scorer(config, spec, with_prior_error, on_scored)

    def score_pandas(*series: pd.Series) -> pd.DataFrame:
        features = pd.concat([s.reset_index(drop=True) for s in series], axis=1, keys=columns)
        return score_frame(features).to_frame()

    return score_pandas


def _frame_scorer(
    config: ScoringConfig, spec: FeatureSpec, with_prior_error: bool, on_scored: OnScored | None = None
):
    columns = list(spec.input_columns) + ([PRIOR_CODE, PRIOR_REASON] if with_prior_error else [])
    score_rows = score_embedded if config.mode == "embedded" else score_with_endpoint

    def score_frame(features: pd.DataFrame) -> BatchResult:
        result = BatchResult.rejected(len(features))
        todo = np.arange(len(features))
        if with_prior_error:
            prior = features[PRIOR_CODE].notna().to_numpy()
            result.code[prior] = features[PRIOR_CODE].to_numpy()[prior]
            result.reason[prior] = features[PRIOR_REASON].to_numpy()[prior]
            todo = np.flatnonzero(~prior)
            features = features.iloc[todo, : len(spec.input_columns)].reset_index(drop=True)
        if len(todo):
            score_rows(features, config, result, todo)
            if on_scored is not None:
                scored = result.outcome[todo] == SCORED
                on_scored(features[scored], result.probability[todo][scored])
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
            names=list(RESULT_FIELDS),
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
    scorer = cached_scorer(str(ModelDir.fetch(config.model_uri, config.region).path))
    encoded, valid = _encode_rows(features, scorer.spec, result, rows)
    result.probability[valid] = scorer.predict_matrix(encoded.matrix)
    result.outcome[valid] = SCORED


def score_with_endpoint(
    features: pd.DataFrame, config: ScoringConfig, result: BatchResult, rows: np.ndarray
) -> None:
    spec = cached_scorer(str(ModelDir.fetch(config.model_uri, config.region).path)).spec
    encoded, valid = _encode_rows(features, spec, result, rows)
    if len(valid) == 0:
        return
    client = endpoint_client.runtime_client(
        config.concurrency,
        config.botocore_attempts,
        config.connect_timeout_seconds,
        config.read_timeout_seconds,
        config.region,
    )
    chunks = list(split_payloads(encoded.matrix, config.payload_bytes, config.max_rows_per_request))
    pool = endpoint_client.worker_pool(config.concurrency)
    outcomes = list(
        pool.map(lambda chunk: endpoint_client.invoke_with_retries(client, config, chunk[1]), chunks)
    )
    for (start, _body, n_rows), (probabilities, error) in zip(chunks, outcomes, strict=True):
        chunk_rows = valid[start : start + n_rows]
        if error is None:
            result.probability[chunk_rows] = probabilities
            result.outcome[chunk_rows] = SCORED
        else:
            result.outcome[chunk_rows] = FAILED
            result.code[chunk_rows] = ENDPOINT_FAILED
            result.reason[chunk_rows] = error
