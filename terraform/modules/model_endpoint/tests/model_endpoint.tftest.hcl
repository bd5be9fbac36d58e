mock_provider "aws" {
  mock_data "aws_sagemaker_prebuilt_ecr_image" {
    defaults = { registry_path = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5" }
  }
}

variables {
  name               = "churn-test-churn"
  artifacts_bucket   = "churn-test-artifacts-123456789012"
  model_artifact_key = "models/0123456789abcdef0123456789abcdef/model.tar.gz"
  model_version      = "5e5e09d879cc4936"
  execution_role_arn = "arn:aws:iam::123456789012:role/churn-test-sagemaker-endpoint"
  kms_key_arn        = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
}

run "versioned_model_behind_an_encrypted_autoscaled_endpoint" {
  command = plan

  assert {
    condition     = aws_sagemaker_model.this.name == "churn-test-churn-5e5e09d879cc4936"
    error_message = "the model name carries the model version, so a new version is a new model"
  }

  assert {
    condition     = aws_sagemaker_model.this.primary_container[0].model_data_url == "s3://churn-test-artifacts-123456789012/models/0123456789abcdef0123456789abcdef/model.tar.gz"
    error_message = "the model reads the uploaded archive"
  }

  assert {
    condition     = aws_sagemaker_model.this.enable_network_isolation
    error_message = "the container runs without network access"
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.name_prefix == "churn-test-churn-" && aws_sagemaker_endpoint_configuration.this.kms_key_arn == var.kms_key_arn
    error_message = "configurations are name-prefixed (create before destroy) and encrypted"
  }

  assert {
    condition     = aws_sagemaker_endpoint.this.name == "churn-test-churn"
    error_message = "the endpoint keeps its name across model versions"
  }

  assert {
    condition     = aws_appautoscaling_policy.this[0].target_tracking_scaling_policy_configuration[0].predefined_metric_specification[0].predefined_metric_type == "SageMakerVariantInvocationsPerInstance"
    error_message = "autoscaling tracks invocations per instance"
  }

  assert {
    condition     = length(aws_sagemaker_endpoint_configuration.this.data_capture_config) == 0
    error_message = "no data capture unless asked"
  }
}

run "serverless_has_no_instances_key_or_autoscaling" {
  command = plan

  variables {
    serverless = { memory_size_in_mb = 2048, max_concurrency = 5 }
  }

  assert {
    condition     = length(aws_appautoscaling_target.this) == 0 && aws_sagemaker_endpoint_configuration.this.kms_key_arn == null
    error_message = "serverless endpoints take no KMS key and no instance autoscaling"
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.production_variants[0].serverless_config[0].memory_size_in_mb == 2048
    error_message = "the serverless memory size is passed through"
  }

  assert {
    condition     = !aws_sagemaker_model.this.enable_network_isolation
    error_message = "Serverless Inference does not support network isolation: the serverless model must not ask for it"
  }

  assert {
    condition     = aws_sagemaker_model.this.name == "churn-test-churn-5e5e09d879cc4936-sl"
    error_message = "the serverless model is named apart from the instance-backed model of the same version"
  }
}

# Serverless Inference excludes network isolation and data capture
# (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions):
# with data capture asked for, a serverless plan still has neither, and the check warns.
run "serverless_drops_data_capture_and_network_isolation" {
  command = plan

  variables {
    serverless   = { memory_size_in_mb = 2048, max_concurrency = 5 }
    data_capture = { destination_s3_uri = "s3://churn-test-results-123456789012/data-capture/" }
  }

  assert {
    condition     = length(aws_sagemaker_endpoint_configuration.this.data_capture_config) == 0
    error_message = "a serverless endpoint configuration has no data_capture_config"
  }

  assert {
    condition     = !aws_sagemaker_model.this.enable_network_isolation
    error_message = "a serverless model has no network isolation"
  }

  expect_failures = [check.serverless_endpoints_capture_no_data]
}

# The same settings on instances keep both.
run "instances_keep_data_capture_and_network_isolation" {
  command = plan

  variables {
    data_capture = { destination_s3_uri = "s3://churn-test-results-123456789012/data-capture/" }
  }

  assert {
    condition     = length(aws_sagemaker_endpoint_configuration.this.data_capture_config) == 1 && aws_sagemaker_endpoint_configuration.this.data_capture_config[0].destination_s3_uri == "s3://churn-test-results-123456789012/data-capture/"
    error_message = "an instance-backed endpoint configuration captures data when asked"
  }

  assert {
    condition     = aws_sagemaker_model.this.enable_network_isolation && aws_sagemaker_model.this.name == "churn-test-churn-5e5e09d879cc4936"
    error_message = "an instance-backed model runs with network isolation under <name>-<version>"
  }
}

run "data_capture_when_asked" {
  command = plan

  variables {
    data_capture = { destination_s3_uri = "s3://churn-test-results-123456789012/data-capture/" }
  }

  assert {
    condition     = aws_sagemaker_endpoint_configuration.this.data_capture_config[0].initial_sampling_percentage == 10
    error_message = "data capture samples 10% by default"
  }
}

run "rejects_a_key_that_is_not_content_addressed" {
  command = plan

  variables {
    model_artifact_key = "models/latest/model.tar.gz"
  }

  expect_failures = [var.model_artifact_key]
}

run "rejects_inverted_capacity_range" {
  command = plan

  variables {
    autoscaling = { min_capacity = 3, max_capacity = 1, target_invocations_per_instance = 100 }
  }

  expect_failures = [var.autoscaling]
}

# Guarded rollout: SageMaker deployment guardrails (blue/green, canary, alarm rollback) on UpdateEndpoint.
run "guarded_rollout_is_a_canary_rolled_back_on_the_alarms" {
  command = plan

  variables {
    initial_instance_count = 4
    rollout = {
      rollback_alarm_names     = ["churn-test-endpoint-5xx", "churn-test-endpoint-latency"]
      canary_instances         = 2
      wait_interval_in_seconds = 600
    }
  }

  assert {
    condition     = aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "CANARY"
    error_message = "an instance-backed endpoint shifts traffic to a canary first"
  }

  assert {
    condition = (
      aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size[0].type == "INSTANCE_COUNT" &&
      aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size[0].value == 2
    )
    error_message = "the canary is canary_instances instances of the new fleet"
  }

  assert {
    condition     = aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds == 600
    error_message = "the canary bakes wait_interval_in_seconds before the rest of the traffic moves"
  }

  assert {
    condition     = toset([for alarm in aws_sagemaker_endpoint.this.deployment_config[0].auto_rollback_configuration[0].alarms : alarm.alarm_name]) == toset(["churn-test-endpoint-5xx", "churn-test-endpoint-latency"])
    error_message = "the rollout rolls back on exactly the given alarms"
  }

  assert {
    condition     = aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].maximum_execution_timeout_in_seconds == 3600
    error_message = "the deployment times out after an hour by default"
  }
}

