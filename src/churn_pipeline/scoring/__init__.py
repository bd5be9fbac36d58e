"""Scoring: its configuration (`config`); the Spark plan, the Arrow wiring and the endpoint client are still
in `churn_pipeline.scoring.spark` until the package split moves them here."""
