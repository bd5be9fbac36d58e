data "aws_partition" "current" {}

# The image of the built-in algorithm for this region; no API call, the provider knows the registries.
data "aws_sagemaker_prebuilt_ecr_image" "xgboost" {
  repository_name = "sagemaker-xgboost"
  image_tag       = var.xgboost_image_tag
}

locals {
  variant_name = "primary"
  serverless   = var.serverless != null
  autoscaling  = var.autoscaling != null && !local.serverless
  # Serverless Inference does not support network isolation or data capture (nor VPC configuration, multiple
  # variants, Model Monitor, ...): "Serverless Inference" -> "Feature exclusions",
  # https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html#serverless-endpoints-how-it-works-exclusions
  # so a serverless endpoint gets neither; an instance-backed one keeps both.
  network_isolation = !local.serverless
  data_capture      = local.serverless ? null : var.data_capture

  # Guarded rollout (SageMaker deployment guardrails, UpdateEndpoint DeploymentConfig):
  # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails.html
  # A new endpoint configuration goes to a new (green) fleet; a canary share of it takes traffic first and bakes for
  # wait_interval_in_seconds; if any rollback alarm fires, all traffic returns to the old (blue) fleet
  # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html,
  # https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-configuration.html).
  # The canary "must be less than or equal to 50% of the variant's total instance count" (TrafficRoutingConfig,
  # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-endpoint-trafficroutingconfig.html;
  # CapacitySize: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CapacitySize.html). So a canary needs
  # at least two instances: a single-instance fleet, and a serverless variant (no instance fleet at all), shift
  # ALL_AT_ONCE instead, still with the baking period and the alarm rollback
  # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-all-at-once.html).
  guarded      = var.rollout != null
  canary       = local.guarded ? !local.serverless && local.fleet_size >= 2 * var.rollout.canary_instances : false
  traffic_type = local.canary ? "CANARY" : "ALL_AT_ONCE"

  # The instance count a new endpoint configuration starts with. UpdateEndpoint resets every variant to its new
  # configuration's InitialInstanceCount unless the request says RetainAllVariantProperties, and the provider
  # never says it (internal/service/sagemaker/endpoint.go, resourceEndpointUpdate, sends only EndpointName,
  # EndpointConfigName and DeploymentConfig; hashicorp/terraform-provider-aws#48990, PR #49069 adds it). So
  # `make deploy` reads the count the autoscaler set (DescribeEndpoint) and passes it here: a rollout starts
  # the new fleet at that count, kept within the autoscaling range, instead of scaling it in.
  fleet_size = (
    var.live_instance_count == null ? var.initial_instance_count :
    local.autoscaling ? min(max(var.live_instance_count, var.autoscaling.min_capacity), var.autoscaling.max_capacity) :
    var.live_instance_count
  )
}

# Asking for data capture on a serverless endpoint is not an error (the pipeline's data_capture_enabled setting
# is independent of serverless), but it captures nothing: say so at plan time.
check "serverless_endpoints_capture_no_data" {
  assert {
    condition     = !(local.serverless && var.data_capture != null)
    error_message = "data_capture is ignored: SageMaker Serverless Inference does not support data capture (Feature exclusions, https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html)."
  }
}

