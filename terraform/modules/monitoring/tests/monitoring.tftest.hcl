mock_provider "aws" {
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:churn-test-alarms" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name_prefix     = "churn-test"
  kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  endpoint        = { name = "churn-test-churn", variant = "primary" }
  glue_job_names  = ["churn-test-batch-scoring", "churn-test-stream-scoring"]
  stream_job_name = "churn-test-stream-scoring"
  stream_name     = "churn-test-customer-churn"
}

run "alarms_on_every_failure_mode" {
  command = apply

  assert {
    condition     = aws_sns_topic.this.kms_master_key_id == var.kms_key_arn
    error_message = "the alarm topic is encrypted"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["churn-test-endpoint-latency"].threshold == 500000
    error_message = "the latency threshold is converted from ms to the metric's microseconds"
  }

  assert {
    condition     = alltrue([for job in var.glue_job_names : contains(keys(aws_cloudwatch_metric_alarm.this), "${job}-failed-tasks")])
    error_message = "one failure alarm per Glue job"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["churn-test-stream-iterator-age"].dimensions["StreamName"] == "churn-test-customer-churn"
    error_message = "iterator age is watched on the pipeline's stream"
  }

  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.this) : a.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:churn-test-alarms"])])
    error_message = "alarms notify the topic"
  }

  assert {
    condition     = jsonencode(jsondecode(aws_cloudwatch_event_rule.glue_job_failed.event_pattern).detail.jobName) == jsonencode(var.glue_job_names)
    error_message = "job state changes of both jobs reach the topic"
  }
}

run "rejects_a_malformed_email" {
  command = plan

  variables {
    alarm_emails = ["not-an-address"]
  }

  expect_failures = [var.alarm_emails]
}

run "rejects_no_jobs" {
  command = plan

  variables {
    glue_job_names = []
  }

  expect_failures = [var.glue_job_names]
}
