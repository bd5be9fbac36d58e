"""churn_pipeline.spark_worker: a Spark Python worker's zip archives are read once, not at every task."""

from __future__ import annotations

import importlib
import sys
import zipfile
import zipimport

import pytest

from churn_pipeline import spark_worker

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="Python 3.12 invalidates zip caches lazily: nothing to keep"
)


def _archive(path, modules: dict[str, str]):
    with zipfile.ZipFile(path, "w") as archive:
        for name, source in modules.items():
            archive.writestr(f"{name}.py", source)
    return str(path)


def test_archives_on_the_path_are_read_once_and_still_import(tmp_path, monkeypatch):
    first = _archive(tmp_path / "first.zip", {"h2_mod_a": "VALUE = 'a'\n", "h2_mod_b": "VALUE = 'b'\n"})
    monkeypatch.syspath_prepend(first)
    monkeypatch.setattr(sys, "path_importer_cache", dict(sys.path_importer_cache))
    assert importlib.import_module("h2_mod_a").VALUE == "a"
    assert type(sys.path_importer_cache[first]) is zipimport.zipimporter

    reads: list[str] = []
    real_read = zipimport._read_directory  # type: ignore[attr-defined]

    def counting_read(archive):
        reads.append(archive)
        return real_read(archive)

    monkeypatch.setattr(zipimport, "_read_directory", counting_read)
    importlib.invalidate_caches()  # what Spark's worker does before each task (pyspark worker_util)
    assert reads == [first]  # Python 3.11 reads the archive's directory again

    spark_worker.keep_archive_directories()
    reads.clear()
    importlib.invalidate_caches()
    assert reads == []
    # What the archive holds is still importable, including a module not imported before.
    assert importlib.import_module("h2_mod_b").VALUE == "b"
    spark_worker.keep_archive_directories()  # a second call (the next task in the same worker) changes nothing
    assert type(sys.path_importer_cache[first]).__name__ == "_InstalledArchive"

    # An archive added afterwards (a --py-files archive) keeps Python's own finder until the next call.
    later = _archive(tmp_path / "later.zip", {"h2_mod_c": "VALUE = 'c'\n"})
    monkeypatch.syspath_prepend(later)
    assert importlib.import_module("h2_mod_c").VALUE == "c"
    assert type(sys.path_importer_cache[later]) is zipimport.zipimporter
    for name in ("h2_mod_a", "h2_mod_b", "h2_mod_c"):
        monkeypatch.delitem(sys.modules, name)
