"""ScoringConfig, and the one reading of the scoring arguments a Glue job is deployed with.

Both Glue entry scripts (batch and streaming) build their scoring configuration with `from_glue_args`, so
both accept exactly the same values, which are the ones Terraform's validations accept (contract.settings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyspark import StorageLevel

from churn_pipeline.contract import settings
from churn_pipeline.scoring.endpoint_protocol import MAX_BODY_BYTES as INVOKE_ENDPOINT_LIMIT_BYTES

# InvokeEndpoint rejects bodies over 6 MiB; stay well below so a payload never fails on size alone.
DEFAULT_PAYLOAD_BYTES = 5 * 1024 * 1024
BATCH_STORAGE_LEVEL = "DISK_ONLY"  # see ScoringConfig.storage_level
# The scoring arguments of both Glue jobs (the paths and the rest are each job's own).
GLUE_ARGUMENTS = ("model_uri", settings.SCORING_MODE.argument, "endpoint_name", "threshold", "aws_region")
# endpoint_name when no endpoint is used (an empty value cannot be passed to every Glue client).
NO_ENDPOINT = ("", "none")


@dataclass(frozen=True)
class ScoringConfig:
    mode: str  # "embedded" | "endpoint"
    model_uri: str  # local dir or s3:// prefix holding model.tar.gz + feature_spec.json
    endpoint_name: str | None = None
    threshold: float = settings.DEFAULT_THRESHOLD
    # Region of the AWS clients the scorer makes (S3 model download, sagemaker-runtime). None: boto3's own
    # resolution (AWS_REGION / AWS_DEFAULT_REGION / profile), which a Glue worker does not guarantee.
    region: str | None = None
    # Endpoint tuning. A payload is at most `payload_bytes` and `max_rows_per_request` rows.
    payload_bytes: int = DEFAULT_PAYLOAD_BYTES
    max_rows_per_request: int = 2000
    concurrency: int = 4  # requests in flight per Python worker (i.e. per running partition)
    max_attempts: int = (
        6  # own attempts per payload, each of which botocore may retry `botocore_attempts` times
    )
    botocore_attempts: int = 3
    backoff_base_seconds: float = 0.2
    backoff_cap_seconds: float = 10.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 60.0
    # A pyspark StorageLevel name, for the frame the outcomes split from. DISK_ONLY by default: as fast as
    # MEMORY_AND_DISK here (local disk, page cache) and bounded; with MEMORY_AND_DISK a 16M-row batch ran out
    # of a 1-2 GB heap, the in-memory cache overfilling its share. Small, bounded micro-batches may use memory.
    storage_level: str = BATCH_STORAGE_LEVEL
    # Rows per Arrow batch handed to a Python worker (spark.sql.execution.arrow.maxRecordsPerBatch, set on
    # the session by `score`; None leaves the session's value). Spark's default of 10,000 spends ~30% of the
    # worker's time on per-batch overhead (pandas frames, one predict call); 50,000 rows of 17 columns is ~7 MB.
    arrow_batch_rows: int | None = 50_000

    def __post_init__(self) -> None:
        if self.mode not in settings.SCORING_MODES:
            raise ValueError(f"mode must be one of {settings.SCORING_MODES}, got {self.mode!r}")
        if self.mode == settings.ENDPOINT_SCORING_MODE and not self.endpoint_name:
            raise ValueError("mode 'endpoint' needs endpoint_name")
        low, high = settings.THRESHOLD_BOUNDS
        if not low < self.threshold < high:
            raise ValueError(f"threshold must be strictly between {low:g} and {high:g}, got {self.threshold}")
        if not 0 < self.payload_bytes < INVOKE_ENDPOINT_LIMIT_BYTES:
            raise ValueError(
                f"payload_bytes must be positive and below InvokeEndpoint's limit of {INVOKE_ENDPOINT_LIMIT_BYTES}"
            )
        if not isinstance(getattr(StorageLevel, self.storage_level, None), StorageLevel):
            raise ValueError(f"storage_level must name a pyspark StorageLevel, got {self.storage_level!r}")
        if self.arrow_batch_rows is not None and self.arrow_batch_rows < 1:
            raise ValueError(f"arrow_batch_rows must be at least 1 (or None), got {self.arrow_batch_rows}")
        if self.max_rows_per_request < 1 or self.concurrency < 1 or self.max_attempts < 1:
            raise ValueError("max_rows_per_request, concurrency and max_attempts must be at least 1")


def from_glue_args(args: Mapping[str, str], **tuning) -> ScoringConfig:
    """The scoring configuration of a Glue job from its resolved arguments (all strings, as Terraform wrote
    them); raises contract.settings.SettingError / ValueError naming the argument that is wrong."""
    mode = settings.check_scoring_mode(args[settings.SCORING_MODE.argument])
    endpoint_name = args["endpoint_name"]
    return ScoringConfig(
        mode=mode,
        model_uri=args["model_uri"],
        endpoint_name=None if endpoint_name.lower() in NO_ENDPOINT else endpoint_name,
        threshold=settings.check_threshold(args["threshold"]),
        region=settings.check_aws_region(args["aws_region"]),
        **tuning,
    )
