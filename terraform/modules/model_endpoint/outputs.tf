output "endpoint_name" {
  description = "Name of the endpoint (the jobs' endpoint_name argument)."
  value       = aws_sagemaker_endpoint.this.name
}

output "endpoint_arn" {
  description = "ARN of the endpoint."
  value       = aws_sagemaker_endpoint.this.arn
}

output "variant_name" {
  description = "Name of the production variant (a dimension of the endpoint metrics)."
  value       = local.variant_name
}

output "model_name" {
  description = "Name of the SageMaker model currently behind the endpoint."
  value       = aws_sagemaker_model.this.name
}

output "endpoint_configuration_name" {
  description = "Name of the endpoint configuration currently in use."
  value       = aws_sagemaker_endpoint_configuration.this.name
}

output "image_uri" {
  description = "The built-in XGBoost image the model runs in."
  value       = data.aws_sagemaker_prebuilt_ecr_image.xgboost.registry_path
}

output "rollout" {
  description = "How the endpoint takes a new configuration: traffic shifting (CANARY with its instances, or ALL_AT_ONCE) and the alarms that roll it back; null when unguarded."
  value = local.guarded ? {
    traffic_routing      = local.traffic_type
    canary_instances     = local.canary ? var.rollout.canary_instances : null
    rollback_alarm_names = var.rollout.rollback_alarm_names
  } : null
}
