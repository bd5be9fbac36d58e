"""Streaming scoring: Kinesis source (Python data source API), producer, micro-batch handler, exactly-once sink."""
