# Every setting of the dev environment. Job arguments and Terraform variables all come from here.
region = "eu-west-1"

settings = {
  name_prefix   = "churn-dev"
  force_destroy = true

  stream = {
    capacity_mode   = "ON_DEMAND"
    retention_hours = 24
  }

  endpoint = {
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
    autoscaling = {
      min_capacity                    = 1
      max_capacity                    = 2
      target_invocations_per_instance = 100
    }
    data_capture_enabled      = true
    data_capture_sampling_pct = 20
    xgboost_image_tag         = "3.0-5"
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
    create_named_queries = true
  }

  monitoring = {
    alarm_emails = []
  }
}
