output "database_name" {
  description = "Name of the Glue catalog database."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Catalog tables: the Kinesis source and the result tables (one per dataset of churn_pipeline.contract.outputs)."
  value       = concat([aws_glue_catalog_table.kinesis_source.name], [for table in aws_glue_catalog_table.results : table.name])
}

output "batch_job_name" {
  description = "Name of the batch scoring job."
  value       = aws_glue_job.this["batch"].name
}

output "stream_job_name" {
  description = "Name of the streaming scoring job."
  value       = aws_glue_job.this["stream"].name
}

output "security_configuration_name" {
  description = "Name of the Glue security configuration both jobs use."
  value       = aws_glue_security_configuration.this.name
}
