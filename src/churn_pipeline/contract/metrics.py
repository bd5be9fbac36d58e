"""The CloudWatch metrics the streaming job publishes after every committed micro-batch, which the monitoring
module's alarm and dashboard read, and the job role's PutMetricData condition names."""

from __future__ import annotations

NAMESPACE = "ChurnPipeline"
DIMENSION = "JobName"  # the Glue job's name
RECORDS_IN = "RecordsIn"
SCORED_RECORDS = "ScoredRecords"
DEAD_LETTER_RECORDS = "DeadLetterRecords"  # the dead-letter alarm's metric
BATCH_LATENCY_SECONDS = "BatchLatencySeconds"
METRICS = (RECORDS_IN, SCORED_RECORDS, DEAD_LETTER_RECORDS, BATCH_LATENCY_SECONDS)
