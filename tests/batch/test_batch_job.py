"""The batch job end to end on local Spark: the bad-input corpus, outputs, re-runs, formats, headers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from churn_pipeline.batch import BatchConfig, run
from churn_pipeline.batch.reader import BLANK_LINE, HEADER_LINE
from churn_pipeline.contract import outputs
from churn_pipeline.contract.features import ContractError
from churn_pipeline.model import Scorer
from churn_pipeline.scoring.config import ScoringConfig
from churn_pipeline.tables import JobTables
from churn_pipeline.training.datasets import read_churn_csv

from .helpers import GOOD_ROW, HEADER, write_lines


def row(phone: str, **changes: str) -> str:
    """GOOD_ROW with a distinct phone (the row's identity in these tests) and some fields replaced."""
    fields = dict(zip(HEADER.split(","), GOOD_ROW.split(","), strict=True))
    fields["Phone"] = phone
    fields.update({k.replace("_", " "): v for k, v in changes.items()})
    return ",".join(fields.values())


GOOD = row("100-0001")
PADDED = row("100-0002").replace(",128,", ", 128 ,")
UNKNOWN_STATE = row("100-0003", State="ZZ")
QUOTED_COMMA = row("100-0004").replace("100-0004", '"100,0004"')
NO_LABEL = row("100-0005").rsplit(",", 1)[0] + ","
TRUNCATED = ",".join(row("100-0006").split(",")[:10])
EXTRA_COLUMN = row("100-0007") + ",surplus"
NOT_A_NUMBER = row("100-0008", Account_Length="abc")
FRACTIONAL_COUNT = row("100-0009", Day_Calls="12.5")
QUOTED_COMMA_IN_NUMBER = row("100-0010").replace(",265.1,", ',"265,1",')
NEGATIVE = row("100-0011", Day_Mins="-265.1")
MISSING = row("100-0012", Eve_Mins="")

SCORED_PHONES = {"100-0001", "100-0002", "100-0003", "100,0004", "100-0005"}
EXPECTED_REJECTS = {
    (TRUNCATED, "WRONG_FIELD_COUNT", "row has 10 field(s), the header has 21"),
    (EXTRA_COLUMN, "WRONG_FIELD_COUNT", "row has 22 field(s), the header has 21"),
    (NOT_A_NUMBER, "NOT_A_NUMBER", "'Account Length' is not a whole number: 'abc'"),
    (FRACTIONAL_COUNT, "NOT_A_NUMBER", "'Day Calls' is not a whole number: '12.5'"),
    (QUOTED_COMMA_IN_NUMBER, "NOT_A_NUMBER", "'Day Mins' is not a number: '265,1'"),
    (NEGATIVE, "OUT_OF_RANGE", "'Day Mins' is -265.1, below the minimum 0"),
    (MISSING, "MISSING_VALUE", "'Eve Mins' is missing"),
}
CORPUS = [HEADER, GOOD, "", PADDED, UNKNOWN_STATE, QUOTED_COMMA, "   ", NO_LABEL, TRUNCATED, EXTRA_COLUMN,
          NOT_A_NUMBER, FRACTIONAL_COUNT, QUOTED_COMMA_IN_NUMBER, NEGATIVE, MISSING]  # fmt: skip


def job_tables(tmp_path, drift: bool = False) -> JobTables:
    """The run's tables in pyiceberg's SQL catalog under tmp_path/warehouse."""
    return JobTables.local(tmp_path / "warehouse", "batch", drift)


def config(tmp_path, input_path, model_dir, **overrides) -> BatchConfig:
    values = dict(
        input_path=str(input_path),
        tables=job_tables(tmp_path),
        scoring=ScoringConfig(mode="embedded", model_uri=str(model_dir)),
        progress_seconds=0,
    )
    values.update(overrides)
    return BatchConfig(**values)


def read_dataset(tmp_path, dataset: outputs.Dataset) -> pd.DataFrame:
    """What a reader of the table sees: its current snapshot's rows."""
    return job_tables(tmp_path).read(dataset)


def test_bad_input_corpus_each_line_has_its_outcome(spark, model_dir, tmp_path):
    source = write_lines(tmp_path / "in" / "corpus.csv", CORPUS)
    summary = run(spark, config(tmp_path, source, model_dir, batch_id="corpus"))

    assert (summary.rows_read, summary.scored, summary.rejected, summary.failed) == (12, 5, 7, 0)
    assert (summary.header_lines, summary.blank_lines) == (1, 2)
    assert summary.reject_codes == {
        "WRONG_FIELD_COUNT": 2,
        "NOT_A_NUMBER": 3,
        "OUT_OF_RANGE": 1,
        "MISSING_VALUE": 1,
    }
    assert summary.exit_code == 0

    rejects = read_dataset(tmp_path, outputs.BATCH_REJECTS)
    assert (
        set(zip(rejects.raw_line, rejects.error_code, rejects.error_reason, strict=True)) == EXPECTED_REJECTS
    )
    assert len(rejects) == len(EXPECTED_REJECTS)
    assert set(rejects.source_file) == {source.resolve().as_uri().replace("file:///", "file:/")}
    assert not set(rejects.error_code) & {HEADER_LINE, BLANK_LINE}

    scored = read_dataset(tmp_path, outputs.BATCH_PREDICTIONS)
    assert list(scored.columns) == [
        *HEADER.split(","), "churn_probability", "churn_prediction", "model_version", "scored_at", "batch_id",
    ]  # fmt: skip
    scored = scored.set_index("Phone").sort_index()
    assert set(scored.index) == SCORED_PHONES
    assert scored.loc["100-0002", "Account Length"] == 128  # padded value parsed, typed int
    assert scored.loc["100-0003", "State"] == "ZZ"  # unseen category: scored with an all-zero one-hot
    assert pd.isna(scored.loc["100-0005", "Churn?"])  # no label needed to score
    assert set(scored.batch_id) == {"corpus"}

    # Probabilities equal the model applied to the same rows outside Spark.
    expected_rows = write_lines(
        tmp_path / "expected.csv", [HEADER, GOOD, PADDED, UNKNOWN_STATE, QUOTED_COMMA, NO_LABEL]
    )
    frame = read_churn_csv(expected_rows)
    scorer = Scorer.from_dir(model_dir)
    expected = pd.Series(scorer.score(frame).probabilities, index=frame["Phone"]).sort_index()
    np.testing.assert_allclose(scored["churn_probability"].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-9)
    assert (scored["churn_prediction"] == (scored["churn_probability"] >= 0.5).astype(int)).all()
    assert set(scored.model_version) == {scorer.version}


def test_a_run_loads_each_table_to_check_it_and_to_commit_it_only(spark, model_dir, tmp_path, monkeypatch):
    """Each load is a GetTable and a metadata file read on AWS: the run reads a table's data location from the
    table its check loaded, and loads it again only to commit (a run takes minutes; the optimizers commit
    meanwhile). pyiceberg's own loads inside a commit are not the job's and are not counted."""
    import collections
    import sys

    from churn_pipeline import tables

    loads: collections.Counter[str] = collections.Counter()
    real_catalog = tables.catalog_from_settings

    def counting_catalog(settings):
        catalog = real_catalog(settings)
        load_table = catalog.load_table

        def counted(identifier):
            if not sys._getframe(1).f_globals["__name__"].startswith("pyiceberg."):
                loads[identifier] += 1
            return load_table(identifier)

        catalog.load_table = counted
        return catalog

    monkeypatch.setattr(tables, "catalog_from_settings", counting_catalog)
    source = write_lines(tmp_path / "in" / "corpus.csv", CORPUS)
    summary = run(spark, config(tmp_path, source, model_dir, batch_id="loads"))
    assert (summary.scored, summary.rejected) == (5, 7)
    written = (outputs.BATCH_PREDICTIONS, outputs.BATCH_REJECTS, outputs.BATCH_FAILED)
    assert dict(loads) == {f"batch.{dataset.table}": 2 for dataset in written}


def test_rerun_replaces_its_partition_and_keeps_other_batches(spark, model_dir, tmp_path):
    source = write_lines(tmp_path / "in" / "day.csv", [HEADER, GOOD, PADDED, NEGATIVE])
    first = run(spark, config(tmp_path, source, model_dir, batch_id="day-1"))
    again = run(spark, config(tmp_path, source, model_dir, batch_id="day-1"))
    assert (first.scored, first.rejected) == (again.scored, again.rejected) == (2, 1)
    scored = read_dataset(tmp_path, outputs.BATCH_PREDICTIONS)
    assert sorted(scored.Phone) == ["100-0001", "100-0002"]
    assert len(read_dataset(tmp_path, outputs.BATCH_REJECTS)) == 1

    # The same batch, corrected: its rejects disappear rather than linger from the first run.
    write_lines(source, [HEADER, GOOD, PADDED])
    run(spark, config(tmp_path, source, model_dir, batch_id="day-1"))
    assert read_dataset(tmp_path, outputs.BATCH_REJECTS).empty
    # Another batch lands beside it.
    run(spark, config(tmp_path, source, model_dir, batch_id="day-2"))
    scored = read_dataset(tmp_path, outputs.BATCH_PREDICTIONS)
    assert sorted(zip(scored.batch_id, scored.Phone, strict=True)) == [
        ("day-1", "100-0001"), ("day-1", "100-0002"), ("day-2", "100-0001"), ("day-2", "100-0002"),
    ]  # fmt: skip


def test_directory_of_files_with_any_case_header_and_extra_columns(spark, model_dir, tmp_path):
    header = HEADER.lower() + ",customer_id"
    write_lines(tmp_path / "in" / "part-1.csv", [header, GOOD + ",c-1", PADDED + ",c-2"])
    write_lines(tmp_path / "in" / "part-2.txt", ["\ufeff" + header, UNKNOWN_STATE + ",c-3"])  # with a BOM
    summary = run(spark, config(tmp_path, tmp_path / "in", model_dir, batch_id="dir"))
    assert (summary.rows_read, summary.scored, summary.header_lines) == (3, 3, 2)

    out = read_dataset(tmp_path, outputs.BATCH_PREDICTIONS)
    # The described columns as the model's description spells them (one schema for every batch of the
    # table, whatever case a file's header uses), the undescribed ones after them as read: the table takes
    # them on by schema evolution (Iceberg adds columns at the end).
    assert list(out.columns) == [*HEADER.split(","), "customer_id", "churn_probability", "churn_prediction",
                                 "model_version", "scored_at", "batch_id"]  # fmt: skip
    assert sorted(out.customer_id) == ["c-1", "c-2", "c-3"]


def test_header_without_a_required_column_is_refused_naming_it(spark, model_dir, tmp_path):
    source = write_lines(tmp_path / "in" / "bad.csv", [HEADER.replace("Day Mins", "Day Minutes"), GOOD])
    with pytest.raises(ContractError, match="missing column.*'Day Mins'"):
        run(spark, config(tmp_path, source, model_dir))
