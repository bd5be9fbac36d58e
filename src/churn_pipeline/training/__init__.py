"""Training: `train` (the entrypoint, locally or in a SageMaker training job), `datasets` (reading the labelled
CSV), `evaluation` (metrics and the evaluation plot)."""
