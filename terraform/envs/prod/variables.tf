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
