"""The schema of every dataset the jobs write: columns in file order, types, location.

The writers build their files from these lists (so a file's schema is this one), and Terraform's Glue catalog
tables take their columns and locations from the contract file generated from them: a table
cannot drift from its writer. Types are the Glue catalog's (Hive) names; `arrow_type` maps them for pyarrow.

The scored datasets open with the raw columns of the user's data: those come from the dataset description
of the model that scored them (`Dataset.columns_for(description)`), and Terraform takes them from the
description of the model `make deploy` ships; the fixed columns after them are defined here. Column names
keep the writer's spelling (the user's header, e.g. "Account Length"); the catalog stores them lower-cased
(`catalog_columns`), as Glue does with any name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from churn_pipeline.contract.dataset import DatasetDescription, canonical

STRING, INT, BIGINT, DOUBLE, TIMESTAMP, BINARY = "string", "int", "bigint", "double", "timestamp", "binary"


@dataclass(frozen=True)
class Field:
    name: str
    type: str


@dataclass(frozen=True)
class Dataset:
    table: str  # Glue catalog table name
    bucket: str  # purpose of the bucket (data, artifacts, results)
    prefix: str  # where the job writes it in that bucket, ending in "/"
    columns: tuple[Field, ...]  # in each data file, in this order (after the data's own, see below)
    description: str = ""
    # The raw columns of the user's data open each file (the description's output columns): `columns` are
    # the fixed ones after them. A dataset with this flag is resolved per model with `for_data`.
    data_columns_first: bool = False

    def for_data(self, description: DatasetDescription) -> Dataset:
        """This dataset with the raw columns of `description` in front (as written for that model)."""
        if not self.data_columns_first:
            return self
        return replace(self, columns=raw_fields(description) + self.columns, data_columns_first=False)

    @property
    def column_names(self) -> tuple[str, ...]:
        self._require_resolved()
        return tuple(f.name for f in self.columns)

    def catalog_columns(self) -> list[dict[str, str]]:
        self._require_resolved()
        return catalog_fields(self.columns)

    def _require_resolved(self) -> None:
        if self.data_columns_first:
            raise ValueError(f"{self.table}: its columns depend on the data; use for_data(description)")


def raw_fields(description: DatasetDescription) -> tuple[Field, ...]:
    """The raw columns the scored datasets keep (the description's output columns), with catalog types."""
    return tuple(Field(c.name, c.catalog_type) for c in description.output_columns)


def catalog_fields(fields: tuple[Field, ...]) -> list[dict[str, str]]:
    return [{"name": canonical(f.name), "type": f.type} for f in fields]


PROBABILITY = "churn_probability"
PREDICTION = "churn_prediction"
MODEL_VERSION = "model_version"
SCORED_AT = "scored_at"
ERROR_CODE = "error_code"
ERROR_REASON = "error_reason"
SCORE_FIELDS = (
    Field(PROBABILITY, DOUBLE),
    Field(PREDICTION, INT),
    Field(MODEL_VERSION, STRING),
    Field(SCORED_AT, TIMESTAMP),
)
# What a batch row that was not scored keeps: where it came from and its line as read.
SOURCE_FILE = "source_file"
RAW_LINE = "raw_line"
SOURCE_FIELDS = (Field(SOURCE_FILE, STRING), Field(RAW_LINE, STRING))
RECORD_ID = "record_id"
EVENT_TIME = "event_time"
# What a producer puts on the stream as JSON: the described record plus an id and its event time (the
# kinesis_customer_churn catalog table describes it: the data's columns, then these).
STREAM_RECORD_EXTRA_FIELDS = (Field(RECORD_ID, STRING), Field(EVENT_TIME, STRING))


def stream_record_fields(description: DatasetDescription) -> tuple[Field, ...]:
    return raw_fields(description) + STREAM_RECORD_EXTRA_FIELDS


KINESIS_SHARD_ID = "kinesis_shard_id"
KINESIS_SEQUENCE_NUMBER = "kinesis_sequence_number"
KINESIS_PARTITION_KEY = "kinesis_partition_key"
KINESIS_ARRIVAL_TIME = "kinesis_arrival_time"
KINESIS_FIELDS = (
    Field(RECORD_ID, STRING),
    Field(KINESIS_SHARD_ID, STRING),
    Field(KINESIS_SEQUENCE_NUMBER, STRING),
    Field(KINESIS_ARRIVAL_TIME, TIMESTAMP),
)
RAW_PAYLOAD = "raw_payload"
DEAD_LETTERED_AT = "dead_lettered_at"
# The run a batch row belongs to: the last column of each batch table and its Iceberg partition (identity), which
# a run replaces as a whole (batch.table_layout).
BATCH_PARTITION = "batch_id"
BATCH_ID_FIELD = Field(BATCH_PARTITION, STRING)

BATCH_PREDICTIONS = Dataset(
    "batch_predictions",
    "results",
    "batch/predictions/",
    SCORE_FIELDS + (BATCH_ID_FIELD,),
    description="Scored customer records of the batch job, partitioned by the run's batch_id.",
    data_columns_first=True,
)
BATCH_REJECTS = Dataset(
    "batch_rejects",
    "results",
    "batch/rejects/",
    SOURCE_FIELDS + (Field(ERROR_CODE, STRING), Field(ERROR_REASON, STRING), BATCH_ID_FIELD),
    description="CSV lines the batch job rejected, as read, with the reason (codes: contract.codes).",
)
BATCH_FAILED = Dataset(
    "batch_failed",
    "results",
    "batch/failed/",
    SOURCE_FIELDS + (Field(ERROR_REASON, STRING), BATCH_ID_FIELD),
    description="Valid batch rows the endpoint could not score after every retry, with the last error.",
    data_columns_first=True,
)
# Drift of a batch run against the model's training baseline (churn_pipeline.drift): one row per model input
# column and one for the score.
FEATURE, DRIFT_KIND, PSI, DRIFT_ROWS, COMPUTED_AT = "feature", "kind", "psi", "rows", "computed_at"
BATCH_DRIFT = Dataset(
    "batch_drift",
    "results",
    "batch/drift/",
    (
        Field(FEATURE, STRING),
        Field(DRIFT_KIND, STRING),
        Field(PSI, DOUBLE),
        Field(DRIFT_ROWS, BIGINT),
        Field(MODEL_VERSION, STRING),
        Field(COMPUTED_AT, TIMESTAMP),
        BATCH_ID_FIELD,
    ),
    description="Population stability index of each model input and of the score, per batch run, against the "
    "model's training baseline (absent for a model without one).",
)
STREAM_PREDICTIONS = Dataset(
    "stream_predictions",
    "results",
    "stream/predictions/",
    (Field(EVENT_TIME, STRING),) + SCORE_FIELDS + KINESIS_FIELDS,
    description="Scored customer records of the streaming job, partitioned by arrival hour.",
    data_columns_first=True,
)
STREAM_DEAD_LETTER = Dataset(
    "stream_dead_letter",
    "results",
    "stream/dead-letter/",
    (
        Field(RAW_PAYLOAD, BINARY),
        Field(ERROR_CODE, STRING),
        Field(ERROR_REASON, STRING),
        *KINESIS_FIELDS[:3],
        Field(KINESIS_PARTITION_KEY, STRING),
        KINESIS_FIELDS[3],
        Field(DEAD_LETTERED_AT, TIMESTAMP),
    ),
    description="Kinesis records the streaming job could not score, kept whole with the reason.",
)

# Drift of each streaming micro-batch (one row per input and the score), filed under the hour of the batch's
# earliest arrival; micro_batch is Spark's batch id, unique within the query (its checkpoint).
MICRO_BATCH = "micro_batch"
STREAM_DRIFT = Dataset(
    "stream_drift",
    "results",
    "stream/drift/",
    BATCH_DRIFT.columns[:5] + (Field(MICRO_BATCH, BIGINT), BATCH_DRIFT.columns[5]),
    description="Population stability index of each model input and of the score, per streaming micro-batch, "
    "against the model's training baseline (no rows for a model without one).",
)

# The quality job (churn_pipeline.quality): outcomes joined to the scores, per model version and ISO week of
# scoring. Each run recomputes the whole picture from every outcome to date and writes one batch_id=<run>
# folder per dataset (as the batch job does, so the catalog tables are not partitioned: a reader takes the
# latest computed_at). No column depends on the user's data: the outcome's id and label are in raw_line.
SCORE_WEEK, ROWS, POSITIVES = "score_week", "rows", "positives"
AUC, LOG_LOSS, PRECISION, RECALL, THRESHOLD = "auc", "log_loss", "precision", "recall", "threshold"
SCORE_DECILE, PREDICTED_MEAN, OBSERVED_RATE = "score_decile", "predicted_mean", "observed_rate"
MODEL_QUALITY = Dataset(
    "model_quality",
    "results",
    "quality/metrics/",
    (
        Field(MODEL_VERSION, STRING),
        Field(SCORE_WEEK, STRING),  # ISO week of the score (UTC), e.g. 2026-W05
        Field(ROWS, BIGINT),
        Field(POSITIVES, BIGINT),
        Field(AUC, DOUBLE),  # null when the week has outcomes of one kind only
        Field(LOG_LOSS, DOUBLE),
        Field(PRECISION, DOUBLE),  # null when nothing was predicted to churn
        Field(RECALL, DOUBLE),  # null when no customer churned
        Field(THRESHOLD, DOUBLE),  # the deployed decision threshold (settings.THRESHOLD) the two above use
        Field(COMPUTED_AT, TIMESTAMP),
    ),
    description="Model quality per model version and ISO week of scoring: outcomes joined to the latest score "
    "before them (rows, positives, AUC, log loss, precision and recall at the deployed threshold), one "
    "batch_id=<run> folder per quality run.",
)
MODEL_CALIBRATION = Dataset(
    "model_calibration",
    "results",
    "quality/calibration/",
    (
        Field(MODEL_VERSION, STRING),
        Field(SCORE_WEEK, STRING),
        Field(SCORE_DECILE, INT),  # 1 = the lowest tenth of that week's scores (ntile, as score_deciles)
        Field(ROWS, BIGINT),
        Field(PREDICTED_MEAN, DOUBLE),  # mean churn_probability of the decile
        Field(OBSERVED_RATE, DOUBLE),  # share of the decile's customers who churned
        Field(COMPUTED_AT, TIMESTAMP),
    ),
    description="Calibration per model version, ISO week of scoring and score decile: predicted mean against "
    "observed churn rate, one batch_id=<run> folder per quality run.",
)
OUTCOME_REJECTS = Dataset(
    "outcome_rejects",
    "results",
    "quality/outcome-rejects/",
    SOURCE_FIELDS + (Field(ERROR_CODE, STRING), Field(ERROR_REASON, STRING), Field(COMPUTED_AT, TIMESTAMP)),
    description="Outcome lines the quality job could not use, as read, with the reason (codes: "
    "contract.codes.OUTCOME_REJECTS), one batch_id=<run> folder per quality run.",
)

DATASETS: tuple[Dataset, ...] = (
    BATCH_PREDICTIONS,
    BATCH_REJECTS,
    BATCH_FAILED,
    BATCH_DRIFT,
    STREAM_PREDICTIONS,
    STREAM_DEAD_LETTER,
    STREAM_DRIFT,
    MODEL_QUALITY,
    MODEL_CALIBRATION,
    OUTCOME_REJECTS,
)


@dataclass(frozen=True)
class Location:
    """Where files that are not a catalog table live: CSV a team drops or a person trains on, a checkpoint."""

    bucket: str  # purpose of the bucket, as Dataset.bucket
    prefix: str  # ending in "/"
    description: str


# Outcome files: CSV with a header naming the model's id column and label column (as its dataset description
# spells them) and KNOWN_AT, an ISO-8601 date or timestamp (UTC when it gives no offset).
KNOWN_AT = "known_at"
OUTCOMES = Location(
    "data",
    "outcomes/",
    "Outcome files a team drops: CSV with a header, the model's id and label columns and known_at (UTC).",
)
# The next training set: the joined rows as the description's CSV (what churn-train --dataset reads), one
# batch_id=<run> folder per quality run.
NEXT_TRAINING_SET = Location(
    "results",
    "quality/training-set/",
    "Joined rows as the deployed model's dataset description's CSV (raw inputs as scored, the outcome as the "
    "label), one batch_id=<run> folder per quality run: the next training set.",
)
# The streaming job's Spark checkpoint (its --checkpoint_path): offsets, commits and the query's metadata file.
# Only the streaming job's role may read and write it (terraform/modules/iam). A new query gets a new prefix
# under checkpoints/; the old one is retired under checkpoints-retired/ (terraform/README.md).
STREAM_CHECKPOINT = Location(
    "data",
    "checkpoints/stream-scoring/",
    "The streaming job's Spark checkpoint (offsets, commits, the query's metadata): its --checkpoint_path.",
)
LOCATIONS = {
    "outcomes": OUTCOMES,
    "next_training_set": NEXT_TRAINING_SET,
    "stream_checkpoint": STREAM_CHECKPOINT,
}

# The datasets that are Apache Iceberg tables in the Glue Data Catalog (issue 30): the batch job's and the stream's.
# The deploy step
# creates them (churn_tools.deploy.tables, with the jobs' own tables.ensure_table), Terraform grants IAM on them by
# name and declares their optimizers; their files live under <warehouse>/<database>/<table> (tables.CatalogSettings),
# the warehouse being this prefix of the results bucket (their `prefix` above is not where they are). A stream
# table is partitioned by the hour of one of its time columns (streaming.table_layout.HOUR_COLUMN), an Iceberg
# partition a reader never names: a range on the column prunes; a batch table by its batch_id.
# Each job's own tables, apart: each scoring job's role is granted its own tables only (terraform/modules/iam).
BATCH_ICEBERG_DATASETS: tuple[Dataset, ...] = (BATCH_PREDICTIONS, BATCH_REJECTS, BATCH_FAILED, BATCH_DRIFT)
STREAM_ICEBERG_DATASETS: tuple[Dataset, ...] = (STREAM_PREDICTIONS, STREAM_DEAD_LETTER, STREAM_DRIFT)
ICEBERG_DATASETS: tuple[Dataset, ...] = BATCH_ICEBERG_DATASETS + STREAM_ICEBERG_DATASETS
TABLE_WAREHOUSE = Location(
    "results",
    "tables/",
    "The Iceberg tables' warehouse: each table's data and metadata under <prefix><database>/<table>/.",
)


def arrow_type(kind: str):
    """The pyarrow type a writer uses for a column of this catalog type."""
    import pyarrow as pa

    return {
        STRING: pa.string(),
        INT: pa.int32(),
        BIGINT: pa.int64(),
        DOUBLE: pa.float64(),
        TIMESTAMP: pa.timestamp("us", tz="UTC"),
        BINARY: pa.binary(),
    }[kind]


def arrow_schema(dataset: Dataset):
    import pyarrow as pa

    dataset._require_resolved()
    return pa.schema([pa.field(f.name, arrow_type(f.type)) for f in dataset.columns])


def arrow_table(columns: dict, dataset: Dataset):
    """`columns` (name -> pyarrow array) as a table in the dataset's contract order and types (what its catalog
    table declares): a column missing here, or one of another type, fails before anything is written."""
    import pyarrow as pa

    schema = arrow_schema(dataset)
    return pa.table([columns[f.name] for f in schema], schema=schema)