run "serverless_rollout_shifts_all_at_once_with_the_same_rollback" {
  command = plan

  variables {
    serverless = { memory_size_in_mb = 2048, max_concurrency = 5 }
    rollout    = { rollback_alarm_names = ["churn-test-endpoint-5xx"] }
  }

  assert {
    condition = (
      aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "ALL_AT_ONCE" &&
      length(aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size) == 0
    )
    error_message = "a serverless endpoint has no instance fleet to take a canary from: all at once, no canary size"
  }

  assert {
    condition     = length(aws_sagemaker_endpoint.this.deployment_config[0].auto_rollback_configuration[0].alarms) == 1 && output.rollout.traffic_routing == "ALL_AT_ONCE"
    error_message = "the serverless rollout keeps the baking period and the alarm rollback"
  }
}

run "single_instance_rollout_shifts_all_at_once_with_the_same_rollback" {
  command = plan

  variables {
    initial_instance_count = 1
    rollout                = { rollback_alarm_names = ["churn-test-endpoint-5xx", "churn-test-endpoint-latency"] }
  }

  assert {
    condition = (
      aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].type == "ALL_AT_ONCE" &&
      length(aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].canary_size) == 0 &&
      aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].traffic_routing_configuration[0].wait_interval_in_seconds == 900 &&
      length(aws_sagemaker_endpoint.this.deployment_config[0].auto_rollback_configuration[0].alarms) == 2
    )
    error_message = "one instance cannot hold a canary of at most half of it: all at once, baked 900 s, rolled back on the alarms"
  }
}

run "unguarded_without_rollout" {
  command = plan

  assert {
    condition     = length(aws_sagemaker_endpoint.this.deployment_config) == 0 && output.rollout == null
    error_message = "no rollout settings: SageMaker's default update, and the output says it is unguarded"
  }
}

run "rejects_a_rollout_without_alarms" {
  command = plan

  variables {
    rollout = { rollback_alarm_names = [] }
  }

  expect_failures = [var.rollout]
}

run "rejects_a_canary_above_half_the_fleet" {
  command = plan

  variables {
    initial_instance_count = 3
    rollout                = { rollback_alarm_names = ["churn-test-endpoint-5xx"], canary_instances = 2 }
  }

  expect_failures = [var.rollout]
}

run "rejects_a_timeout_shorter_than_the_bake" {
  command = plan

  variables {
    rollout = { rollback_alarm_names = ["churn-test-endpoint-5xx"], wait_interval_in_seconds = 3600, maximum_execution_timeout_in_seconds = 3000 }
  }

  expect_failures = [var.rollout]
}

# SageMaker's API takes up to 28800 s, but the provider refuses more than 14400 at plan time
# (internal/service/sagemaker/endpoint.go, blue_green_update_policy: validation.IntBetween(600, 14400)); the module
# says so itself, naming the setting.
run "rejects_a_timeout_above_the_provider_s_limit" {
  command = plan

  variables {
    rollout = { rollback_alarm_names = ["churn-test-endpoint-5xx"], maximum_execution_timeout_in_seconds = 14401 }
  }

  expect_failures = [var.rollout]
}

run "accepts_the_provider_s_longest_timeout" {
  command = plan

  variables {
    rollout = { rollback_alarm_names = ["churn-test-endpoint-5xx"], maximum_execution_timeout_in_seconds = 14400 }
  }

  assert {
    condition     = aws_sagemaker_endpoint.this.deployment_config[0].blue_green_update_policy[0].maximum_execution_timeout_in_seconds == 14400
    error_message = "the longest timeout the provider takes reaches the endpoint"
  }
}
