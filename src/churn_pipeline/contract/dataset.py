"""The dataset description: the one place a column of the user's data is named.

A description is a JSON file a user writes (or has `churn-dataset infer` propose): every column of the raw
records in order, with its type, its role and whether a blank is allowed, and which label values mean churn.
Its JSON Schema (`dataset-description.schema.json`, package data beside this module) lets editors validate it;
`DatasetDescription.load` checks the same rules and more (one label, one id, a feature's type fits its role),
each error naming the file and the column.

Training writes the description into the model directory (model.ModelDir); every scorer, reader and writer
takes the columns from the model it scores with. The tutorial's dataset is one description among others,
shipped as package data (`tutorial()`), the default wherever none is given.
Kept compatible with Python 3.10 (Glue 4.0 runs the runtime package).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from churn_pipeline.contract.errors import ContractError

DESCRIPTION_VERSION = 1
DESCRIPTION_FILENAME = "dataset.json"
SCHEMA_RESOURCE = "dataset-description.schema.json"
TUTORIAL_RESOURCE = "tutorial-churn.dataset.json"

# Value types of a raw column, and the Glue catalog (Hive) type each is stored as.
STRING, INTEGER, DECIMAL = "string", "integer", "decimal"
TYPES = (STRING, INTEGER, DECIMAL)
CATALOG_TYPES = {STRING: "string", INTEGER: "int", DECIMAL: "double"}

# What a column is for. A passthrough column is kept in the outputs but is not a feature; an ignored one is
# read (its header must be there) and dropped.
ID, LABEL, NUMERIC, CATEGORICAL, PASSTHROUGH, IGNORED = (
    "id",
    "label",
    "numeric",
    "categorical",
    "passthrough",
    "ignored",
)
ROLES = (ID, LABEL, NUMERIC, CATEGORICAL, PASSTHROUGH, IGNORED)
FEATURE_ROLES = (NUMERIC, CATEGORICAL)

_COLUMN_KEYS = {"name", "type", "role", "blank_allowed", "min", "max", "vocabulary", "note"}
_TOP_KEYS = {"$schema", "description_version", "name", "label", "columns", "note"}


class DescriptionError(ContractError):
    """A dataset description that does not parse or contradicts itself; the message names file and column."""


def canonical(name: str) -> str:
    """Key for case-insensitive column matching (a Glue catalog lower-cases column names)."""
    return name.strip().lower()


@dataclass(frozen=True)
class ColumnDescription:
    name: str
    type: str
    role: str
    blank_allowed: bool = False
    minimum: float | None = None
    maximum: float | None = None
    vocabulary: tuple[str, ...] | None = None  # a categorical's fixed values (None: learned in training)
    note: str | None = None

    @property
    def catalog_type(self) -> str:
        return CATALOG_TYPES[self.type]

    @property
    def is_numeric_type(self) -> bool:
        return self.type in (INTEGER, DECIMAL)

    def to_dict(self) -> dict:
        data: dict = {"name": self.name, "type": self.type, "role": self.role}
        if self.blank_allowed:
            data["blank_allowed"] = True
        if self.minimum is not None:
            data["min"] = _plain_number(self.minimum)
        if self.maximum is not None:
            data["max"] = _plain_number(self.maximum)
        if self.vocabulary is not None:
            data["vocabulary"] = list(self.vocabulary)
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class DatasetDescription:
    name: str
    columns: tuple[ColumnDescription, ...]
    positive_labels: tuple[str, ...]
    negative_labels: tuple[str, ...]
    source: str = field(default="<memory>", compare=False)  # the file it came from, for messages

    # ------------------------------------------------------------------ derived views
    def column(self, name: str) -> ColumnDescription:
        found = self.by_canonical.get(canonical(name))
        if found is None:
            raise DescriptionError(f"{self.source}: no column {name!r} in the description")
        return found

    @property
    def by_canonical(self) -> dict[str, ColumnDescription]:
        return {canonical(c.name): c for c in self.columns}

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def _with_role(self, *roles: str) -> tuple[ColumnDescription, ...]:
        return tuple(c for c in self.columns if c.role in roles)

    @property
    def label_column(self) -> str:
        return self._with_role(LABEL)[0].name

    @property
    def id_column(self) -> str | None:
        ids = self._with_role(ID)
        return ids[0].name if ids else None

    @property
    def numeric_features(self) -> tuple[ColumnDescription, ...]:
        return self._with_role(NUMERIC)

    @property
    def categorical_features(self) -> tuple[ColumnDescription, ...]:
        return self._with_role(CATEGORICAL)

    @property
    def output_columns(self) -> tuple[ColumnDescription, ...]:
        """The raw columns the scored datasets keep, in file order: all but the ignored ones."""
        return tuple(c for c in self.columns if c.role != IGNORED)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """The columns a scoring input's header must hold: all but the label (new customers have none yet)."""
        return tuple(c.name for c in self.columns if c.role != LABEL)

    def catalog_columns(self) -> list[dict[str, str]]:
        """The output columns as Glue catalog columns (lower-cased names, Hive types)."""
        return [{"name": canonical(c.name), "type": c.catalog_type} for c in self.output_columns]

    def label_value(self, value: object) -> int | None:
        """1 for a positive label value, 0 for a negative one, None for anything else (matched trimmed)."""
        text = str(value).strip()
        if text in self.positive_labels:
            return 1
        if text in self.negative_labels:
            return 0
        return None

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        return {
            "description_version": DESCRIPTION_VERSION,
            "name": self.name,
            "label": {
                "column": self.label_column,
                "positive": list(self.positive_labels),
                "negative": list(self.negative_labels),
            },
            "columns": [c.to_dict() for c in self.columns],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.is_dir():
            path = path / DESCRIPTION_FILENAME
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def from_json(cls, text: str, source: str = "<memory>") -> DatasetDescription:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DescriptionError(f"{source}: not valid JSON: {exc}") from exc
        return cls.from_dict(data, source)

    @classmethod
    def load(cls, path: str | Path) -> DatasetDescription:
        path = Path(path)
        if path.is_dir():
            path = path / DESCRIPTION_FILENAME
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DescriptionError(f"{path}: cannot read the dataset description: {exc}") from exc
        return cls.from_json(text, str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = "<memory>") -> DatasetDescription:
        return _parse(data, source)


def tutorial() -> DatasetDescription:
    """The tutorial's dataset (churn.txt), the default description wherever none is given."""
    text = resources.files(__package__).joinpath(TUTORIAL_RESOURCE).read_text(encoding="utf-8")
    return DatasetDescription.from_json(text, f"{__package__}/{TUTORIAL_RESOURCE}")


def json_schema() -> dict:
    """The published JSON Schema of a description file (editors validate with it)."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_RESOURCE).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------- parsing and checks
def _fail(source: str, where: str, problem: str) -> DescriptionError:
    return DescriptionError(f"{source}: {where}: {problem}")


def _parse(data: object, source: str) -> DatasetDescription:
    if not isinstance(data, Mapping):
        raise _fail(source, "top level", f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _fail(source, "top level", f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    version = data.get("description_version")
    if version != DESCRIPTION_VERSION:
        raise _fail(
            source, "description_version", f"{version!r} is not supported (expected {DESCRIPTION_VERSION})"
        )
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, "name", "a non-empty string is required")
    raw_columns = data.get("columns")
    if not isinstance(raw_columns, list) or not raw_columns:
        raise _fail(source, "columns", "a non-empty list of columns is required")
    columns = tuple(_parse_column(raw, i, source) for i, raw in enumerate(raw_columns))
    seen: dict[str, str] = {}
    for column in columns:
        key = canonical(column.name)
        if key in seen:
            raise _fail(
                source,
                f"column {column.name!r}",
                f"the name is given twice (case-insensitively, as {seen[key]!r} too)",
            )
        seen[key] = column.name
    _check_roles(columns, source)
    positive, negative = _parse_label(data.get("label"), columns, source)
    return DatasetDescription(name.strip(), columns, positive, negative, source)


def _parse_column(raw: object, index: int, source: str) -> ColumnDescription:
    where = f"columns[{index}]"
    if not isinstance(raw, Mapping):
        raise _fail(source, where, f"expected an object, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(source, where, "a column needs a non-empty string 'name'")
    if name != name.strip():
        raise _fail(source, f"column {name!r}", "the name has leading or trailing spaces")
    where = f"column {name!r}"
    unknown = sorted(set(raw) - _COLUMN_KEYS)
    if unknown:
        raise _fail(source, where, f"unknown key(s) {unknown}; allowed: {sorted(_COLUMN_KEYS)}")
    kind, role = raw.get("type"), raw.get("role")
    if kind not in TYPES:
        raise _fail(source, where, f"type {kind!r} is not one of {list(TYPES)}")
    if role not in ROLES:
        raise _fail(source, where, f"role {role!r} is not one of {list(ROLES)}")
    blank_allowed = raw.get("blank_allowed", False)
    if not isinstance(blank_allowed, bool):
        raise _fail(source, where, f"blank_allowed must be true or false, got {blank_allowed!r}")
    minimum, maximum = (_bound(raw.get(key), key, where, source) for key in ("min", "max"))
    if (minimum is not None or maximum is not None) and role != NUMERIC:
        raise _fail(source, where, f"min/max apply to numeric features only, not to role {role!r}")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _fail(source, where, f"min {minimum:g} is above max {maximum:g}")
    if role == NUMERIC and kind == STRING:
        raise _fail(source, where, "a numeric feature needs type integer or decimal, not string")
    if role == CATEGORICAL and kind == DECIMAL:
        raise _fail(source, where, "a categorical feature is a string or an integer, not a decimal")
    vocabulary = raw.get("vocabulary")
    if vocabulary is not None:
        if role != CATEGORICAL:
            raise _fail(source, where, f"a vocabulary applies to categorical features only, not {role!r}")
        if not isinstance(vocabulary, list) or not vocabulary:
            raise _fail(source, where, "vocabulary must be a non-empty list of values")
        values = [_category_text(v, where, source) for v in vocabulary]
        duplicated = sorted({v for v in values if [canonical(x) for x in values].count(canonical(v)) > 1})
        if duplicated:
            raise _fail(source, where, f"vocabulary lists {duplicated} twice (case-insensitively)")
        vocabulary = tuple(values)
    note = raw.get("note")
    if note is not None and not isinstance(note, str):
        raise _fail(source, where, "note must be a string")
    if role in (ID, LABEL) and blank_allowed:
        raise _fail(source, where, f"the {role} column cannot allow blanks")
    return ColumnDescription(name, kind, role, blank_allowed, minimum, maximum, vocabulary, note)


def _bound(value: object, key: str, where: str, source: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(source, where, f"{key} must be a finite number, got {value!r}")
    return float(value)


def _category_text(value: object, where: str, source: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail(source, where, f"vocabulary values are strings or whole numbers, got {value!r}")
    text = str(value).strip()
    if not text:
        raise _fail(source, where, "a vocabulary value is blank")
    return text


def _check_roles(columns: Sequence[ColumnDescription], source: str) -> None:
    for role in (LABEL, ID):
        holders = [c.name for c in columns if c.role == role]
        if len(holders) > 1:
            raise _fail(source, "columns", f"{len(holders)} columns have role {role!r} ({holders}); one may")
    if not any(c.role == LABEL for c in columns):
        raise _fail(source, "columns", "no column has role 'label' (the churn outcome)")
    if not any(c.role in FEATURE_ROLES for c in columns):
        raise _fail(source, "columns", "no column is a feature (role 'numeric' or 'categorical')")


def _parse_label(
    raw: object, columns: Sequence[ColumnDescription], source: str
) -> tuple[tuple[str, ...], ...]:
    if not isinstance(raw, Mapping):
        raise _fail(source, "label", "an object {column, positive, negative} is required")
    unknown = sorted(set(raw) - {"column", "positive", "negative"})
    if unknown:
        raise _fail(source, "label", f"unknown key(s) {unknown}; allowed: column, positive, negative")
    label_column = next(c for c in columns if c.role == LABEL)
    named = raw.get("column")
    if named is None or canonical(str(named)) != canonical(label_column.name):
        raise _fail(
            source,
            "label.column",
            f"{named!r} is not the column whose role is 'label' ({label_column.name!r})",
        )
    values: list[tuple[str, ...]] = []
    for key in ("positive", "negative"):
        given = raw.get(key)
        if isinstance(given, (str, int)) and not isinstance(given, bool):
            given = [given]
        if not isinstance(given, list) or not given:
            raise _fail(source, f"label.{key}", "one value or a non-empty list of values is required")
        values.append(tuple(_category_text(v, f"label.{key}", source) for v in given))
    both = sorted(set(values[0]) & set(values[1]))
    if both:
        raise _fail(source, "label", f"{both} is both a positive and a negative value")
    return values[0], values[1]


def _plain_number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
