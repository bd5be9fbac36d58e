output "topic_arn" {
  description = "ARN of the SNS topic the alarms notify."
  value       = aws_sns_topic.this.arn
}

output "alarm_names" {
  description = "Names of every CloudWatch alarm of the pipeline."
  value       = keys(aws_cloudwatch_metric_alarm.this)
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
