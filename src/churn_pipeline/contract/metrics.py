"""The CloudWatch metrics the jobs publish (the streaming job after every committed micro-batch, each job its
drift), which the monitoring module's alarms and dashboard read, and the job role's PutMetricData condition
names."""

from __future__ import annotations

NAMESPACE = "ChurnPipeline"
DIMENSION = "JobName"  # the Glue job's name
RECORDS_IN = "RecordsIn"
SCORED_RECORDS = "ScoredRecords"
DEAD_LETTER_RECORDS = "DeadLetterRecords"  # the dead-letter alarm's metric
BATCH_LATENCY_SECONDS = "BatchLatencySeconds"
METRICS = (RECORDS_IN, SCORED_RECORDS, DEAD_LETTER_RECORDS, BATCH_LATENCY_SECONDS)
# Drift (churn_pipeline.drift): the largest PSI of a run's inputs and scores against the model's training
# baseline, published by each job (dimension JOB_NAME); the monitoring module alarms from the threshold on.
MAX_PSI = "MaxFeaturePSI"
DRIFT_ALARM_THRESHOLD = 0.2
# Model quality (churn_pipeline.quality): the AUC of each model version's latest week of scoring that has
# outcomes of both kinds, published by the quality job after each run with the dimensions JobName (the quality
# Glue job's name) and ModelVersion (the version the scorers write beside each score). The monitoring alarm
# fires below the deployed model's test AUC minus settings.AUC_MARGIN (settings.auc_alarm_threshold).
MODEL_AUC = "ModelAUC"
MODEL_VERSION_DIMENSION = "ModelVersion"
