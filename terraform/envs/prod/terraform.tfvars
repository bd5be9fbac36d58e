# Every setting of the prod environment. Job arguments and Terraform variables all come from here.
region = "eu-west-1"

settings = {
  name_prefix   = "churn-prod"
  force_destroy = false

  stream = {
    capacity_mode   = "ON_DEMAND"
    retention_hours = 168
  }

  endpoint = {
    instance_type          = "ml.m5.xlarge"
    initial_instance_count = 2
    autoscaling = {
      min_capacity                    = 2
      max_capacity                    = 6
      target_invocations_per_instance = 200
    }
    data_capture_enabled      = true
    data_capture_sampling_pct = 5
    xgboost_image_tag         = "3.0-5"
  }

  jobs = {
    scoring = { mode = "endpoint", threshold = 0.5 }
    batch   = { glue_version = "6.0", worker_type = "G.1X", number_of_workers = 4, timeout_minutes = 120, schedule = "cron(0 2 * * ? *)" }
    stream  = { glue_version = "5.1", worker_type = "G.1X", number_of_workers = 4, window_size = "100 seconds", starting_position = "LATEST" }
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
