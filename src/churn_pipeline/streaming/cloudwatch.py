"""Per-batch CloudWatch metrics of the streaming job (names: churn_pipeline.contract.metrics).

The monitoring module alarms on DeadLetterRecords growth; this is what publishes it, after every committed
micro-batch, on Glue and locally alike (moto's CloudWatch through AWS_ENDPOINT_URL). Kept compatible with
Python 3.10 and Spark 3.5 (Glue runs this module). A put that fails is logged as an error and counted
(`failures`); it never stops the stream, whose batch is committed.
"""

from __future__ import annotations

import logging

from churn_pipeline.contract import metrics
from churn_pipeline.streaming.handler import BatchStats

log = logging.getLogger(__name__)

NAMESPACE = metrics.NAMESPACE


class CloudWatchBatchMetrics:
    """on_batch callback of BatchHandler: RecordsIn, ScoredRecords, DeadLetterRecords, BatchLatencySeconds, and
    MaxFeaturePSI where the batch's drift was computed from enough rows."""

    def __init__(self, job_name: str, client=None, region: str | None = None):
        self.job_name = job_name
        self.region = region  # the job's region (--aws_region); a Glue worker's environment may name none
        self._client = client
        self.failures = 0  # publish errors, logged; they never stop the stream

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch", region_name=self.region)
        return self._client

    def metric_data(self, stats: BatchStats) -> list[dict]:
        dimensions = [{"Name": metrics.DIMENSION, "Value": self.job_name}]
        counts = {
            metrics.RECORDS_IN: stats.records_in,
            metrics.SCORED_RECORDS: stats.scored,
            metrics.DEAD_LETTER_RECORDS: stats.dead_lettered,
        }
        data = [
            {"MetricName": k, "Dimensions": dimensions, "Value": float(v), "Unit": "Count"}
            for k, v in counts.items()
        ]
        data.append(
            {
                "MetricName": metrics.BATCH_LATENCY_SECONDS,
                "Dimensions": dimensions,
                "Value": stats.batch_seconds,
                "Unit": "Seconds",
            }
        )
        if stats.max_psi is not None:  # drift computed from enough rows (drift.MIN_ROWS): the drift alarm's
            data.append(
                {
                    "MetricName": metrics.MAX_PSI,
                    "Dimensions": dimensions,
                    "Value": stats.max_psi,
                    "Unit": "None",
                }
            )
        return data

    def __call__(self, stats: BatchStats) -> None:
        if stats.skipped:
            return  # an already-committed batch replayed after a restart: counted the first time
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_metric_data(Namespace=NAMESPACE, MetricData=self.metric_data(stats))
        except (BotoCoreError, ClientError) as exc:
            # Observability must not stop scoring: the batch is committed; say so loudly and go on.
            self.failures += 1
            log.error("batch %s: could not publish CloudWatch metrics (%d failure(s) so far): %s",
                      stats.batch_id, self.failures, exc)  # fmt: skip
