-- The 20 most recent streaming scores, newest Kinesis arrival first.
SELECT record_id,
       state,
       churn_probability,
       churn_prediction,
       model_version,
       kinesis_arrival_time,
       scored_at
FROM "${database}"."${stream_table}"
ORDER BY kinesis_arrival_time DESC, record_id
LIMIT 20
