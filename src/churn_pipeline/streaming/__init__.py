"""Streaming scoring: Kinesis source, producer, micro-batch handler committing to Iceberg tables."""
