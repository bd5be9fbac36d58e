resource "aws_athena_workgroup" "this" {
  name          = var.name
  description   = "Churn scoring queries; results encrypted with the project key."
  force_destroy = var.force_destroy

  configuration {
    # Clients cannot override the result location or turn encryption off.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.bytes_scanned_cutoff_per_query

    result_configuration {
      output_location = "s3://${var.results_bucket}/athena/"
      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = var.kms_key_arn
      }
    }
  }

  tags = var.tags
}

locals {
  # The named queries are templates defined once in the package (churn_tools.analytics, package data) and
  # copied into terraform/contract.json by `make contract`; those that read the data's own columns come from
  # the deployed model's description (var.data_named_queries); the local demo runs the very same SQL on DuckDB.
  named_query_templates = merge(
    jsondecode(file("${path.module}/../../contract.json")).named_queries,
    var.data_named_queries,
  )
  # The tables the templates name (batch_table, stream_table, ...): the contract's datasets.
  query_tables = merge(
    { database = var.database_name },
    jsondecode(file("${path.module}/../../contract.json")).named_query_tables,
  )
  named_queries = {
    for name, query in local.named_query_templates : name => {
      query       = templatestring(query.template, local.query_tables)
      description = query.description
    }
  }
}

resource "aws_athena_named_query" "this" {
  for_each = var.create_named_queries ? local.named_queries : {}

  name        = each.key
  description = each.value.description
  workgroup   = aws_athena_workgroup.this.id
  database    = var.database_name
  query       = each.value.query
}
