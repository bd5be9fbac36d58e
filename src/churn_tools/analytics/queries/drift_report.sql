-- Drift of the batch runs against the model's training baseline: PSI per input and of the score, latest runs first
SELECT computed_at, model_version, feature, kind, psi, rows,
       CASE WHEN psi >= 0.2 THEN 'significant' WHEN psi >= 0.1 THEN 'watch' ELSE 'stable' END AS reading
FROM "${database}"."${drift_table}"
ORDER BY computed_at DESC, psi DESC
LIMIT 200
