mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-east-1" }
  }
  mock_data "aws_sagemaker_prebuilt_ecr_image" {
    defaults = { registry_id = "683313688378" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  name_prefix = "churn-test"
  bucket_arns = {
    data      = "arn:aws:s3:::churn-test-data-123456789012"
    artifacts = "arn:aws:s3:::churn-test-artifacts-123456789012"
    results   = "arn:aws:s3:::churn-test-results-123456789012"
  }
  kms_key_arn   = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  stream_arn    = "arn:aws:kinesis:us-east-1:123456789012:stream/churn-test-customer-churn"
  endpoint_name = "churn-test-churn"
  database_name = "churn_test_churn"
}

run "least_privilege_statements" {
  command = plan

  assert {
    condition = alltrue(flatten([
      for doc in [data.aws_iam_policy_document.glue_runtime, data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream, data.aws_iam_policy_document.glue_quality, data.aws_iam_policy_document.sagemaker] : [
        for s in doc.statement : [for a in s.actions : a != "*" && !endswith(a, ":*")]
      ]
    ]))
    error_message = "no statement may allow * or service:* actions"
  }

  assert {
    condition = alltrue(flatten([
      for doc in [data.aws_iam_policy_document.glue_runtime, data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream, data.aws_iam_policy_document.glue_quality, data.aws_iam_policy_document.sagemaker] : [
        for s in doc.statement : contains(s.resources, "*") ? contains(["PublishJobMetrics", "PublishEndpointMetrics", "AuthenticateToEcr"], s.sid) : true
      ]
    ]))
    error_message = "resource * only for the actions AWS offers no narrower resource for"
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.invoke_endpoint.statement : s.resources if s.sid == "InvokeEndpoint"
    ]) == toset(["arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-test-churn"])
    error_message = "the scoring jobs' roles may invoke only the pipeline's endpoint"
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.glue_stream.statement : s.resources if s.sid == "ReadStream"
    ]) == toset([var.stream_arn])
    error_message = "the streaming job's role may read only the pipeline's stream"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.sagemaker.statement : s if s.sid == "WriteCapturedData"]) == 0
    error_message = "without data capture the SageMaker role writes nothing to S3"
  }
}

run "data_capture_grants_its_prefix_only" {
  command = plan

  variables {
    data_capture_enabled = true
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.sagemaker.statement : s.resources if s.sid == "WriteCapturedData"
    ]) == toset(["arn:aws:s3:::churn-test-results-123456789012/data-capture/*"])
    error_message = "data capture may write under results/data-capture/ only"
  }
}

run "rejects_missing_bucket_purpose" {
  command = plan

  variables {
    bucket_arns = { data = "arn:aws:s3:::a", artifacts = "arn:aws:s3:::b" }
  }

  expect_failures = [var.bucket_arns]
}

run "rollback_alarms_are_readable_one_by_one" {
  command = plan

  variables {
    rollback_alarm_names = ["churn-test-endpoint-5xx", "churn-test-endpoint-latency"]
  }

  assert {
    condition = flatten([
      for s in data.aws_iam_policy_document.sagemaker.statement : s.resources if s.sid == "ReadRollbackAlarms"
      ]) == [
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-test-endpoint-5xx",
      "arn:aws:cloudwatch:us-east-1:123456789012:alarm:churn-test-endpoint-latency",
    ]
    error_message = "the endpoint role reads the rollback alarms (deployment guardrails need cloudwatch:DescribeAlarms), no other"
  }
}

run "no_rollback_alarms_no_describe_alarms" {
  command = plan

  assert {
    condition     = length([for s in data.aws_iam_policy_document.sagemaker.statement : s if s.sid == "ReadRollbackAlarms"]) == 0
    error_message = "without a guarded rollout the endpoint role reads no alarm"
  }
}

