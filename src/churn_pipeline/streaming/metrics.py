"""Per-batch CloudWatch metrics of the streaming job (namespace ChurnPipeline, dimension JobName).

The monitoring module alarms on DeadLetterRecords growth; this is what publishes it, after every committed
micro-batch, on Glue and locally alike (moto's CloudWatch through AWS_ENDPOINT_URL). Kept compatible with
Python 3.10 and Spark 3.5 (Glue runs this module).
"""

from __future__ import annotations

import logging

from churn_pipeline.streaming.handler import BatchStats

log = logging.getLogger(__name__)

NAMESPACE = "ChurnPipeline"


class CloudWatchBatchMetrics:
    """on_batch callback of BatchHandler: RecordsIn, ScoredRecords, DeadLetterRecords, BatchLatencySeconds."""

    def __init__(self, job_name: str, client=None):
        self.job_name = job_name
        self._client = client
        self.failures = 0  # publish errors, logged; they never stop the stream

    @property
    def client(self):
        if self._client is None:
            import boto3

            self._client = boto3.client("cloudwatch")
        return self._client

    def metric_data(self, stats: BatchStats) -> list[dict]:
        dimensions = [{"Name": "JobName", "Value": self.job_name}]
        counts = {
            "RecordsIn": stats.records_in,
            "ScoredRecords": stats.scored,
            "DeadLetterRecords": stats.dead_lettered,
        }
        data = [
            {"MetricName": k, "Dimensions": dimensions, "Value": float(v), "Unit": "Count"}
            for k, v in counts.items()
        ]
        data.append(
            {
                "MetricName": "BatchLatencySeconds",
                "Dimensions": dimensions,
                "Value": stats.batch_seconds,
                "Unit": "Seconds",
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
