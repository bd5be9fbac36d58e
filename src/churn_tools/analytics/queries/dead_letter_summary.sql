-- Dead-lettered streaming records of the last 7 days (UTC arrival) per error code, with first and last arrival.
-- Reads only the partitions of those days (churn_tools.analytics.LAST_7_DAYS).
SELECT error_code,
       count(*) AS records,
       min(kinesis_arrival_time) AS first_seen,
       max(kinesis_arrival_time) AS last_seen
FROM "${database}"."${dead_letter_table}"
WHERE ${last_7_days}
GROUP BY error_code
ORDER BY records DESC, error_code
