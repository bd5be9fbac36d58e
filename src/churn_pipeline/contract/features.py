"""The feature contract: fixed at training time, shared by every scorer.

The tutorial one-hot encoded each Glue micro-batch from the distinct values found in that batch, so a
small batch produced a vector of the wrong width and order. Here the vocabulary of every categorical
column is frozen into a versioned JSON spec when the model is trained, and ONE function, `encode`,
turns rows into the model's float matrix for training, the batch job, the streaming job and endpoint
payloads alike. Which columns are features, their bounds and whether a blank is allowed come from the
dataset description (contract.dataset); a spec is derived from it and the training data by `build_spec`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from churn_pipeline.contract.codes import MISSING_VALUE, NOT_A_NUMBER, OUT_OF_RANGE
from churn_pipeline.contract.dataset import DatasetDescription, canonical, tutorial
from churn_pipeline.contract.errors import ContractError

log = logging.getLogger(__name__)

# 2: bounds and blanks per column, from the dataset description. 1: one lower bound for every numeric column,
# no blanks allowed in numeric columns (models trained before descriptions; still loaded).
SPEC_VERSION = 2
SUPPORTED_SPEC_VERSIONS = (1, 2)
SPEC_FILENAME = "feature_spec.json"


@dataclass(frozen=True)
class CategoricalColumn:
    name: str
    vocabulary: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSpec:
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[CategoricalColumn, ...]
    # The raw columns that are not features (id, label, passthrough, ignored): never required by `encode`.
    dropped_columns: tuple[str, ...] = ()
    # (min, max) per numeric column, either None for no bound: a value outside is rejected (OUT_OF_RANGE).
    bounds: Mapping[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # Columns whose blank is a missing value: NaN for XGBoost (numeric) or an all-zero one-hot (categorical),
    # instead of a MISSING_VALUE reject.
    blank_allowed: tuple[str, ...] = ()
    spec_version: int = SPEC_VERSION

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numeric_columns)
        for cat in self.categorical_columns:
            names.extend(f"{cat.name}_{value}" for value in cat.vocabulary)
        return names

    @property
    def n_features(self) -> int:
        return len(self.numeric_columns) + sum(len(c.vocabulary) for c in self.categorical_columns)

    @property
    def input_columns(self) -> list[str]:
        """The raw columns the model needs, in spec order (what a scorer must ship to Python)."""
        return list(self.numeric_columns) + [c.name for c in self.categorical_columns]

    def allows_blank(self, column: str) -> bool:
        return column in self.blank_allowed

    def to_dict(self) -> dict:
        return {
            "spec_version": self.spec_version,
            "dropped_columns": list(self.dropped_columns),
            "numeric_columns": list(self.numeric_columns),
            "bounds": {name: list(self.bounds[name]) for name in self.numeric_columns if name in self.bounds},
            "blank_allowed": list(self.blank_allowed),
            "categorical_columns": [
                {"name": c.name, "vocabulary": list(c.vocabulary)} for c in self.categorical_columns
            ],
            "n_features": self.n_features,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping) -> FeatureSpec:
        version = data.get("spec_version")
        if version not in SUPPORTED_SPEC_VERSIONS:
            raise ContractError(
                f"feature spec version {version!r} is not supported (expected one of {SUPPORTED_SPEC_VERSIONS})"
            )
        numeric = tuple(data["numeric_columns"])
        categorical = tuple(
            CategoricalColumn(c["name"], tuple(c["vocabulary"])) for c in data["categorical_columns"]
        )
        bounds: dict[str, tuple[float | None, float | None]]
        if version == 1:
            # A model from before descriptions: one lower bound for all numeric columns, and a blank category
            # was an unseen one (all-zero one-hot), never a reject.
            lower = float(data["numeric_lower_bound"])
            bounds = {name: (lower, None) for name in numeric}
            blank_allowed = tuple(c.name for c in categorical)
        else:
            bounds = {name: (_bound(low), _bound(high)) for name, (low, high) in data["bounds"].items()}
            blank_allowed = tuple(data["blank_allowed"])
        spec = cls(
            numeric_columns=numeric,
            categorical_columns=categorical,
            dropped_columns=tuple(data["dropped_columns"]),
            bounds=bounds,
            blank_allowed=blank_allowed,
        )
        if "n_features" in data and data["n_features"] != spec.n_features:
            raise ContractError(
                f"feature spec is inconsistent: n_features={data['n_features']} but the columns give {spec.n_features}"
            )
        return spec

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def load(cls, path: str | Path) -> FeatureSpec:
        path = Path(path)
        if path.is_dir():
            path = path / SPEC_FILENAME
        return cls.from_json(path.read_text())

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / SPEC_FILENAME
        path.write_text(self.to_json())
        return path


def _bound(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def build_spec(frame: pd.DataFrame, description: DatasetDescription | None = None) -> FeatureSpec:
    """Freeze the contract from the description (default: the tutorial's) and the training data: the
    features in the description's order; each categorical's vocabulary as the description fixes it, or else
    its sorted training values."""
    description = description or tutorial()
    categorical = [c.name for c in description.categorical_features]
    present = resolve_columns(frame.columns, [c.name for c in description.columns if c.role != "ignored"])
    cats = []
    for column in description.categorical_features:
        if column.vocabulary is not None:
            vocabulary = column.vocabulary
        else:
            values = frame[present[column.name]].dropna().map(normalise_category)
            vocabulary = tuple(sorted(set(values) - {""}))
        cats.append(CategoricalColumn(column.name, vocabulary))
    features = {c.name for c in description.numeric_features} | set(categorical)
    return FeatureSpec(
        numeric_columns=tuple(c.name for c in description.numeric_features),
        categorical_columns=tuple(cats),
        dropped_columns=tuple(c.name for c in description.columns if c.name not in features),
        bounds={c.name: (c.minimum, c.maximum) for c in description.numeric_features},
        blank_allowed=tuple(c.name for c in description.columns if c.name in features and c.blank_allowed),
    )


def resolve_columns(available: Iterable[str], required: Iterable[str]) -> dict[str, str]:
    """Map each required column to the available one with the same name, ignoring case and padding."""
    by_key: dict[str, str] = {}
    for col in available:
        key = canonical(str(col))
        if key in by_key:
            raise ContractError(
                f"columns {by_key[key]!r} and {col!r} differ only in case; cannot tell them apart"
            )
        by_key[key] = str(col)
    missing = [name for name in required if canonical(name) not in by_key]
    if missing:
        raise ContractError(
            "missing required column(s): "
            + ", ".join(repr(m) for m in missing)
            + f"; found {len(by_key)} column(s): "
            + ", ".join(repr(c) for c in by_key.values())
        )
    return {name: by_key[canonical(name)] for name in required}


def normalise_category(value: object) -> str:
    """One spelling per category: trimmed text; 415, 415.0 and '415' are the same area code."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


@dataclass
class EncodedBatch:
    """Result of `encode`: the float matrix of the valid rows and the reason for every rejected row."""

    matrix: np.ndarray  # float32, shape (n_valid, n_features), rows in input order
    valid: np.ndarray  # bool, shape (n_rows,): which input rows made it into `matrix`
    reject_code: pd.Series  # str per rejected row, indexed like the input
    reject_reason: pd.Series  # human-readable reason per rejected row, indexed like the input
    unknown_categories: dict[str, int] = field(default_factory=dict)  # column -> rows with unseen value

    @property
    def n_rejected(self) -> int:
        return int((~self.valid).sum())


def encode(frame: pd.DataFrame, spec: FeatureSpec) -> EncodedBatch:
    """Turn raw rows (any column order or case, extra columns ignored) into the model's float matrix.

    - a required column absent from the frame -> ContractError naming it (the input is unusable);
    - a non-numeric or infinite numeric value, or one outside the column's bounds -> the row is rejected;
    - a blank in a column whose blank is not allowed -> the row is rejected (MISSING_VALUE); where it is
      allowed, a numeric blank is NaN (XGBoost's missing value) and a categorical one an all-zero one-hot;
    - an unseen (or allowed missing) category -> all-zero one-hot, counted in `unknown_categories`.
    """
    columns = resolve_columns(frame.columns, spec.input_columns)
    n_rows = len(frame)
    matrix = np.zeros((n_rows, spec.n_features), dtype=np.float32)
    codes = np.full(n_rows, None, dtype=object)
    reasons = np.full(n_rows, None, dtype=object)

    for j, name in enumerate(spec.numeric_columns):
        raw = frame[columns[name]]
        values = _per_distinct_value(raw, _to_float, np.nan)
        missing = _per_distinct_value(raw, _missing_mask, True)
        not_number = ~missing & ~np.isfinite(values)
        low, high = spec.bounds.get(name, (None, None))
        checked = ~missing & ~not_number
        if not spec.allows_blank(name):
            _note(codes, reasons, missing, MISSING_VALUE, lambda i, n=name: f"{n!r} is missing")
        _note(
            codes,
            reasons,
            not_number,
            NOT_A_NUMBER,
            lambda i, n=name, r=raw: f"{n!r} is not a number: {r.iloc[i]!r}",
        )
        if low is not None:
            _note(
                codes,
                reasons,
                checked & (values < low),
                OUT_OF_RANGE,
                lambda i, n=name, v=values, b=low: f"{n!r} is {v[i]:g}, below the minimum {b:g}",
            )
        if high is not None:
            _note(
                codes,
                reasons,
                checked & (values > high),
                OUT_OF_RANGE,
                lambda i, n=name, v=values, b=high: f"{n!r} is {v[i]:g}, above the maximum {b:g}",
            )
        # A blank the description allows reaches XGBoost as NaN, its missing value (training and every scorer).
        matrix[:, j] = np.where(np.isfinite(values), values, np.nan if spec.allows_blank(name) else 0.0)

    # Per categorical column, each distinct value is looked at once (its blankness and vocabulary position),
    # and every row's one-hot cell is set in one scatter at the end. A pandas string check and a masked
    # scatter per column cost 1.06 us per row on Telco-shaped 50,000-row batches (16 categoricals), 0.64 now.
    n_categorical = len(spec.categorical_columns)
    hot_columns = np.empty((n_rows, n_categorical), dtype=np.int64)  # the row's one-hot column, -1: none
    offset = len(spec.numeric_columns)
    unknown: dict[str, int] = {}
    for k, cat in enumerate(spec.categorical_columns):
        positions, missing = _category_positions(frame[columns[cat.name]], cat.vocabulary)
        if not spec.allows_blank(cat.name):
            _note(codes, reasons, missing, MISSING_VALUE, lambda i, n=cat.name: f"{n!r} is missing")
        known = positions >= 0
        hot_columns[:, k] = np.where(known, positions + offset, -1)
        n_unknown = n_rows - int(np.count_nonzero(known))
        if n_unknown:
            unknown[cat.name] = n_unknown
        offset += len(cat.vocabulary)

    # One-hot cells set through the flat view, by element number: numpy's two-array fancy indexing of the
    # 2-D matrix took five times as long (a quarter of encode's time on a 50,000-row batch).
    cells = hot_columns + (np.arange(n_rows, dtype=np.int64) * spec.n_features)[:, None]
    matrix.reshape(-1)[cells[hot_columns >= 0] if unknown else cells.reshape(-1)] = 1.0

    if unknown:
        log.warning(
            "unseen category values encoded as all-zero one-hot: %s",
            ", ".join(f"{k}={v} row(s)" for k, v in unknown.items()),
        )
    valid = codes == None  # noqa: E711 - elementwise over the object array of codes
    rejected_index = frame.index[~valid]
    return EncodedBatch(
        matrix=matrix if valid.all() else matrix[valid],  # no copy of a batch without rejects
        valid=valid,
        reject_code=pd.Series(codes[~valid], index=rejected_index, dtype=object),
        reject_reason=pd.Series(reasons[~valid], index=rejected_index, dtype=object),
        unknown_categories=unknown,
    )


def _category_positions(raw: pd.Series, vocabulary: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the index of its value in `vocabulary` (case and padding ignored; -1 for a missing or unseen
    value), and whether it is missing (None, NaN or blank text, as `_missing_mask` says).

    Each distinct value is looked at once, not each row: a batch holds a few dozen distinct states and plans,
    and per-row Python calls were the encoder's hot spot. Values that cannot be hashed (a JSON list, say) are
    looked at row by row instead; they end up unseen either way.
    """
    lookup = {canonical(v): i for i, v in enumerate(vocabulary)}

    def position(value: object) -> int:
        return -1 if _is_missing(value) else lookup.get(canonical(normalise_category(value)), -1)

    try:
        as_category = raw if isinstance(raw.dtype, pd.CategoricalDtype) else raw.astype("category")
    except TypeError:
        log.debug("column %r holds unhashable values; normalising it row by row", raw.name)
        positions = np.fromiter((position(v) for v in raw), dtype=np.int64, count=len(raw))
        return positions, _missing_mask(raw)
    categories = as_category.cat.categories
    row_codes = as_category.cat.codes.to_numpy()
    per_category = np.array([position(v) for v in categories] + [-1], dtype=np.int64)
    missing = np.append(_category_missing(categories), True)
    return per_category[row_codes], missing[row_codes]  # code -1 (missing) picks the trailing entries


def _category_missing(categories: pd.Index) -> np.ndarray:
    """`_missing_mask` of a categorical's distinct values (categories are never NaN, so only blank text is
    missing): numbers never are; text is tested in plain Python (what Spark's Arrow strings become), as
    pandas' string `strip() == ""` does, without building a Series per column and batch; anything else goes
    through `_missing_mask` itself."""
    if categories.dtype.kind in "biuf":
        return np.zeros(len(categories), dtype=bool)
    values = categories.tolist()
    if all(type(v) is str for v in values):
        return np.array([not v.strip() for v in values], dtype=bool)
    return _missing_mask(pd.Series(categories, dtype=categories.dtype))


def _is_missing(value: object) -> bool:
    missing = pd.isna(value)
    return bool(missing) if np.ndim(missing) == 0 else False


def _per_distinct_value(raw: pd.Series, per_row, if_missing) -> np.ndarray:
    """per_row(series) -> array, evaluated once per distinct value when `raw` is categorical (as the Spark
    scorer hands it over): parsing every row's text was most of the encoder's time, with about a thousand
    distinct values in a 50,000-row batch."""
    if not isinstance(raw.dtype, pd.CategoricalDtype):
        return per_row(raw)
    per_category = per_row(pd.Series(raw.cat.categories, dtype=raw.cat.categories.dtype))
    return np.append(per_category, if_missing)[raw.cat.codes.to_numpy()]  # code -1 (missing) picks if_missing


def _missing_mask(raw: pd.Series) -> np.ndarray:
    if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
        return raw.isna().to_numpy() | (raw.astype("string").str.strip() == "").fillna(True).to_numpy()
    return raw.isna().to_numpy()


def _to_float(raw: pd.Series) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=np.float64, na_value=np.nan)
    # Booleans are not numbers here: JSON `true` for a minutes field is a producer bug, not 1.0.
    as_text = raw.map(lambda v: v if isinstance(v, str) else (None if isinstance(v, bool) else v))
    return pd.to_numeric(as_text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _note(codes: np.ndarray, reasons: np.ndarray, mask: np.ndarray, code: str, describe) -> None:
    """Record a reject reason for the rows in `mask`; the first problem of a row sets its code."""
    for i in np.flatnonzero(mask):
        text = describe(i)
        if codes[i] is None:
            codes[i] = code
            reasons[i] = text
        else:
            reasons[i] = f"{reasons[i]}; {text}"


def labels(frame: pd.DataFrame, description: DatasetDescription, source: str = "the data") -> np.ndarray:
    """The binary label column (1 for a positive value, 0 for a negative one), matched case-insensitively;
    ContractError naming the data rows whose label is neither."""
    name = description.label_column
    column = resolve_columns(frame.columns, [name])[name]
    values = frame[column].astype("string").str.strip()
    positive = values.isin(description.positive_labels).to_numpy()
    unknown = ~(positive | values.isin(description.negative_labels).to_numpy())
    if unknown.any():
        rows = np.flatnonzero(unknown)
        examples = ", ".join(
            f"data row {i + 1}: {values.iloc[i] if not pd.isna(values.iloc[i]) else '<blank>'!r}"
            for i in rows[:5]
        )
        raise ContractError(
            f"{source}: label column {name!r} has {len(rows)} value(s) that are neither positive "
            f"{list(description.positive_labels)} nor negative {list(description.negative_labels)} "
            f"({examples}{', ...' if len(rows) > 5 else ''})"
        )
    return positive.astype(np.float32)
