"""The producer sends any described CSV as JSON records: types from the description, the id as partition key."""

from __future__ import annotations

import json

from churn_pipeline.contract.dataset import DatasetDescription, tutorial
from churn_tools import synthetic
from churn_tools.local import producer


def test_records_take_types_and_key_from_the_description(tmp_path, second_description):
    csv = synthetic.write_csv(400, tmp_path / "telco.csv", 3, second_description)
    records = [(json.loads(data), key) for data, key in producer.csv_records(csv, "t-", second_description)]
    assert len(records) == 400
    for body, key in records:
        assert key == body[second_description.id_column]
        assert set(body) == {*second_description.column_names, "record_id", "event_time"}
        for column in second_description.columns:
            value = body[column.name]
            expected = {"integer": int, "decimal": float, "string": str}[column.type]
            if column.blank_allowed and column.type != "string":
                assert value is None or isinstance(value, expected), (column.name, value)
            else:
                assert isinstance(value, expected), (column.name, value)
    # The generator's blanks (a space) in a numeric column go as JSON null.
    blank_allowed = next(c.name for c in second_description.columns if c.blank_allowed)
    assert any(body[blank_allowed] is None for body, _ in records)


def test_tutorial_records_by_default_and_the_record_as_key_without_an_id(tmp_path):
    description = tutorial()
    csv = synthetic.write_csv(50, tmp_path / "tutorial.csv", 3)
    body, key = next(producer.csv_records(csv, "p-"))
    body = json.loads(body)
    assert key == body[description.id_column]
    assert all(isinstance(body[c.name], int) for c in description.columns if c.type == "integer")
    data = description.to_dict()
    for column in data["columns"]:
        if column["role"] == "id":
            column["role"] = "passthrough"
    no_id = DatasetDescription.from_dict(data)
    keys = [key for _, key in producer.csv_records(csv, "p-", no_id)]
    assert keys[:2] == ["p-000000000", "p-000000001"]
