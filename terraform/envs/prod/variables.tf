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

variable "data_columns" {
  description = "The deployed model's data columns (its dataset description's catalog columns); written by `make deploy` / `make plan` beside `artifacts` (churn_tools.deploy)."
  type = list(object({
    name = string
    type = string
  }))
}

variable "data_named_queries" {
  description = "The Athena named queries that read the deployed model's data columns (churn rate by each categorical feature, latest scores by id), as templates; written by `make deploy` / `make plan` beside `data_columns` (churn_tools.analytics)."
  type = map(object({
    description = string
    template    = string
  }))
}

variable "model_test_auc" {
  description = "The deployed model's AUC on its held-out test rows (its metrics.json); written by `make deploy` / `make plan` beside `data_columns` (churn_tools.deploy.package). The model-quality alarm fires below it minus jobs.quality.auc_margin."
  type        = number
}

variable "live_instance_count" {
  description = "Instances the deployed endpoint runs now, set by `make deploy` when an autoscaler owns the count (modules/model_endpoint): a rollout starts the new fleet at it. Null: the settings' initial_instance_count."
  type        = number
  default     = null
}
