output "workgroup_name" {
  description = "Name of the Athena workgroup."
  value       = aws_athena_workgroup.this.name
}

output "named_query_ids" {
  description = "IDs of the saved queries by name (empty where create_named_queries is false)."
  value       = { for name, query in aws_athena_named_query.this : name => query.id }
}
