-- Dead-lettered streaming records of the last 7 days (UTC arrival) per error code, with first and last arrival.
-- Reads only the partitions of those days, as latest_predictions.sql explains.
SELECT error_code,
       count(*) AS records,
       min(kinesis_arrival_time) AS first_seen,
       max(kinesis_arrival_time) AS last_seen
FROM "${database}"."${dead_letter_table}"
WHERE CAST(ingest_year AS varchar) >= CAST(year(current_date - INTERVAL '7' DAY) AS varchar)
  AND CAST(ingest_year AS integer) * 10000 + CAST(ingest_month AS integer) * 100 + CAST(ingest_day AS integer)
      >= year(current_date - INTERVAL '7' DAY) * 10000
         + month(current_date - INTERVAL '7' DAY) * 100
         + day(current_date - INTERVAL '7' DAY)
GROUP BY error_code
ORDER BY records DESC, error_code
