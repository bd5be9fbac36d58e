-- Share of customers predicted to churn, per ${feature_label}, over every batch scored (top 10).
SELECT ${feature},
       count(*) AS customers,
       round(avg(CAST(churn_prediction AS double)), 4) AS predicted_churn_rate,
       round(avg(churn_probability), 4) AS mean_churn_probability
FROM "$${database}"."$${batch_table}"
GROUP BY ${feature}
ORDER BY predicted_churn_rate DESC, ${feature}
LIMIT 10
