"""The stream's Iceberg tables as one definition: which tables (scored, dead letter, drift, in commit order), the
schema each is written with, its partitioning and where its files live. The job's handler checks the tables
against it once per run; the deploy step (churn_tools.deploy.tables) creates them with it, through the same
tables.ensure_table, before the jobs are deployed. No Spark here: the deploy step imports it too."""

from __future__ import annotations

from churn_pipeline.contract import outputs
from churn_pipeline.tables.create import TableSpec, ensure_tables

__all__ = ["DEAD", "DRIFT", "HOUR_COLUMN", "SCORED", "TableSpec", "ensure_tables", "table_specs"]

SCORED = "scored"
DEAD = "dead_letter"
DRIFT = "drift"
# Each table's Iceberg partitioning: the hour of the record's Kinesis arrival (what readers prune on); drift
# rows have no record, so the hour they were computed in (one per micro-batch).
HOUR_COLUMN = {
    SCORED: outputs.KINESIS_ARRIVAL_TIME,
    DEAD: outputs.KINESIS_ARRIVAL_TIME,
    DRIFT: outputs.COMPUTED_AT,
}


def table_specs(scored: outputs.Dataset, drift: bool) -> dict[str, TableSpec]:
    """The tables of each micro-batch, in commit order (dead letter and drift first, scored last). `scored` is
    contract.outputs.STREAM_PREDICTIONS for the model's description (for_data)."""
    datasets = {
        DEAD: outputs.STREAM_DEAD_LETTER,
        **({DRIFT: outputs.STREAM_DRIFT} if drift else {}),
        SCORED: scored,
    }
    return {
        role: TableSpec(dataset, outputs.arrow_schema(dataset), ((HOUR_COLUMN[role], "hour"),))
        for role, dataset in datasets.items()
    }
