-- The 20 most recent streaming scores of the last 7 days (UTC arrival), newest Kinesis arrival first.
-- The WHERE clause is a partition predicate, so Athena prunes the projected partitions to those days
-- (churn_tools.analytics.LAST_7_DAYS says how).
SELECT record_id,
       ${id_select}churn_probability,
       churn_prediction,
       model_version,
       kinesis_arrival_time,
       scored_at
FROM "$${database}"."$${stream_table}"
WHERE $${last_7_days}
ORDER BY kinesis_arrival_time DESC, record_id
LIMIT 20
