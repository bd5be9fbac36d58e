"""What this project's code does first in a Spark Python worker, once per worker process.

Spark's worker calls `importlib.invalidate_caches()` at the start of every task it runs (pyspark 4.1,
pyspark/worker_util.py setup_spark_files). On Python 3.10 and 3.11 that re-reads the whole directory of every zip
archive on sys.path (CPython Lib/zipimport.py, zipimporter.invalidate_caches; made lazy in 3.12 by
python/cpython#103208, gh-103200, which names pyspark and py4j as the archives it slowed). A worker has three:
pyspark.zip (1,328 entries), py4j's and Spark's core jar (5,358 entries), about 22 ms of CPU per task on this
machine, and a streaming micro-batch runs several Python tasks: in a profile of the stream job's workers it was
three quarters of their busy time, against a fifth for parsing, scoring and writing the records.

Those archives are Spark's own installation and do not change while a worker lives, so their directories are read
once. Only the zip finders already in sys.path_importer_cache are replaced; anything added later (a new
`--py-files` archive) keeps Python's own finder until the next call.
"""

from __future__ import annotations

import sys
import zipimport


class _InstalledArchive(zipimport.zipimporter):
    """A zip on sys.path read once: its directory stays as it was read (the cache Python keeps per archive,
    zipimport._zip_directory_cache, is what the constructor takes)."""

    def invalidate_caches(self) -> None:
        return None


def keep_archive_directories() -> None:
    """Stop `importlib.invalidate_caches()` from re-reading the zip archives this process imports from. Idempotent
    and cheap after the first call; nothing to do on Python 3.12 and later."""
    if sys.version_info >= (3, 12):
        return
    for entry, finder in list(sys.path_importer_cache.items()):
        if type(finder) is zipimport.zipimporter:
            sys.path_importer_cache[entry] = _InstalledArchive(entry)
