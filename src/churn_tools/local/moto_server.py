"""moto server, with one fix to its Kinesis emulator: constant-time sequence-number lookups.

    python -m churn_tools.local.moto_server -H 127.0.0.1 -p 5000   # the same arguments as `python -m moto.server`

moto 5.2.5 finds a shard's last sequence number with `list(self.records.keys())[-1]`, a copy of every key, and
does so for each record put. A PutRecords call therefore costs time in proportion to the records already in the
shard: 500 records took 84 ms into a 4-shard stream holding 5,000 and 525 ms once it held 60,000, and in
cProfile 81% of a put's time was that copy. At 1,000 records/s the local Kinesis fell behind within a minute,
with a core busy, and the streaming job's latency measured moto rather than the job. The records are an
insertion-ordered dict keyed by increasing sequence numbers, so the first and last keys are the minimum and
maximum; the replacements below return exactly what the originals return. Everything else is moto as released.
"""

from __future__ import annotations

from moto.kinesis.models import Shard


def _min_sequence_number(shard: Shard) -> int:
    return next(iter(shard.records), 0)


def _max_sequence_number(shard: Shard) -> int:
    return next(reversed(shard.records), 0)


def patch_kinesis() -> None:
    Shard.get_min_sequence_number = _min_sequence_number
    Shard.get_max_sequence_number = _max_sequence_number


def main() -> None:
    from moto.server import main as moto_main

    patch_kinesis()
    moto_main()


if __name__ == "__main__":
    main()