run "the_quality_role_reads_scores_and_outcomes_and_writes_only_its_own_datasets" {
  command = plan

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.glue_quality.statement : s.resources if s.sid == "ReadScoresAndOutcomes"
      ]) == toset([
      "arn:aws:s3:::churn-test-results-123456789012/tables/churn_test_churn/batch_predictions/*",
      "arn:aws:s3:::churn-test-results-123456789012/tables/churn_test_churn/stream_predictions/*",
      "arn:aws:s3:::churn-test-data-123456789012/outcomes/*",
    ]) && one([for s in data.aws_iam_policy_document.glue_quality.statement : s.actions if s.sid == "ReadScoresAndOutcomes"]) == toset(["s3:GetObject"])
    error_message = "the quality job reads both scored Iceberg tables' files and the outcome drops, nothing else of the data"
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.glue_quality.statement : s if s.sid == "LoadStreamScoredTable"]).actions == toset(["glue:GetTable"]) && one([for s in data.aws_iam_policy_document.glue_quality.statement : s if s.sid == "LoadStreamScoredTable"]).resources == toset([
      "arn:aws:glue:us-east-1:123456789012:catalog",
      "arn:aws:glue:us-east-1:123456789012:database/churn_test_churn",
      "arn:aws:glue:us-east-1:123456789012:table/churn_test_churn/batch_predictions",
      "arn:aws:glue:us-east-1:123456789012:table/churn_test_churn/stream_predictions",
    ])
    error_message = "the quality job loads both scored tables, and no other, from the catalog"
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.glue_quality.statement : s.resources if s.sid == "WriteQualityDatasets"
      ]) == toset([
      "arn:aws:s3:::churn-test-results-123456789012/quality/metrics/*",
      "arn:aws:s3:::churn-test-results-123456789012/quality/calibration/*",
      "arn:aws:s3:::churn-test-results-123456789012/quality/outcome-rejects/*",
      "arn:aws:s3:::churn-test-results-123456789012/quality/training-set/*",
    ])
    error_message = "the quality job writes its own datasets and the next training set only"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.glue_quality.statement : s if anytrue([for a in s.actions : startswith(a, "kinesis:") || startswith(a, "sagemaker:") || (startswith(a, "glue:") && a != "glue:GetTable")])]) == 0
    error_message = "the quality job neither reads the stream, nor invokes the endpoint, nor changes the catalog"
  }

  assert {
    condition     = data.aws_iam_policy_document.glue_quality.source_policy_documents == tolist([data.aws_iam_policy_document.glue_runtime.json]) && alltrue([for doc in [data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream] : doc.source_policy_documents == tolist([data.aws_iam_policy_document.glue_runtime.json, data.aws_iam_policy_document.invoke_endpoint.json])])
    error_message = "every job role starts from the Glue runtime's statements (script, wheels, model, temp dir, key, logs, metrics); the scoring jobs' also invoke the endpoint"
  }
}

