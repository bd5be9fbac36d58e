"""The one change churn_tools.local.moto_server makes to moto: the same answers, without copying every key."""

from __future__ import annotations

import pytest
from moto.kinesis.models import Shard

from churn_tools.local import moto_server

ORIGINAL_MIN = Shard.get_min_sequence_number
ORIGINAL_MAX = Shard.get_max_sequence_number


def lookups(shard: Shard) -> dict[str, tuple[int, int]]:
    return {
        "moto": (ORIGINAL_MIN(shard), ORIGINAL_MAX(shard)),
        "patched": (moto_server._min_sequence_number(shard), moto_server._max_sequence_number(shard)),
    }


def test_sequence_number_lookups_answer_as_moto_does():
    shard = Shard(0, 0, 2**128)
    assert lookups(shard) == {"moto": (0, 0), "patched": (0, 0)}  # an empty shard
    numbers = [int(shard.put_record(f"key-{i}", "data", None)) for i in range(5)]
    assert lookups(shard) == {"moto": (1, 5), "patched": (1, 5)} and numbers == [1, 2, 3, 4, 5]
    # Records put after a lookup keep the two in step (the lookup is what the next put's number comes from).
    shard.put_record("key-5", "data", None)
    assert lookups(shard)["patched"] == lookups(shard)["moto"] == (1, 6)


def test_patch_installs_the_lookups_on_moto_shards(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(Shard, "get_min_sequence_number", ORIGINAL_MIN)
    monkeypatch.setattr(Shard, "get_max_sequence_number", ORIGINAL_MAX)
    moto_server.patch_kinesis()
    assert Shard.get_min_sequence_number is moto_server._min_sequence_number
    assert Shard.get_max_sequence_number is moto_server._max_sequence_number
