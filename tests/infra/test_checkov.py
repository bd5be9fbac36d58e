"""checkov on terraform/: no failed check, and every skip written next to its resource with a reason."""

from __future__ import annotations

import json
import re
from pathlib import Path


def test_checkov_has_no_failed_check_and_every_skip_has_a_reason(checkov_report):
    report = json.loads(checkov_report.read_text())
    report = report[0] if isinstance(report, list) else report
    summary, results = report["summary"], report["results"]
    print(f"checkov {summary['checkov_version']}: {summary}")
    failed = [(c["check_id"], c["resource"], c["file_path"]) for c in results["failed_checks"]]
    assert summary["failed"] == 0 and failed == [], failed
    assert summary["parsing_errors"] == 0 and summary["passed"] > 50
    # The JSON report carries no reason: read the skip comment inside the skipped block itself.
    for check in results["skipped_checks"]:
        first, last = check["file_line_range"]
        block = Path(check["file_abs_path"]).read_text().splitlines()[first - 1 : last]
        reasons = [
            m.group(1).strip()
            for line in block
            if (m := re.search(rf"checkov:skip={check['check_id']}:(.*)", line))
        ]
        assert reasons and len(reasons[0]) > 20, (
            f"{check['check_id']} on {check['resource']} is skipped without a reason"
        )
