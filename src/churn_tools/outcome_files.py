"""Outcome files made from a data set's own labels, as a team would drop them under `outcomes/` (the quality job's
input, churn_pipeline.quality.outcomes): the description's id and label columns under their own names, and
known_at. `make demo` and `make bench` feed such a file to the quality job next to the scores of the same rows.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from churn_pipeline.contract.dataset import INTEGER, DatasetDescription
from churn_pipeline.quality.outcomes import outcome_header


def known_at_now() -> datetime.datetime:
    """The next whole second (UTC), once it has passed: after every score written so far, and never in the
    future of a quality run started next (which rejects a known_at after its start as FUTURE_KNOWN_AT)."""
    now = datetime.datetime.now(datetime.UTC)
    known_at = now.replace(microsecond=0) + datetime.timedelta(seconds=1)
    time.sleep(max(0.0, (known_at - now).total_seconds()) + 0.01)
    return known_at


def iso(moment: datetime.datetime) -> str:
    """known_at as written: ISO-8601 with a Z (the reader takes a timestamp without an offset as UTC too)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def own_label_outcomes(
    data: Path, description: DatasetDescription, known_at: datetime.datetime
) -> tuple[pd.DataFrame, int]:
    """(one outcome per customer of `data`: its id, its own label and known_at; the number of ids left out).

    An id the data gives to more than one row is left out: an outcome names one customer, and the job would
    join it to the latest score of that id whichever row it came from (the synthetic generator draws phone
    numbers at random, so a few of them are shared)."""
    id_column, label_column, known_at_column = outcome_header(description)
    frame = pd.read_csv(
        data, usecols=[id_column, label_column], dtype=str, keep_default_na=False, skipinitialspace=True
    )
    shared = frame[id_column].duplicated(keep=False)
    outcomes = frame.loc[~shared, [id_column, label_column]].reset_index(drop=True)
    outcomes[known_at_column] = iso(known_at)
    return outcomes, int(frame.loc[shared, id_column].nunique())


def write_outcomes(outcomes: pd.DataFrame, target: Path, extra_lines: Sequence[Sequence[str]] = ()) -> Path:
    """The outcomes as CSV with a header, then `extra_lines` (rows of the same columns: e.g. bad ones)."""
    rows = pd.DataFrame([list(line) for line in extra_lines], columns=outcomes.columns, dtype=str)
    target.parent.mkdir(parents=True, exist_ok=True)
    pd.concat([outcomes, rows], ignore_index=True).to_csv(target, index=False, lineterminator="\n")
    return target


def unknown_id(ids: pd.Series, description: DatasetDescription) -> str:
    """An id no row of the data has, of the id column's type (an integer id must stay an integer, or the
    reader would reject it as MISSING_ID rather than the join as NOT_SCORED)."""
    if description.column(outcome_header(description)[0]).type == INTEGER:
        return str(pd.to_numeric(ids).max() + 1)
    candidate = "no-such-customer"
    while candidate in set(ids):
        candidate += "-x"
    return candidate


def unknown_label(description: DatasetDescription) -> str:
    """A label value the description does not know (the reader rejects it as UNKNOWN_LABEL)."""
    known = {*description.positive_labels, *description.negative_labels}
    candidate = "Maybe."
    while candidate in known:
        candidate += "?"
    return candidate
