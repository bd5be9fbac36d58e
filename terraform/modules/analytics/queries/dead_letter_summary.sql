-- Dead-lettered streaming records per error code, with the first and last arrival.
SELECT error_code,
       count(*) AS records,
       min(kinesis_arrival_time) AS first_seen,
       max(kinesis_arrival_time) AS last_seen
FROM "${database}"."${dead_letter_table}"
GROUP BY error_code
ORDER BY records DESC, error_code