resource "aws_sagemaker_model" "this" {
  # checkov:skip=CKV_AWS_370:Network isolation is on for every instance-backed endpoint (tests/model_endpoint.tftest.hcl asserts it); only a serverless endpoint runs without it, because Serverless Inference does not support network isolation.
  # A new version gets a new name; the old model goes only after the endpoint moved off it. A serverless model
  # differs (no network isolation, which forces a new model) and is named apart (-sl), so switching between
  # serverless and instances never creates a model under the name of the one it replaces.
  name                     = "${var.name}-${var.model_version}${local.serverless ? "-sl" : ""}"
  execution_role_arn       = var.execution_role_arn
  enable_network_isolation = local.network_isolation

  primary_container {
    image          = data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_path
    model_data_url = "s3://${var.artifacts_bucket}/${var.model_artifact_key}"
    environment = {
      MODEL_VERSION = var.model_version
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  # name_prefix + create_before_destroy: the new configuration exists before the endpoint switches to it,
  # so the endpoint is updated in place instead of destroyed and recreated.
  name_prefix = "${var.name}-"
  # SageMaker does not accept a KMS key for serverless endpoints (they have no storage volume).
  kms_key_arn = local.serverless ? null : var.kms_key_arn

  production_variants {
    variant_name           = local.variant_name
    model_name             = aws_sagemaker_model.this.name
    instance_type          = local.serverless ? null : var.instance_type
    initial_instance_count = local.serverless ? null : local.fleet_size

    dynamic "serverless_config" {
      for_each = local.serverless ? [var.serverless] : []
      content {
        memory_size_in_mb = serverless_config.value.memory_size_in_mb
        max_concurrency   = serverless_config.value.max_concurrency
      }
    }
  }

  dynamic "data_capture_config" {
    for_each = local.data_capture == null ? [] : [local.data_capture]
    content {
      enable_capture              = true
      initial_sampling_percentage = data_capture_config.value.initial_sampling_percentage
      destination_s3_uri          = data_capture_config.value.destination_s3_uri
      kms_key_id                  = var.kms_key_arn
      capture_options {
        capture_mode = "Input"
      }
      capture_options {
        capture_mode = "Output"
      }
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name
  tags                 = var.tags

  lifecycle {
    # A rollout the deployment guardrails roll back leaves the endpoint InService on its old configuration. The
    # provider's waiter does not know RollingBack (waitEndpointInService: pending Creating, Updating,
    # SystemUpdating; target InService) and takes that InService for success, then reads the old name back
    # (hashicorp/terraform-provider-aws#48997, PR #49020). Without this check Terraform would go on to destroy the
    # replaced (create_before_destroy) configuration and model, which the endpoint still runs on: autoscaling can
    # then launch no instance and the next UpdateEndpoint fails. Failing here stops the apply before those
    # destroys; both stay in state (deposed) until a rollout succeeds. `make deploy` then says what happened.
    postcondition {
      condition     = self.endpoint_config_name == aws_sagemaker_endpoint_configuration.this.name
      error_message = "The endpoint ${var.name} serves endpoint configuration ${self.endpoint_config_name}, not ${aws_sagemaker_endpoint_configuration.this.name}: the rollout was rolled back (deployment guardrails) or did not take. The configuration and model it serves are kept; `make deploy` names the command that brings Terraform's state back in line."
    }
  }

  dynamic "deployment_config" {
    for_each = local.guarded ? [var.rollout] : []
    content {
      blue_green_update_policy {
        maximum_execution_timeout_in_seconds = deployment_config.value.maximum_execution_timeout_in_seconds
        termination_wait_in_seconds          = deployment_config.value.termination_wait_in_seconds
        traffic_routing_configuration {
          type                     = local.traffic_type
          wait_interval_in_seconds = deployment_config.value.wait_interval_in_seconds
          dynamic "canary_size" {
            for_each = local.canary ? [deployment_config.value.canary_instances] : []
            content {
              type  = "INSTANCE_COUNT"
              value = canary_size.value
            }
          }
        }
      }
      auto_rollback_configuration {
        dynamic "alarms" {
          for_each = toset(deployment_config.value.rollback_alarm_names)
          content {
            alarm_name = alarms.value
          }
        }
      }
    }
  }
}

resource "aws_appautoscaling_target" "this" {
  count = local.autoscaling ? 1 : 0

  service_namespace  = "sagemaker"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this.name}/variant/${local.variant_name}"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity
}

resource "aws_appautoscaling_policy" "this" {
  count = local.autoscaling ? 1 : 0

  name               = "${var.name}-invocations-per-instance"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[0].service_namespace
  resource_id        = aws_appautoscaling_target.this[0].resource_id
  scalable_dimension = aws_appautoscaling_target.this[0].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = var.autoscaling.target_invocations_per_instance
    scale_in_cooldown  = var.autoscaling.scale_in_cooldown_seconds
    scale_out_cooldown = var.autoscaling.scale_out_cooldown_seconds
    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }
}