run "the_scoring_jobs_commit_to_their_iceberg_tables_and_delete_nothing_there" {
  command = plan

  assert {
    condition = one([for s in data.aws_iam_policy_document.glue_stream.statement : s if s.sid == "CommitStreamTables"]).actions == toset(["glue:GetTable", "glue:UpdateTable"]) && one([for s in data.aws_iam_policy_document.glue_stream.statement : s if s.sid == "CommitStreamTables"]).resources == toset(concat([
      "arn:aws:glue:us-east-1:123456789012:catalog",
      "arn:aws:glue:us-east-1:123456789012:database/churn_test_churn",
    ], [for t in ["stream_predictions", "stream_dead_letter", "stream_drift"] : "arn:aws:glue:us-east-1:123456789012:table/churn_test_churn/${t}"]))
    error_message = "the streaming job's role loads and commits the stream's three tables by name, no other table, and creates none"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.glue_stream.statement : s if s.sid == "ReadStreamTablesDatabase"]).actions == toset(["glue:GetDatabase"]) && one([for s in data.aws_iam_policy_document.glue_stream.statement : s if s.sid == "ReadStreamTablesDatabase"]).resources == toset(["arn:aws:glue:us-east-1:123456789012:catalog", "arn:aws:glue:us-east-1:123456789012:database/churn_test_churn"])
    error_message = "the streaming job's role reads its tables' database (pyiceberg's commit does), and no other"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.glue_stream.statement : s if s.sid == "WriteStreamTableFiles"]).actions == toset(["s3:GetObject", "s3:PutObject"]) && one([for s in data.aws_iam_policy_document.glue_stream.statement : s if s.sid == "WriteStreamTableFiles"]).resources == toset([for t in ["stream_predictions", "stream_dead_letter", "stream_drift"] : "arn:aws:s3:::churn-test-results-123456789012/tables/churn_test_churn/${t}/*"])
    error_message = "the streaming job's role reads and writes under each stream table's location, and deletes nothing there (orphan files are the optimizer's)"
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.glue_batch.statement : s if s.sid == "CommitBatchTables"]).actions == toset(["glue:GetTable", "glue:UpdateTable"]) && one([for s in data.aws_iam_policy_document.glue_batch.statement : s if s.sid == "CommitBatchTables"]).resources == toset(concat([
      "arn:aws:glue:us-east-1:123456789012:catalog",
      "arn:aws:glue:us-east-1:123456789012:database/churn_test_churn",
    ], [for t in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift"] : "arn:aws:glue:us-east-1:123456789012:table/churn_test_churn/${t}"]))
    error_message = "the batch job's role loads and commits the batch job's four tables by name, no other table, and creates none"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.glue_batch.statement : s if s.sid == "ReadBatchTablesDatabase"]).actions == toset(["glue:GetDatabase"]) && one([for s in data.aws_iam_policy_document.glue_batch.statement : s if s.sid == "ReadBatchTablesDatabase"]).resources == toset(["arn:aws:glue:us-east-1:123456789012:catalog", "arn:aws:glue:us-east-1:123456789012:database/churn_test_churn"])
    error_message = "the batch job's role reads its tables' database (pyiceberg's commit does), and no other"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.glue_batch.statement : s if s.sid == "WriteBatchTableFiles"]).actions == toset(["s3:GetObject", "s3:PutObject"]) && one([for s in data.aws_iam_policy_document.glue_batch.statement : s if s.sid == "WriteBatchTableFiles"]).resources == toset([for t in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift"] : "arn:aws:s3:::churn-test-results-123456789012/tables/churn_test_churn/${t}/*"])
    error_message = "the batch job's role reads and writes under each batch table's location, and deletes nothing there (orphan files are the optimizer's)"
  }

  assert {
    condition     = length([for doc in [data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream] : doc if anytrue([for s in doc.statement : anytrue([for r in s.resources : strcontains(r, "/stream/") || strcontains(r, "/batch/")])])]) == 0
    error_message = "nothing of the old stream/ and batch/ prefixes is granted to either scoring job's role any more"
  }

  assert {
    condition     = length(aws_iam_role.table_optimizer) == 0 && output.table_optimizer_role_arn == null
    error_message = "no optimizer role unless asked (envs/local)"
  }
}

run "each_scoring_job_s_role_reaches_only_its_own_job_s_data" {
  command = plan

  assert {
    condition     = aws_iam_role.glue_batch.name == "churn-test-glue-batch" && aws_iam_role.glue_stream.name == "churn-test-glue-stream" && aws_iam_role.glue_stream.assume_role_policy == data.aws_iam_policy_document.trust["glue"].json
    error_message = "the batch and streaming jobs run as two roles, Glue's to assume"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.glue_batch.statement : s if anytrue([for a in s.actions : startswith(a, "kinesis:")])]) == 0
    error_message = "the batch job's role does not read the stream"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.glue_batch.statement : s if anytrue([for r in s.resources : strcontains(r, "/checkpoints/") || anytrue([for t in ["stream_predictions", "stream_dead_letter", "stream_drift"] : strcontains(r, "/${t}")])])]) == 0
    error_message = "the batch job's role reaches none of the stream's tables (catalog or files) and not the streaming checkpoint"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.glue_batch.statement : s.resources if s.sid == "ReadBatchInput"]) == toset(["arn:aws:s3:::churn-test-data-123456789012/input/*"]) && length([for s in data.aws_iam_policy_document.glue_batch.statement : s if anytrue([for a in s.actions : a == "s3:DeleteObject"])]) == 0
    error_message = "the batch job's role reads its input drops and deletes nothing of its own (its tables' files are the optimizer's to delete)"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.glue_stream.statement : s if anytrue([for r in s.resources : strcontains(r, "/input/") || anytrue([for t in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift"] : strcontains(r, "/${t}")])])]) == 0
    error_message = "the streaming job's role reaches neither the batch input nor the batch tables (catalog or files)"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.glue_stream.statement : s.resources if s.sid == "ReadWriteCheckpoint"]) == toset(["arn:aws:s3:::churn-test-data-123456789012/checkpoints/stream-scoring/*"])
    error_message = "the streaming job's role keeps its own checkpoint (the contract's stream_checkpoint), no other"
  }
}

run "the_table_optimizers_role_maintains_the_jobs_tables_only" {
  command = plan

  variables {
    table_optimizers_enabled = true
  }

  assert {
    condition     = aws_iam_role.table_optimizer[0].name == "churn-test-table-optimizer" && aws_iam_role.table_optimizer[0].assume_role_policy == data.aws_iam_policy_document.trust["glue"].json
    error_message = "the optimizers' role is Glue's to assume, for this account"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.table_optimizer.statement : s if s.sid == "MaintainTableFiles"]).actions == toset(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]) && one([for s in data.aws_iam_policy_document.table_optimizer.statement : s if s.sid == "MaintainTableFiles"]).resources == toset([for t in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift", "stream_predictions", "stream_dead_letter", "stream_drift"] : "arn:aws:s3:::churn-test-results-123456789012/tables/churn_test_churn/${t}/*"])
    error_message = "compaction rewrites and orphan-file deletion deletes files under the seven tables' locations only"
  }

  assert {
    condition     = one([for s in data.aws_iam_policy_document.table_optimizer.statement : s if s.sid == "WriteOptimizerLogs"]).resources == toset([for k in ["iceberg-compaction", "iceberg-retention", "iceberg-orphan-file-deletion"] : "arn:aws:logs:us-east-1:123456789012:log-group:/aws-glue/${k}/logs:*"])
    error_message = "the optimizers log into the groups AWS names for them"
  }
}

run "the_optimizers_list_only_the_tables_locations" {
  command = plan

  variables {
    table_optimizers_enabled = true
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.table_optimizer.statement : contains(s.actions, "s3:ListBucket") ? (
        s.resources == toset(["arn:aws:s3:::churn-test-results-123456789012"]) && length(s.condition) == 1 && alltrue([
          for c in s.condition : c.test == "StringLike" && c.variable == "s3:prefix" && toset(c.values) == toset(flatten([
            for t in ["batch_predictions", "batch_rejects", "batch_failed", "batch_drift", "stream_predictions", "stream_dead_letter", "stream_drift"] : ["tables/churn_test_churn/${t}", "tables/churn_test_churn/${t}/*"]
          ]))
        ])
      ) : true
    ]) && length([for s in data.aws_iam_policy_document.table_optimizer.statement : s if contains(s.actions, "s3:ListBucket")]) == 1
    error_message = "the optimizers may list the warehouse bucket only under the seven tables' locations (an s3:prefix condition)"
  }
}

run "no_role_encrypts_with_the_key" {
  command = plan

  variables {
    table_optimizers_enabled = true
  }

  # S3 SSE-KMS needs kms:GenerateDataKey to write an object and kms:Decrypt to read one, never kms:Encrypt
  # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html); no role encrypts with the key
  # itself (no job writes a bookmark: the security configuration's CSE-KMS bookmark encryption never runs).
  assert {
    condition = alltrue(flatten([
      for doc in [data.aws_iam_policy_document.glue_runtime, data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream, data.aws_iam_policy_document.glue_quality, data.aws_iam_policy_document.table_optimizer, data.aws_iam_policy_document.sagemaker] : [
        for s in doc.statement : !contains(s.actions, "kms:Encrypt")
      ]
    ]))
    error_message = "no role may kms:Encrypt: SSE-KMS writes need kms:GenerateDataKey, reads kms:Decrypt"
  }

  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.glue_runtime, data.aws_iam_policy_document.table_optimizer] :
      one([for s in doc.statement : s.actions if s.sid == "UseDataKey"]) == toset(["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"])
    ])
    error_message = "the Glue roles and the optimizers' role read (Decrypt) and write (GenerateDataKey) SSE-KMS objects with the pipeline key"
  }
}

# The scoring jobs' roles get the endpoint's statement from the invoke_endpoint document (its mock made
# recognisable here): in the endpoint mode, the contract's default, and never in the embedded mode.
run "scoring_jobs_invoke_the_endpoint_in_the_endpoint_mode" {
  command = plan

  override_data {
    target = data.aws_iam_policy_document.invoke_endpoint
    values = { json = "{\"Statement\":[{\"Sid\":\"InvokeEndpoint\"}]}" }
  }

  assert {
    condition = alltrue([
      for doc in [data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream] :
      contains(doc.source_policy_documents, data.aws_iam_policy_document.invoke_endpoint.json)
    ]) && output.scoring_jobs_invoke_endpoint
    error_message = "in the endpoint mode (the default) both scoring jobs' roles may invoke the endpoint"
  }
}

run "embedded_scoring_jobs_may_not_invoke_the_endpoint" {
  command = plan

  variables {
    scoring_mode = "embedded"
  }

  override_data {
    target = data.aws_iam_policy_document.invoke_endpoint
    values = { json = "{\"Statement\":[{\"Sid\":\"InvokeEndpoint\"}]}" }
  }

  assert {
    condition = !anytrue([
      for doc in [data.aws_iam_policy_document.glue_batch, data.aws_iam_policy_document.glue_stream] :
      contains(doc.source_policy_documents, data.aws_iam_policy_document.invoke_endpoint.json)
    ]) && !output.scoring_jobs_invoke_endpoint
    error_message = "embedded scoring jobs never call the endpoint: their roles may not invoke it"
  }
}

run "rejects_an_unknown_scoring_mode" {
  command = plan

  variables {
    scoring_mode = "remote"
  }

  expect_failures = [var.scoring_mode]
}
