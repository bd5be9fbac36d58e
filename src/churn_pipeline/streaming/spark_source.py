"""The Spark side of the Kinesis source: PySpark's Python streaming data source API (Spark 4).

    spark.dataSource.register(KinesisDataSource)
    spark.readStream.format("churn_kinesis").option("streamName", "churn").load()

Options: streamName (required), startingPosition TRIM_HORIZON | LATEST | AT_TIMESTAMP, startingTimestamp
(epoch seconds or ISO-8601, for AT_TIMESTAMP), maxRecordsPerShard (per micro-batch), region.
The offset logic is in `kinesis_source`; this module only adapts it to Spark's reader interface.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition

from churn_pipeline.spark_worker import keep_archive_directories
from churn_pipeline.streaming import kinesis_source as ks


class ShardPartition(InputPartition):
    def __init__(self, shard_range: ks.ShardRange, options: ks.SourceOptions):
        super().__init__(shard_range.shard_id)
        self.shard_range = shard_range
        self.options = options


class KinesisStreamReader(DataSourceStreamReader):
    def __init__(self, options: ks.SourceOptions):
        self.options = options
        self._client = None
        # Where the next batch starts: the initial offset on a new query, or the end of the last batch Spark
        # planned or committed when it restarts from a checkpoint (Spark tells us through partitions/commit).
        self._position: dict | None = None
        # The records the last planning read fetched, per shard, for the tasks of the batch it planned.
        self._read_ahead: dict[str, ks.ReadAhead] = {}

    @property
    def client(self):
        if self._client is None:
            self._client = ks.kinesis_client(self.options.region)
        return self._client

    def initialOffset(self) -> dict:
        return ks.initial_offset(self.client, self.options)

    def latestOffset(self) -> dict:
        if self._position is None:
            self._position = self.initialOffset()
        self._read_ahead = {}
        self._position = ks.plan_next_offset(self.client, self.options, self._position, self._read_ahead)
        return self._position

    def partitions(self, start: dict, end: dict) -> Sequence[InputPartition]:
        if self._position is None:
            self._position = end
        return [ShardPartition(r, self.options) for r in ks.plan_partitions(start, end, self._read_ahead)]

    def read(self, partition: InputPartition) -> Iterator:
        assert isinstance(partition, ShardPartition), partition
        keep_archive_directories()  # this worker's next tasks start without re-reading Spark's archives
        name = partition.options.stream_name
        r = partition.shard_range
        if r.records is not None:  # read ahead when the batch was planned: no second trip to the stream
            records = iter(r.records)
        else:
            client = ks.kinesis_client(partition.options.region)
            records = ks.read_shard_range(client, name, r.shard_id, r.start, r.end_seq)
        yield from ks.record_batches(name, r.shard_id, records)

    def commit(self, end: dict) -> None:
        if self._position is None:
            self._position = end

    def stop(self) -> None:
        self._client = None


class KinesisDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return ks.SOURCE_NAME

    def schema(self) -> str:
        return ks.SOURCE_SCHEMA

    def streamReader(self, schema) -> DataSourceStreamReader:
        return KinesisStreamReader(ks.SourceOptions.from_options(self.options))
