mock_provider "aws" {}

variables {
  name           = "churn-test-churn"
  results_bucket = "churn-test-results-123456789012"
  kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  database_name  = "churn_test_churn"
  # As the packaging step generates them from a description (churn_tools.analytics.data_query_templates).
  data_named_queries = {
    churn_rate_by_payment_method = {
      description = "Share of customers predicted to churn, per Payment method, over every batch scored (top 10)."
      template    = "SELECT \"payment method\", count(*) AS customers FROM \"$${database}\".\"$${batch_table}\" GROUP BY \"payment method\""
    }
  }
}

run "encrypted_enforced_workgroup_with_saved_queries" {
  command = plan

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].enforce_workgroup_configuration
    error_message = "clients may not override the workgroup settings"
  }

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].result_configuration[0].encryption_configuration[0].encryption_option == "SSE_KMS"
    error_message = "query results are encrypted with KMS"
  }

  assert {
    condition     = aws_athena_workgroup.this.configuration[0].result_configuration[0].output_location == "s3://churn-test-results-123456789012/athena/"
    error_message = "results go under athena/ of the results bucket"
  }

  assert {
    condition     = toset(keys(aws_athena_named_query.this)) == toset(["churn_rate_by_payment_method", "score_deciles", "dead_letter_summary", "drift_report", "model_quality"])
    error_message = "the contract's saved queries and the data's exist"
  }

  assert {
    condition     = aws_athena_named_query.this["churn_rate_by_payment_method"].query == "SELECT \"payment method\", count(*) AS customers FROM \"churn_test_churn\".\"batch_predictions\" GROUP BY \"payment method\""
    error_message = "a data query is rendered with this database's tables, as the contract's are"
  }

  assert {
    condition     = strcontains(aws_athena_named_query.this["dead_letter_summary"].query, "FROM \"churn_test_churn\".\"stream_dead_letter\"") && aws_athena_named_query.this["dead_letter_summary"].description == "Dead-lettered streaming records of the last 7 days (UTC arrival) per error code, with first and last arrival."
    error_message = "the dead-letter summary reads the dead-letter table of this database"
  }

  # The streaming tables are Iceberg tables partitioned by the hour of their arrival time: a saved query on them
  # must constrain that column, or it reads every data file ever committed.
  assert {
    condition     = strcontains(aws_athena_named_query.this["dead_letter_summary"].query, "WHERE kinesis_arrival_time >= current_timestamp - INTERVAL '7' DAY")
    error_message = "the saved queries on the streaming tables prune to the data files of the last 7 days"
  }
}

run "saved_queries_can_be_left_out" {
  command = plan

  variables {
    create_named_queries = false
  }

  assert {
    condition     = length(aws_athena_named_query.this) == 0
    error_message = "create_named_queries = false creates none"
  }
}

run "rejects_a_scan_cutoff_below_athena_minimum" {
  command = plan

  variables {
    bytes_scanned_cutoff_per_query = 1000
  }

  expect_failures = [var.bytes_scanned_cutoff_per_query]
}

run "rejects_a_data_query_name_athena_would_not_take" {
  command = plan

  variables {
    data_named_queries = { "churn rate by State" = { description = "x", template = "SELECT 1" } }
  }

  expect_failures = [var.data_named_queries]
}
