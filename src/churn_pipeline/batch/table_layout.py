"""The batch job's Iceberg tables as one definition: which tables (rejects, failed, drift, then scored, in commit
order), the schema each is written with and its partitioning. The job creates or evolves them before a run
writes (a run keeps the input's undescribed columns, so its scored and failed schemas vary with the input); the
deploy step (churn_tools.deploy.tables) creates them with the deployed model's columns, through the same
tables.ensure_tables. No Spark here: the deploy step imports it too.

Each table is partitioned by `batch_id` (identity): a run owns its partition, and a re-run over the same input
replaces it in the same commit that adds the new files (tables.commit_data_files `replace`). Readers prune on
it, as they did on the Hive folders batch_id=<id> before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from pyiceberg.catalog import Catalog
from pyiceberg.expressions import EqualTo, Reference, literal

from churn_pipeline.contract import outputs
from churn_pipeline.contract.dataset import DatasetDescription
from churn_pipeline.tables.commit import CommitMarker, commit_data_files
from churn_pipeline.tables.create import TableSpec

SCORED, REJECTS, FAILED, DRIFT = "scored", "rejects", "failed", "drift"
PARTITION_COLUMN = outputs.BATCH_PARTITION
PARTITION_BY = ((PARTITION_COLUMN, "identity"),)


def datasets(
    description: DatasetDescription, extra_columns: tuple[str, ...] = ()
) -> dict[str, outputs.Dataset]:
    """The scored, rejects and failed datasets in the columns of contract.outputs resolved for a description:
    the description's output columns, then an input's undescribed header columns (kept as read, as text),
    then the dataset's fixed columns."""

    def with_extras(dataset: outputs.Dataset) -> outputs.Dataset:
        resolved = dataset.for_data(description)
        described = len(description.output_columns)
        extras = tuple(outputs.Field(name, outputs.STRING) for name in extra_columns)
        return replace(resolved, columns=resolved.columns[:described] + extras + resolved.columns[described:])

    return {
        SCORED: with_extras(outputs.BATCH_PREDICTIONS),
        REJECTS: outputs.BATCH_REJECTS,
        FAILED: with_extras(outputs.BATCH_FAILED),
    }


def table_specs(datasets: dict[str, outputs.Dataset], drift: bool) -> dict[str, TableSpec]:
    """The run's tables in commit order (scored last: its commit is the run's "done"). `datasets` holds the
    resolved scored, rejects and failed datasets (contract.outputs BATCH_* for the model's description and
    the input's extra columns); drift is contract.outputs.BATCH_DRIFT when asked for."""
    ordered = {
        REJECTS: datasets[REJECTS],
        FAILED: datasets[FAILED],
        **({DRIFT: outputs.BATCH_DRIFT} if drift else {}),
        SCORED: datasets[SCORED],
    }
    return {
        role: TableSpec(dataset, outputs.arrow_schema(dataset), PARTITION_BY)
        for role, dataset in ordered.items()
    }


def commit_run(
    catalog: Catalog,
    identifiers: Mapping[str, str],
    written: Mapping[str, Sequence[str]],
    batch_id: str,
    token: str,
    say: Callable[[str], None] = print,
) -> None:
    """The driver's last step of a run: one commit per table ({role: identifier}, in commit order: scored last),
    each adding the run's files ({role: files}) and replacing the run's partition batch_id=<id> (by nothing when
    the run has no row for that table: a corrected re-run), with the run's marker (its batch id and token): a
    commit retried after a lost response finds it and is a no-op (tables.commit_data_files)."""
    marker = CommitMarker(f"{batch_id}/{token}", 0)
    for role, identifier in identifiers.items():
        say(f"committing {len(written[role])} file(s) to {identifier} as {PARTITION_COLUMN}={batch_id}")
        commit_data_files(
            catalog,
            identifier,
            written[role],
            marker,
            replace=EqualTo(term=Reference(PARTITION_COLUMN), value=literal(batch_id)),
        )
