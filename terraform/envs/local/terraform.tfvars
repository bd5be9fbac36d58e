# Every setting of the local environment (moto server). Job arguments and Terraform variables all come from here.
region = "us-east-1"

settings = {
  name_prefix   = "churn-local"
  force_destroy = true

  stream = {
    capacity_mode   = "ON_DEMAND"
    retention_hours = 24
  }

  endpoint = {
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
    # moto has no Application Auto Scaling ListTagsForResource, which the provider calls on every read
    # (terraform/README.md): the target-tracking policy is applied in dev and prod only.
    autoscaling          = null
    data_capture_enabled = false
    xgboost_image_tag    = "3.0-5"
    # moto does not store or return an endpoint's DeploymentConfig (terraform/README.md): the guarded rollout
    # (canary + alarm rollback) is applied in dev and prod only.
    rollout = { enabled = false }
  }

  jobs = {
    scoring = { mode = "endpoint", threshold = 0.5 }
    batch   = { glue_version = "6.0", worker_type = "G.1X", number_of_workers = 2, timeout_minutes = 60, schedule = null }
    stream  = { glue_version = "5.1", worker_type = "G.1X", number_of_workers = 2, window_size = "100 seconds", starting_position = "TRIM_HORIZON" }
    # The model-quality job (the batch job's Glue version), daily at 06:00 UTC; horizon_days and auc_margin unset:
    # the contract's defaults (churn_pipeline.contract.settings; docs/configuration.md).
    quality = { worker_type = "G.1X", number_of_workers = 2, timeout_minutes = 60, schedule = "cron(0 6 * * ? *)" }
  }

  analytics = {
    # moto server has no DeleteNamedQuery, so saved queries could not be destroyed (terraform/README.md).
    create_named_queries = false
  }

  monitoring = {
    alarm_emails = []
  }
}
