variable "region" {
  description = "AWS region of the environment."
  type        = string
}

variable "settings" {
  description = "Every setting of the environment (terraform.tfvars); typed, defaulted and validated by modules/pipeline."
  type        = any
}

variable "artifacts" {
  description = "Keys of the uploaded artifacts and the model version; written by `make deploy` / `make plan` (churn_tools.deploy)."
  type        = any
}

variable "live_instance_count" {
  description = "Instances the deployed endpoint runs now, set by `make deploy` when an autoscaler owns the count (modules/model_endpoint): a rollout starts the new fleet at it. Null: the settings' initial_instance_count."
  type        = number
  default     = null
}
