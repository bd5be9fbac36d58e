output "database_name" {
  description = "Name of the Glue catalog database."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "Catalog tables: the Kinesis source, the Parquet result tables Terraform manages, and the Iceberg tables `make deploy` creates in the same database (one per dataset of churn_pipeline.contract.outputs)."
  value       = concat([aws_glue_catalog_table.kinesis_source.name], [for table in aws_glue_catalog_table.results : table.name], local.iceberg_table_names)
}

output "iceberg_tables" {
  description = "The stream's Iceberg tables (created by `make deploy`, not by Terraform): their database, warehouse (the jobs' --table_warehouse) and each table's location (<warehouse><database>/<table>)."
  value = {
    database  = aws_glue_catalog_database.this.name
    warehouse = local.table_warehouse
    locations = local.iceberg_tables
  }
}

output "batch_job_name" {
  description = "Name of the batch scoring job."
  value       = aws_glue_job.this["batch"].name
}

output "stream_job_name" {
  description = "Name of the streaming scoring job."
  value       = aws_glue_job.this["stream"].name
}

output "quality_job" {
  description = "The model-quality job: its name and the auc_margin it runs with (the contract's default when unset), for the alarm on the AUC it publishes."
  value = {
    name       = aws_glue_job.this["quality"].name
    auc_margin = local.quality_settings.auc_margin
  }
}

output "security_configuration_name" {
  description = "Name of the Glue security configuration every job uses."
  value       = aws_glue_security_configuration.this.name
}

output "table_optimizers" {
  description = "The Glue table optimizers on the Iceberg tables, by \"<table>.<type>\": the role they run as and, for orphan-file deletion, how many days a file no snapshot references is kept (null for the others). Empty without var.table_optimizers."
  value = {
    for key, optimizer in aws_glue_catalog_table_optimizer.this : key => {
      role_arn                   = optimizer.configuration[0].role_arn
      orphan_file_retention_days = try(optimizer.configuration[0].orphan_file_deletion_configuration[0].iceberg_configuration[0].orphan_file_retention_period_in_days, null)
    }
  }
}
