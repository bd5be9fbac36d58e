mock_provider "aws" {
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:churn-test-alarms" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
}

variables {
  name_prefix     = "churn-test"
  kms_key_arn     = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  endpoint        = { name = "churn-test-churn", variant = "primary" }
  glue_job_names  = ["churn-test-batch-scoring", "churn-test-stream-scoring"]
  stream_job_name = "churn-test-stream-scoring"
  stream_name     = "churn-test-customer-churn"
  quality = {
    job_name      = "churn-test-model-quality"
    model_version = "5e5e09d879cc4936"
    test_auc      = 0.91
    auc_margin    = 0.05
  }
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
    condition     = jsonencode(jsondecode(aws_cloudwatch_event_rule.glue_job_failed.event_pattern).detail.jobName) == jsonencode(concat(var.glue_job_names, ["churn-test-model-quality"]))
    error_message = "job state changes of the scoring jobs and the quality job reach the topic"
  }

  assert {
    condition     = contains(keys(aws_cloudwatch_metric_alarm.this), "churn-test-model-quality-failed-tasks") && !contains(keys(aws_cloudwatch_metric_alarm.this), "churn-test-model-quality-drift")
    error_message = "the quality job's failed tasks alarm; it scores nothing, so it has no drift alarm"
  }
}

run "topic_policy_is_the_documented_one_per_publisher" {
  command = plan

  assert {
    condition     = [for s in data.aws_iam_policy_document.topic.statement : s.sid] == ["CloudWatchAlarmsPublish", "EventBridgeRulesPublish"]
    error_message = "one statement per publishing service"
  }

  assert {
    condition = jsonencode(one([
      for s in data.aws_iam_policy_document.topic.statement : s.condition if s.sid == "CloudWatchAlarmsPublish"
      ])) == jsonencode([{
      test     = "ArnLike"
      values   = ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"]
      variable = "aws:SourceArn"
    }]) && one([for s in data.aws_iam_policy_document.topic.statement : s.principals if s.sid == "CloudWatchAlarmsPublish"]) == toset([{ type = "Service", identifiers = toset(["cloudwatch.amazonaws.com"]) }])
    error_message = "CloudWatch may publish for this account's and region's alarms only (aws:SourceArn)"
  }

  # EventBridge's guide: no Condition blocks in SNS topic policies for EventBridge.
  assert {
    condition = length(one([
      for s in data.aws_iam_policy_document.topic.statement : s.condition if s.sid == "EventBridgeRulesPublish"
    ])) == 0 && one([for s in data.aws_iam_policy_document.topic.statement : s.principals if s.sid == "EventBridgeRulesPublish"]) == toset([{ type = "Service", identifiers = toset(["events.amazonaws.com"]) }]) && one([for s in data.aws_iam_policy_document.topic.statement : s.actions if s.sid == "EventBridgeRulesPublish"]) == toset(["sns:Publish"])
    error_message = "EventBridge publishes to the topic with sns:Publish and no condition"
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

run "the_model_quality_alarm_fires_below_the_model_s_test_auc_minus_the_margin" {
  command = apply

  assert {
    condition     = abs(aws_cloudwatch_metric_alarm.model_quality.threshold - 0.86) < 0.000000000001 && aws_cloudwatch_metric_alarm.model_quality.comparison_operator == "LessThanThreshold"
    error_message = "the alarm fires below test_auc - auc_margin"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.model_quality.namespace == "ChurnPipeline" && aws_cloudwatch_metric_alarm.model_quality.metric_name == jsondecode(file("../../contract.json")).metrics.model_auc
    error_message = "the alarm reads the metric the quality job publishes (contract.metrics)"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.model_quality.dimensions == tomap({ JobName = "churn-test-model-quality", ModelVersion = "5e5e09d879cc4936" })
    error_message = "the alarm watches the deployed model version's AUC from the quality job"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.model_quality.period == 86400 && aws_cloudwatch_metric_alarm.model_quality.evaluation_periods == 1 && aws_cloudwatch_metric_alarm.model_quality.treat_missing_data == "notBreaching"
    error_message = "one daily value; a day without outcomes is no breach"
  }

  assert {
    condition     = contains(output.alarm_names, "churn-test-model-quality-auc") && aws_cloudwatch_metric_alarm.model_quality.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:churn-test-alarms"])
    error_message = "the quality alarm is one of the pipeline's alarms and notifies the topic"
  }
}

run "rejects_a_test_auc_that_is_not_an_auc" {
  command = plan

  variables {
    quality = { job_name = "churn-test-model-quality", model_version = "v", test_auc = 1.2, auc_margin = 0.05 }
  }

  expect_failures = [var.quality]
}
