-- Model quality per model version and week of scoring, from the latest quality run: outcomes joined to the scores (rows, positives, AUC, log loss, precision and recall at the deployed threshold)
-- Each quality run recomputes every week from every outcome to date into its own batch_id folder: the rows of
-- the latest computed_at are the current picture. The newest week of each version comes first.
SELECT "model_version", "score_week", "rows", "positives", "auc", "log_loss", "precision", "recall",
       "threshold", "computed_at"
FROM "${database}"."${quality_table}"
WHERE "computed_at" = (SELECT max("computed_at") FROM "${database}"."${quality_table}")
ORDER BY "model_version", "score_week" DESC
LIMIT 1000
