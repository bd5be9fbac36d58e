output "name" {
  description = "Name of the stream."
  value       = aws_kinesis_stream.this.name
}

output "arn" {
  description = "ARN of the stream (the streaming job's stream_arn argument)."
  value       = local.arn
}
