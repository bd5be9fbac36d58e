"""A thin fake of the `awsglue` library, which exists only inside AWS Glue: the few calls the entry scripts make.

Argument resolution and Job bookkeeping behave as Glue documents them; each job's tests supply the
GlueContext it needs. Installed into a temporary directory on sys.path for one test, removed afterwards.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

BASE_FILES = {
    "__init__.py": "",
    "utils.py": '''
        def getResolvedOptions(argv, names):
            """Glue's contract: every name must be given as --name value; JOB_NAME too."""
            values = {}
            for index, arg in enumerate(argv):
                if arg.startswith("--") and arg[2:] in names:
                    values[arg[2:]] = argv[index + 1]
            missing = [n for n in names if n not in values]
            if missing:
                raise SystemExit(f"missing job arguments: {missing}")
            return values
    ''',
    "context.py": """
        from pyspark.sql import SparkSession

        class GlueContext:
            def __init__(self, spark_context):
                self.spark_session = SparkSession.builder.getOrCreate()
    """,
    "job.py": """
        EVENTS = []

        class Job:
            def __init__(self, glue_context):
                self.glue_context = glue_context

            def init(self, name, args):
                EVENTS.append(("init", name, dict(args)))

            def commit(self):
                EVENTS.append(("commit",))
    """,
}


def installed(directory: Path, monkeypatch: pytest.MonkeyPatch, files: Mapping[str, str]) -> Iterator[None]:
    """Write the fake package under `directory`, put it on sys.path, and forget its modules afterwards."""
    package = directory / "fake" / "awsglue"
    package.mkdir(parents=True)
    for name, source in files.items():
        (package / name).write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(directory / "fake"))
    yield
    for module in [m for m in sys.modules if m == "awsglue" or m.startswith("awsglue.")]:
        del sys.modules[module]
