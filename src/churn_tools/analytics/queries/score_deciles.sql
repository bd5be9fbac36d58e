-- Batch-scored customers per score decile (1 = the lowest tenth of scores): how many, their score range and the share predicted to churn.
SELECT decile,
       count(*) AS customers,
       round(min(churn_probability), 4) AS min_churn_probability,
       round(max(churn_probability), 4) AS max_churn_probability,
       round(avg(CAST(churn_prediction AS double)), 4) AS predicted_churn_rate
FROM (
    SELECT churn_probability, churn_prediction, ntile(10) OVER (ORDER BY churn_probability) AS decile
    FROM "${database}"."${batch_table}"
) AS scored
GROUP BY decile
ORDER BY decile
