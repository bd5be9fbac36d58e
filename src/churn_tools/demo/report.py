"""The demo's closing report: rows per path, the named queries' answers, consistency checks, where outputs live."""

from __future__ import annotations

import json

import pandas as pd

from churn_pipeline.contract import codes, outputs
from churn_tools.demo.steps import StepFailed

SHOWN_FEATURE_QUERIES = 3


class DemoReport:
    def print_report(self) -> None:
        report = self.outcome.report
        batch, counts, produced = report["batch"], report["duckdb"], report["produced"]
        checks = {
            "batch: rows read = scored + rejected + failed": batch["rows_read"]
            == batch["scored"] + batch["rejected"] + batch["failed"],
            "batch: DuckDB sees every scored row once": counts["batch_scored"] == batch["scored"],
            "stream: produced = scored + dead-lettered": produced["total"]
            == counts["stream_scored"] + counts["dead_lettered"],
            "stream: each record_id once": counts["stream_distinct_records"] == counts["stream_scored"],
            "stream: an earlier snapshot, read back by time travel, held fewer scores, all in the current one": (
                report["time_travel"]["then_all_still_there"]
                and report["time_travel"]["rows_then"] < report["time_travel"]["rows_now"]
            ),
            "stream: CloudWatch DeadLetterRecords (the alarm's metric) = dead letters": counts[
                "cloudwatch_dead_letter_records"
            ]
            == counts["dead_lettered"],
            # The demo scores data from the generator the model was trained on: no drift to speak of.
            "drift: the batch is stable against the model's baseline (max PSI < 0.1)": batch["drift"][
                "available"
            ]
            and batch["drift"]["max_psi"] < 0.1,
            "drift: the shifted copy reaches the deployed drift alarm's condition": report["drift_demo"][
                "reached"
            ],
        }
        quality = report["quality"]
        if "skipped" not in quality:
            checks.update(quality_checks(quality))
        self.say("\n" + "=" * 78)
        self.say("Churn scoring demo — report")
        self.say("=" * 78)
        model = report["model"]
        self.say(
            f"model           {model['version']}  test AUC {model['test_auc']:.4f}  (validation {model['validation_auc']:.4f})"
        )
        self.say(
            f"batch  ({self.config.batch_mode:<8}) {batch['rows_read']:>9,} rows read   {batch['scored']:>9,} scored  "
            f"{batch['rejected']:>6,} rejected  {batch['failed']:>6,} failed"
        )
        self.say(
            f"stream ({self.config.stream_mode:<8}) {produced['total']:>9,} produced    {counts['stream_scored']:>9,} scored  "
            f"{counts['dead_lettered']:>6,} dead-lettered"
        )
        # One saved query per categorical feature of the model's data (churn_tools.analytics): the first few shown.
        by_feature = sorted(name for name in self.query_results if name.startswith("churn_rate_by_"))
        for name in by_feature[:SHOWN_FEATURE_QUERIES]:
            feature = self.query_results[name].columns[0]
            self.say(f"\nchurn rate by {feature}, top 5 (batch scores; saved query {name}):")
            self.say(_indent(self.query_results[name].head(5).to_string(index=False)))
        if len(by_feature) > SHOWN_FEATURE_QUERIES:
            self.say(f"  (and {', '.join(by_feature[SHOWN_FEATURE_QUERIES:])})")
        self.say("\nscore deciles (batch scores):")
        self.say(_indent(self.query_results["score_deciles"].to_string(index=False)))
        self.say("\ndead-letter summary (stream):")
        self.say(_indent(self.query_results["dead_letter_summary"].to_string(index=False)))
        self.say("\nlatest predictions (stream), 5 of them:")
        self.say(_indent(self.query_results["latest_predictions"].head(5).to_string(index=False)))
        travel = report["time_travel"]
        self.say(
            f"\ntime travel (stream scores, an Iceberg table of {travel['snapshots']} snapshots): snapshot "
            f"{travel['snapshot_id']} (micro-batch {travel['micro_batch']}, committed {travel['committed_at']}) held "
            f"{travel['rows_then']:,} scores; the current one holds {travel['rows_now']:,}. In Athena:\n"
            f"  {travel['athena_sql']}"
        )
        self.say(
            "\ndrift against the model's training baseline, batch run and stream micro-batches (latest first):"
        )
        self.say(_indent(self.query_results["drift_report"].head(8).to_string(index=False)))
        shifted = report["drift_demo"]
        self.say(
            f"shifted copy ({shifted['column']} x {shifted['factor']}): max PSI {shifted['max_psi']:.3f} "
            f"({shifted['max_feature']}); alarm {shifted['alarm']} (>= {shifted['threshold']}): "
            + ("condition reached" if shifted["reached"] else "not reached")
        )
        self.say_quality(quality)
        self.say("\nconsistency (DuckDB over the outputs vs the jobs' own counts):")
        for check, ok in checks.items():
            self.say(f"  {'ok  ' if ok else 'FAIL'} {check}")
        self.say("\nwhere everything lives:")
        for label, path in (
            ("data", self.data),
            ("model", self.model_dir),
            ("batch scores", self.batch_out),
            ("batch tables", self.batch_tables.catalog.warehouse),
            ("stream scores", self.stream_out),
            ("dead letters", self.dead_letter),
            ("outcomes", getattr(self, "outcomes_file", "-")),
            ("model quality", self.quality_out),
            ("logs", self.logs),
            ("terraform state", self.work / "terraform" / "local"),
        ):
            self.say(f"  {label:<16} {path}")
        self.say("\nstep times: " + ", ".join(f"{t:.0f}s" for t in self.outcome.step_seconds.values()))
        (self.work / "report.json").write_text(
            json.dumps({**report, "checks": checks}, indent=2, default=str)
        )
        if not all(checks.values()):
            raise StepFailed("the report's counts do not add up (see the consistency checks above)")

    def say_quality(self, quality: dict) -> None:
        if "skipped" in quality:
            self.say(f"\nmodel quality: not measured ({quality['skipped']})")
            return
        outcomes = quality["outcomes"]
        self.say(
            f"\nmodel quality (the quality job: {outcomes['customers']:,} customers' own labels as outcomes, "
            "joined to their latest score; per model version and ISO week of scoring):"
        )
        table = pd.DataFrame(quality["table"])
        self.say(_indent(table.to_string(index=False, float_format=lambda v: f"{v:.4f}")))
        counts = ", ".join(f"{code} {count:,}" for code, count in sorted(quality["reject_codes"].items()))
        planted = ", ".join(sorted(outcomes["planted"]))
        self.say(
            f"outcome rejects by code: {counts or 'none'} (bad lines planted in the file: {planted}; "
            f"{outcomes['ids_shared_by_rows_left_out']:,} id(s) shared by two rows of the data left out)"
        )
        if quality["alarm_threshold"] is not None:
            state = "BELOW" if quality["alarm"] else "not below"
            self.say(
                f"deployed {quality['deployed_model_version']}: latest AUC {state} the alarm threshold "
                f"{quality['alarm_threshold']:.4f} (test AUC {quality['test_auc']:.4f} - margin {quality['auc_margin']})"
            )


def quality_checks(quality: dict) -> dict[str, bool]:
    """The quality run's counts against the outcome file the demo wrote and the scores DuckDB sees."""
    outcomes = quality["outcomes"]
    unscored = outcomes["customers_without_a_score"]
    expected_rejects = {**outcomes["planted"]}
    expected_rejects[codes.NOT_SCORED] = expected_rejects.get(codes.NOT_SCORED, 0) + unscored
    joined, rejected = quality["joined"], quality["rejected"]
    table_rows = sum(row[outputs.ROWS] for row in quality["table"])
    # The demo scores the data the model was trained on: its AUC there is no worse than on its test set.
    above_alarm = quality["alarm_threshold"] is not None and not quality["alarm"]
    return {
        "quality: outcome lines written = joined + rejected": outcomes["lines"] == joined + rejected,
        "quality: every customer with a score joined, each planted bad line rejected with its code": (
            joined == outcomes["customers"] - unscored and quality["reject_codes"] == expected_rejects
        ),
        "quality: the table's rows add up to the joined outcomes": table_rows == joined,
        "quality: the deployed model's AUC is not below its alarm threshold": above_alarm,
    }


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())
