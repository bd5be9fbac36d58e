"""What a JVM's GC log (`-Xlog:gc:file=...`, JDK 9+) says of a run: collections, pause time, heap occupancy.

The share of a run spent in GC pauses tells whether a job is short of heap (it climbs steeply when it is).
Heap in use after a collection is only an upper bound on what the job holds: after a young collection, the
old generation still carries garbage until the next marking cycle, so its peak grows with how long a run
lasts between cycles, not only with what the job keeps.
"""

from __future__ import annotations

import re
from pathlib import Path

# [1.234s][info][gc] GC(7) Pause Young (Normal) (G1 Evacuation Pause) 612M->118M(2048M) 9.876ms
PAUSE = re.compile(r"GC\(\d+\) Pause .*?(\d+)([KMG])->(\d+)([KMG])\((\d+)([KMG])\) ([\d.]+)ms")
# [5.678s][info][gc] GC(9) Pause Full (System.gc()) 812M->97M(2048M) 120.5ms: what a full collection leaves is
# the live heap (no garbage survives it), unlike the heap after a young collection.
FULL = re.compile(r"GC\(\d+\) Pause Full \(System\.gc\(\)\) (\d+)([KMG])->(\d+)([KMG])")
MB_PER_UNIT = {"K": 1 / 1024, "M": 1.0, "G": 1024.0}


def jvm_options(log_path: Path) -> str:
    """The option that writes the log `summarise` reads."""
    return f"-Xlog:gc:file={log_path}"


def summarise(log_path: Path) -> dict:
    """Collections, their pause time, the peak heap in use after a collection, the peak committed (MB)."""
    pauses_ms, after_mb, committed_mb, live_mb = [], [], [], []
    for line in log_path.read_text().splitlines():
        full = FULL.search(line)
        if full is not None:
            live_mb.append(int(full[3]) * MB_PER_UNIT[full[4]])
        match = PAUSE.search(line)
        if match is None:
            continue
        after_mb.append(int(match[3]) * MB_PER_UNIT[match[4]])
        committed_mb.append(int(match[5]) * MB_PER_UNIT[match[6]])
        pauses_ms.append(float(match[7]))
    if not pauses_ms:
        raise ValueError(f"no GC pause in {log_path}: was the JVM started with {jvm_options(log_path)}?")
    return {
        "collections": len(pauses_ms),
        "pause_seconds": round(sum(pauses_ms) / 1000, 3),
        "peak_heap_after_gc_mb": round(max(after_mb), 1),
        "peak_heap_committed_mb": round(max(committed_mb), 1),
        # The largest live heap a requested full collection found (None: none was requested).
        "peak_live_heap_mb": round(max(live_mb), 1) if live_mb else None,
    }
