-- The 20 most recent streaming scores of the last 7 days (UTC arrival), newest Kinesis arrival first.
-- The range on the arrival time prunes the table's hidden hour partitions to those days
-- (churn_tools.analytics.SINCE_7_DAYS_AGO says how).
SELECT record_id,
       ${id_select}churn_probability,
       churn_prediction,
       model_version,
       kinesis_arrival_time,
       scored_at
FROM "$${database}"."$${stream_table}"
WHERE kinesis_arrival_time >= $${since_7_days_ago}
ORDER BY kinesis_arrival_time DESC, record_id
LIMIT 20
