"""The streaming job's per-batch CloudWatch metrics, which the dead-letter alarm watches (moto server)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import boto3
from botocore.config import Config

from churn_pipeline.streaming.cloudwatch import NAMESPACE, CloudWatchBatchMetrics
from churn_pipeline.streaming.handler import BatchStats
from churn_tools.local import services as local_services


def _sums(job_name: str) -> dict[str, float]:
    cloudwatch = boto3.client("cloudwatch")
    now = datetime.now(UTC)
    sums = {}
    for metric in ("RecordsIn", "ScoredRecords", "DeadLetterRecords"):
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": "JobName", "Value": job_name}],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )["Datapoints"]
        sums[metric] = sum(p["Sum"] for p in points)
    return sums


def test_each_committed_batch_publishes_its_counts_once(moto_server):
    publish = CloudWatchBatchMetrics("metrics-test-job")
    publish(BatchStats(0, records_in=10, scored=7, dead_lettered=3, batch_seconds=1.5))
    publish(BatchStats(1, records_in=5, scored=5, dead_lettered=0, batch_seconds=0.5))
    # A batch already committed before a restart is replayed as skipped: not counted twice.
    publish(BatchStats(1, records_in=0, skipped=True))
    assert _sums("metrics-test-job") == {"RecordsIn": 15.0, "ScoredRecords": 12.0, "DeadLetterRecords": 3.0}
    assert publish.failures == 0


def test_a_publish_failure_is_logged_and_does_not_stop_the_stream(caplog):
    unreachable = boto3.client(
        "cloudwatch",
        endpoint_url=f"http://{local_services.LOOPBACK}:{local_services.free_port()}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    publish = CloudWatchBatchMetrics("metrics-test-job", client=unreachable)
    with caplog.at_level(logging.ERROR, logger="churn_pipeline.streaming.cloudwatch"):
        publish(BatchStats(4, records_in=1, scored=1))
    assert publish.failures == 1
    assert "batch 4: could not publish CloudWatch metrics" in caplog.text
