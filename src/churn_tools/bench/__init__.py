"""Measuring scripts: throughput and latency figures side by side, outside `make test`."""
