"""`make bench`'s part by shape of data (issue 27), run alone and small: batch embedded and floor B on the
tutorial's shape and on the real Telco dataset's, each with a model trained on its own shape.

No assertion depends on how fast anything ran: each shape's figures and ratio must be there, consistent with
each other, and the data and model must be of that shape."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.model import ModelDir
from churn_tools import example_data
from churn_tools.bench import ratios as bench_ratios
from churn_tools.bench import report as bench_report
from churn_tools.bench import settings as bench_settings
from churn_tools.bench import suite

pytestmark = pytest.mark.slow(seconds=45)

ROWS = 2000
REPEAT = 2  # two rounds: the modes and shapes in one order, then in the other


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory):
    work = tmp_path_factory.mktemp("bench-shapes")
    settings = bench_settings.Settings(
        rows=ROWS, repeat=REPEAT, model_dir="unused: the paths are left out", data_dir=work / "data",
        work_dir=work / "work", out_dir=work / "out", warmup_rows=0, scale_factors=(), stream_rates=(),
        handler_sizes=(), paths=False, shapes=("tutorial", "telco"), quality=False,
    )  # fmt: skip
    found = suite.Suite(settings).run(spark=spark)
    return found, bench_report.write_results(found, settings.out_dir)


def test_each_shape_has_its_data_its_model_and_both_modes(results):
    found, _ = results
    assert found["paths"] == {} and "data" not in found  # only this part ran
    shapes = found["shapes"]
    assert list(shapes) == ["tutorial", "telco"]
    for name, shape in shapes.items():
        description = ModelDir(shape["model_dir"]).description()
        # The data scored is of the model's shape, ROWS of it.
        header = pd.read_csv(shape["data"], nrows=0, dtype=str).columns.tolist()
        assert header == list(description.column_names), name
        assert shape["columns"] == len(description.columns), name
        assert shape["encoded_features"] == ModelDir(shape["model_dir"]).spec().n_features, name
        for mode in ("floor_b", "embedded"):
            figures = shape[mode]
            assert figures["rows"] == ROWS, (name, mode)
            for figure in ("wall_seconds", "rows_per_second"):
                runs = figures[figure]["runs"]
                assert len(runs) == REPEAT and min(runs) > 0, (name, mode, figure)
                assert figures[figure]["median"] == pytest.approx(float(np.median(runs))), (name, mode)
            assert figures["rows_per_second"]["runs"] == pytest.approx(
                [ROWS / w for w in figures["wall_seconds"]["runs"]]
            )
    assert ModelDir(shapes["tutorial"]["model_dir"]).description() == tutorial()
    # The second shape is what `churn-dataset infer` proposes for the real Telco data: its columns, its id.
    telco = ModelDir(shapes["telco"]["model_dir"]).description()
    real_header = example_data.telco_csv_text().splitlines()[0].split(",")
    assert list(telco.column_names) == real_header
    assert (telco.id_column, telco.label_column) == (example_data.ID, example_data.LABEL)


def test_each_shape_has_its_ratio_of_the_rounds_with_its_target(results):
    found, written = results
    by_shape = {name: r for name, r in found["ratios"].items() if name.endswith("_shape")}
    assert set(by_shape) == {
        "embedded_vs_floor_b_wall_time_ratio_tutorial_shape",
        "embedded_vs_floor_b_wall_time_ratio_telco_shape",
    }
    table = written["md"].read_text()
    for name, shape in found["shapes"].items():
        ratio = by_shape[f"embedded_vs_floor_b_wall_time_ratio_{name}_shape"]
        walls = zip(shape["embedded"]["wall_seconds"]["runs"], shape["floor_b"]["wall_seconds"]["runs"],
                    strict=True)  # fmt: skip
        assert ratio["per_round"] == pytest.approx([e / b for e, b in walls])
        assert ratio["value"] == pytest.approx(float(np.median(ratio["per_round"])))
        assert ratio["target"] == "<= 1.10"
        assert ratio["meets_target"] == bench_ratios.meets(ratio["value"], "<= 1.10")
        assert ratio["description"] in table
        assert f"| batch, embedded mode, {name} shape, {shape['columns']} columns |" in table
    # The parts left out say so; their ratios are not measured.
    assert "| floor A, the batch paths, the UDF in Spark | not measured (left out) |" in table
    assert found["ratios"]["embedded_vs_floor_b_wall_time_ratio"]["value"] is None
    stored = json.loads(written["json"].read_text())
    assert stored["shapes"] == found["shapes"] and stored["ratios"] == found["ratios"]
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_shape_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--model-dir", "unused", "--shapes", "tutorial,other"])
    assert exit_info.value.code == 2
    assert "unknown shape(s) other; known: tutorial, telco" in capsys.readouterr().err
