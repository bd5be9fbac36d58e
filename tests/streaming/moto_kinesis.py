"""moto server with Kinesis resharding as AWS does it; run as `python moto_kinesis.py -H 127.0.0.1 -p PORT`.

moto 5.2.5 gets SplitShard/MergeShards wrong in two ways that matter to a consumer: it moves the parent's
records into the children (re-put with new sequence numbers and arrival times, so a consumer that has read the
parent sees them again), and it keeps routing new records to the closed parent (the first shard whose hash range
matches). On Kinesis a closed parent keeps its records until retention expires and new records go only to
open shards. This launcher patches those two methods and starts the ordinary moto server. It also lets streams
named throttled-* report partial PutRecords failures (which moto never does) to test the producer's retries.
"""

from __future__ import annotations

import sys
from operator import attrgetter

from moto.kinesis import models
from moto.kinesis.exceptions import InvalidArgumentError


def _next_index(stream) -> int:
    return sorted(stream.shards.values(), key=attrgetter("_shard_id"))[-1]._shard_id + 1


def split_shard(self, shard_to_split: str, new_starting_hash_key: str) -> None:
    shard = self.shards[shard_to_split]
    start = int(new_starting_hash_key)
    if not shard.is_open or not shard.starting_hash < start < shard.ending_hash:
        raise InvalidArgumentError(f"cannot split {shard_to_split} at {start}")
    index = _next_index(self)
    low = models.Shard(index, shard.starting_hash, start - 1, parent=shard.shard_id)
    high = models.Shard(index + 1, start, shard.ending_hash, parent=shard.shard_id)
    self.shards[low.shard_id] = low
    self.shards[high.shard_id] = high
    shard.is_open = False


def merge_shards(self, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    first, second = sorted(
        (self.shards[shard_to_merge], self.shards[adjacent_shard_to_merge]), key=attrgetter("starting_hash")
    )
    if first.ending_hash + 1 != second.starting_hash or not (first.is_open and second.is_open):
        raise InvalidArgumentError(f"cannot merge {shard_to_merge} and {adjacent_shard_to_merge}")
    child = models.Shard(
        _next_index(self),
        first.starting_hash,
        second.ending_hash,
        parent=first.shard_id,
        adjacent_parent=second.shard_id,
    )
    self.shards[child.shard_id] = child
    first.is_open = second.is_open = False


def get_shard_for_key(self, partition_key: str, explicit_hash_key: str):
    key = (
        int(explicit_hash_key)
        if explicit_hash_key
        else int(models.md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    )
    for shard in self.shards.values():
        if shard.is_open and shard.starting_hash <= key <= shard.ending_hash:
            return shard
    raise InvalidArgumentError(f"no open shard for hash key {key}")


_original_put_records = models.KinesisBackend.put_records
_failed_once: set[str] = set()
THROTTLED_PREFIX = "throttled-"


def put_records(self, stream_arn, stream_name, records):
    """On streams named throttled-*, every third record fails once with ProvisionedThroughputExceeded, as
    Kinesis reports a partial failure: FailedRecordCount > 0 and an ErrorCode on those entries, others stored."""
    if not (stream_name or "").startswith(THROTTLED_PREFIX):
        return _original_put_records(self, stream_arn, stream_name, records)
    failing = []
    for index, record in enumerate(records):
        key = record.get("Data", "")
        if index % 3 == 0 and key not in _failed_once:
            _failed_once.add(key)
            failing.append(index)
    passing = [r for i, r in enumerate(records) if i not in failing]
    stored = iter(_original_put_records(self, stream_arn, stream_name, passing)["Records"] if passing else [])
    error = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
    entries = [dict(error) if i in failing else next(stored) for i in range(len(records))]
    return {"FailedRecordCount": len(failing), "Records": entries}


models.KinesisBackend.put_records = put_records
models.Stream.split_shard = split_shard
models.Stream.merge_shards = merge_shards
models.Stream.get_shard_for_key = get_shard_for_key

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
