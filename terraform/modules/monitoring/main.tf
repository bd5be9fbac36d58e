data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_sns_topic" "this" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  # CloudWatch alarms of this account and region only, scoped with aws:SourceArn as in "Allow any CloudWatch alarm
  # to publish to a topic in a different account":
  # https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html#sns-allow-cloudwatch-alarm-to-publish-to-topic-in-another-account
  statement {
    sid     = "CloudWatchAlarmsPublish"
    actions = ["sns:Publish"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    resources = [aws_sns_topic.this.arn]
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:cloudwatch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:alarm:*"]
    }
  }

  # EventBridge (the Glue job-failure rule) without a condition: the EventBridge guide's statement for SNS targets
  # has none and notes that Condition blocks cannot be used in SNS topic policies for EventBridge, so an
  # aws:SourceAccount condition here would drop every job-failure notification:
  # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions
  statement {
    sid     = "EventBridgeRulesPublish"
    actions = ["sns:Publish"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    resources = [aws_sns_topic.this.arn]
  }
}

resource "aws_sns_topic_policy" "this" {
  arn    = aws_sns_topic.this.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  # The jobs' metric names (churn_pipeline.contract.metrics, via terraform/contract.json).
  metrics = jsondecode(file("${path.module}/../../contract.json")).metrics
  # Every job whose failed tasks or failed runs alarm: the scoring jobs and the model-quality job.
  failure_watched_jobs = concat(var.glue_job_names, [var.quality.job_name])

  period  = 300
  actions = [aws_sns_topic.this.arn]
  endpoint_dimensions = {
    EndpointName = var.endpoint.name
    VariantName  = var.endpoint.variant
  }

  # Every alarm of the pipeline: what is watched, how, and from which threshold on it alarms.
  alarms = merge(
    {
      "${var.name_prefix}-endpoint-5xx" = {
        description = "The churn endpoint answers with server errors."
        namespace   = "AWS/SageMaker", metric = "Invocation5XXErrors", dimensions = local.endpoint_dimensions
        statistic   = "Sum", periods = 1, threshold = var.thresholds.endpoint_5xx_errors, operator = "GreaterThanOrEqualToThreshold"
      }
      "${var.name_prefix}-endpoint-latency" = {
        description = "Average model latency of the churn endpoint is above the threshold."
        namespace   = "AWS/SageMaker", metric = "ModelLatency", dimensions = local.endpoint_dimensions
        # ModelLatency is reported in microseconds.
        statistic = "Average", periods = 3, threshold = var.thresholds.model_latency_ms * 1000, operator = "GreaterThanThreshold"
      }
      "${var.name_prefix}-stream-iterator-age" = {
        description = "The streaming job falls behind the Kinesis stream."
        namespace   = "AWS/Kinesis", metric = "GetRecords.IteratorAgeMilliseconds", dimensions = { StreamName = var.stream_name }
        statistic   = "Maximum", periods = 2, threshold = var.thresholds.iterator_age_ms, operator = "GreaterThanThreshold"
      }
      "${var.name_prefix}-dead-letter-growth" = {
        description = "The streaming job dead-letters more records than the threshold per period."
        namespace   = local.metrics.namespace, metric = local.metrics.dead_letter_records, dimensions = { (local.metrics.dimension) = var.stream_job_name }
        statistic   = "Sum", periods = 1, threshold = var.thresholds.dead_letters_per_period, operator = "GreaterThanThreshold"
      }
    },
    {
      # The largest PSI of a batch run or a micro-batch against the model's training baseline
      # (churn_pipeline.drift); a run of a model without a baseline, or of fewer than drift.MIN_ROWS scored
      # rows, publishes none, so missing data is not a breach. Both jobs publish it.
      for job in var.glue_job_names : "${job}-drift" => {
        description = "Inputs or scores of Glue job ${job} drifted from the model's training baseline (PSI)."
        namespace   = local.metrics.namespace, metric = local.metrics.max_psi, dimensions = { (local.metrics.dimension) = job }
        statistic   = "Maximum", periods = 1, threshold = local.metrics.drift_alarm_threshold, operator = "GreaterThanOrEqualToThreshold"
      }
    },
    {
      for job in local.failure_watched_jobs : "${job}-failed-tasks" => {
        description = "Tasks of Glue job ${job} failed."
        namespace   = "Glue", metric = "glue.driver.aggregate.numFailedTasks"
        dimensions  = { JobName = job, JobRunId = "ALL", Type = "count" }
        statistic   = "Sum", periods = 1, threshold = 1, operator = "GreaterThanOrEqualToThreshold"
      }
    },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = local.period
  evaluation_periods  = each.value.periods
  threshold           = each.value.threshold
  comparison_operator = each.value.operator
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# The deployed model's real quality: the latest AUC the quality job measured for it over outcomes joined to its
# scores. One value a day (the job runs daily), so a one-day period: PutMetricAlarm allows period x evaluation
# periods up to 7 days for periods of an hour or more
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html). The threshold is the
# model's own test AUC (metrics.json, written by the packaging step) minus the quality job's auc_margin. A day
# without outcomes publishes nothing, which is not a breach.
resource "aws_cloudwatch_metric_alarm" "model_quality" {
  alarm_name          = "${var.name_prefix}-model-quality-auc"
  alarm_description   = "The deployed model's latest AUC on outcomes (quality job ${var.quality.job_name}) fell below its test AUC ${var.quality.test_auc} minus the margin ${var.quality.auc_margin}."
  namespace           = local.metrics.namespace
  metric_name         = local.metrics.model_auc
  dimensions          = { (local.metrics.dimension) = var.quality.job_name, (local.metrics.model_version_dimension) = var.quality.model_version }
  statistic           = "Minimum"
  period              = 86400
  evaluation_periods  = 1
  threshold           = var.quality.test_auc - var.quality.auc_margin
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# A run that fails before any task (bad argument, missing wheel) emits no task metric: the job state event catches it.
resource "aws_cloudwatch_event_rule" "glue_job_failed" {
  name        = "${var.name_prefix}-glue-job-failed"
  description = "A churn scoring or model-quality job run failed, timed out or stopped with an error."
  event_pattern = jsonencode({
    source      = ["aws.glue"]
    detail-type = ["Glue Job State Change"]
    detail = {
      jobName = local.failure_watched_jobs
      state   = ["FAILED", "TIMEOUT", "ERROR"]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "glue_job_failed" {
  rule = aws_cloudwatch_event_rule.glue_job_failed.name
  arn  = aws_sns_topic.this.arn
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "${var.name_prefix}-churn"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          region = data.aws_region.current.name
          title  = "Endpoint invocations and errors"
          stat   = "Sum"
          period = local.period
          metrics = [
            ["AWS/SageMaker", "Invocations", "EndpointName", var.endpoint.name, "VariantName", var.endpoint.variant],
            [".", "Invocation5XXErrors", ".", ".", ".", "."],
            [".", "Invocation4XXErrors", ".", ".", ".", "."],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          region  = data.aws_region.current.name
          title   = "Model latency (microseconds)"
          stat    = "Average"
          period  = local.period
          metrics = [["AWS/SageMaker", "ModelLatency", "EndpointName", var.endpoint.name, "VariantName", var.endpoint.variant]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          region  = data.aws_region.current.name
          title   = "Stream iterator age (ms)"
          stat    = "Maximum"
          period  = local.period
          metrics = [["AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds", "StreamName", var.stream_name]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          region = data.aws_region.current.name
          title  = "Dead letters and failed Glue tasks"
          stat   = "Sum"
          period = local.period
          metrics = concat(
            [[local.metrics.namespace, local.metrics.dead_letter_records, local.metrics.dimension, var.stream_job_name]],
            [for job in local.failure_watched_jobs : ["Glue", "glue.driver.aggregate.numFailedTasks", "JobName", job, "JobRunId", "ALL", "Type", "count"]],
          )
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          region  = data.aws_region.current.name
          title   = "Deployed model's AUC on outcomes (alarm below the line)"
          stat    = "Minimum"
          period  = 86400
          metrics = [[local.metrics.namespace, local.metrics.model_auc, local.metrics.dimension, var.quality.job_name, local.metrics.model_version_dimension, var.quality.model_version]]
          annotations = {
            horizontal = [{ label = "test AUC - margin", value = var.quality.test_auc - var.quality.auc_margin }]
          }
        }
      },
    ]
  })
}
