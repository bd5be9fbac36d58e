"""The jobs' client of a SageMaker real-time endpoint: payloads sent in parallel, own retries with jittered
backoff on top of botocore's, and an answer per row (probabilities, or the reason the endpoint failed them)."""

from __future__ import annotations

import functools
import random
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.scoring.endpoint_protocol import CONTENT_TYPE, format_csv, parse_predictions

RETRYABLE_ERROR_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "ServiceUnavailable", "InternalFailure"}
)


def invoke_with_retries(client, config: ScoringConfig, body: bytes) -> tuple[np.ndarray | None, str | None]:
    """(probabilities, None) or (None, reason) once own backoff is exhausted; never raises for endpoint errors."""
    from botocore.exceptions import BotoCoreError, ClientError

    n_rows = body.count(b"\n")
    last_error = "not attempted"
    for attempt in range(1, config.max_attempts + 1):
        try:
            response = client.invoke_endpoint(
                EndpointName=config.endpoint_name, ContentType=CONTENT_TYPE, Accept=CONTENT_TYPE, Body=body
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
def worker_pool(size: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="invoke-endpoint")


def probe(endpoint_name: str, region: str | None, n_features: int) -> None:
    """Send one all-zero row to the endpoint, once, with a fresh client; raises botocore's error if it does not
    answer. A job's start-up check: the scorers' cached client may point at an endpoint URL this process no
    longer uses, and a start-up check must fail fast rather than retry."""
    import boto3
    from botocore.config import Config

    runtime = boto3.client(
        "sagemaker-runtime",
        region_name=region,
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )
    body = format_csv(np.zeros((1, n_features), dtype=np.float32))
    runtime.invoke_endpoint(
        EndpointName=endpoint_name, ContentType=CONTENT_TYPE, Accept=CONTENT_TYPE, Body=body
    )["Body"].read()
