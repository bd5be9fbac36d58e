"""The verdict of a checkov run (`checkov -o json`), for the summary."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CheckovError(ValueError):
    pass


@dataclass(frozen=True)
class Failure:
    check_id: str
    name: str
    resource: str
    file: str


@dataclass(frozen=True)
class Verdict:
    passed: int
    failed: int
    skipped: int
    parsing_errors: int
    version: str
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.parsing_errors == 0


def parse(document: Any) -> Verdict:
    """One verdict over every framework in the report (checkov writes a list when it ran more than one)."""
    reports = document if isinstance(document, list) else [document]
    totals = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0}
    failures: list[Failure] = []
    version = ""
    for report in reports:
        if not isinstance(report, dict):
            raise CheckovError(f"not a checkov JSON report: expected objects, got {type(report).__name__}")
        summary = report.get("summary", report)
        if not set(totals) <= set(summary):
            raise CheckovError(
                f"not a checkov JSON report: summary lacks {sorted(set(totals) - set(summary))}"
            )
        for key in totals:
            totals[key] += int(summary[key])
        version = summary.get("checkov_version", version)
        for check in (report.get("results") or {}).get("failed_checks", []):
            failures.append(
                Failure(
                    check["check_id"],
                    check.get("check_name", ""),
                    check["resource"],
                    check.get("file_path", ""),
                )
            )
    return Verdict(
        **totals, version=version, failures=tuple(sorted(failures, key=lambda f: (f.resource, f.check_id)))
    )


def load(path: Path) -> Verdict:
    try:
        return parse(json.loads(Path(path).read_text()))
    except json.JSONDecodeError as exc:
        raise CheckovError(f"{path} is not JSON ({exc}); pass the output of `checkov -o json`") from exc
