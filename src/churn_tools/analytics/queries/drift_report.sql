-- Drift against the model's training baseline, batch runs and streaming micro-batches: PSI per input and of the score, latest first
-- A run of fewer than ${drift_min_rows} scored rows publishes no drift metric (its PSI is mostly sampling noise): 'too few rows'.
-- The streaming table is read for the last 7 days only (by computed_at; churn_tools.analytics.SINCE_7_DAYS_AGO).
SELECT job, computed_at, model_version, feature, kind, psi, rows,
       CASE WHEN rows < ${drift_min_rows} THEN 'too few rows'
            WHEN psi >= ${drift_alarm_threshold} THEN 'significant'
            WHEN psi >= 0.1 THEN 'watch' ELSE 'stable' END AS reading
FROM (
    -- One type for both, whichever the engine maps Iceberg's timestamptz to.
    SELECT 'batch' AS job, CAST(computed_at AS timestamp with time zone) AS computed_at, model_version, feature,
           kind, psi, rows
    FROM "${database}"."${drift_table}"
    UNION ALL
    SELECT 'stream' AS job, CAST(computed_at AS timestamp with time zone) AS computed_at, model_version,
           feature, kind, psi, rows
    FROM "${database}"."${stream_drift_table}"
    WHERE computed_at >= ${since_7_days_ago}
) AS runs
ORDER BY computed_at DESC, psi DESC
LIMIT 200
