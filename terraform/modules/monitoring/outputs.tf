output "topic_arn" {
  description = "ARN of the SNS topic the alarms notify."
  value       = aws_sns_topic.this.arn
}

output "alarm_names" {
  description = "Names of every CloudWatch alarm of the pipeline."
  value       = concat(keys(aws_cloudwatch_metric_alarm.this), [aws_cloudwatch_metric_alarm.model_quality.alarm_name])
}

output "model_quality_alarm_name" {
  description = "The alarm on the deployed model's latest AUC on outcomes (below its test AUC minus the margin)."
  value       = aws_cloudwatch_metric_alarm.model_quality.alarm_name
}

output "model_quality_alarm" {
  description = "What the model-quality alarm watches: its metric's dimensions and its threshold (test AUC minus margin)."
  value = {
    dimensions = aws_cloudwatch_metric_alarm.model_quality.dimensions
    threshold  = aws_cloudwatch_metric_alarm.model_quality.threshold
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "endpoint_alarm_names" {
  description = "The endpoint's 5xx-error and latency alarms: what a guarded rollout of the endpoint rolls back on."
  value = [
    aws_cloudwatch_metric_alarm.this["${var.name_prefix}-endpoint-5xx"].alarm_name,
    aws_cloudwatch_metric_alarm.this["${var.name_prefix}-endpoint-latency"].alarm_name,
  ]
}
