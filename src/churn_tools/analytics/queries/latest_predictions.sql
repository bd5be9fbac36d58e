-- The 20 most recent streaming scores of the last 7 days (UTC arrival), newest Kinesis arrival first.
-- Partition predicate, so Athena prunes the projected partitions to those days instead of reading the whole
-- table: a plain range on the partition column ingest_year (the cast is a no-op on Athena's string column),
-- then the arrival day from ingest_year/ingest_month/ingest_day. The casts keep the SQL the same for Athena and
-- for DuckDB (the local demo), which types partition values itself (2026 -> BIGINT, '05' -> VARCHAR); the
-- integer day key is valid for every projected value (a date cast of day 31 of February would fail).
-- Pruning applies to projected tables too: https://docs.aws.amazon.com/athena/latest/ug/partition-projection.html
SELECT record_id,
       state,
       churn_probability,
       churn_prediction,
       model_version,
       kinesis_arrival_time,
       scored_at
FROM "${database}"."${stream_table}"
WHERE CAST(ingest_year AS varchar) >= CAST(year(current_date - INTERVAL '7' DAY) AS varchar)
  AND CAST(ingest_year AS integer) * 10000 + CAST(ingest_month AS integer) * 100 + CAST(ingest_day AS integer)
      >= year(current_date - INTERVAL '7' DAY) * 10000
         + month(current_date - INTERVAL '7' DAY) * 100
         + day(current_date - INTERVAL '7' DAY)
ORDER BY kinesis_arrival_time DESC, record_id
LIMIT 20
