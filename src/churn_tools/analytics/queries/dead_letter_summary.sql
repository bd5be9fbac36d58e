-- Dead-lettered streaming records of the last 7 days (UTC arrival) per error code, with first and last arrival.
-- Reads only the data files of those days (churn_tools.analytics.SINCE_7_DAYS_AGO says why).
SELECT error_code,
       count(*) AS records,
       min(kinesis_arrival_time) AS first_seen,
       max(kinesis_arrival_time) AS last_seen
FROM "${database}"."${dead_letter_table}"
WHERE kinesis_arrival_time >= ${since_7_days_ago}
GROUP BY error_code
ORDER BY records DESC, error_code
