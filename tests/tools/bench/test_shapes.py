"""`make bench`'s part by shape of data (issue 27), run alone and small: batch embedded and floor B on the
tutorial's shape and on the real Telco dataset's (its real rows resampled, a model trained on the real rows).

No assertion depends on how fast anything ran: each shape's figures and ratio must be there, consistent with
each other, and the data and model must be of that shape."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from churn_pipeline.contract.dataset import tutorial
from churn_pipeline.model import ModelDir
from churn_tools import example_data
from churn_tools.bench import ratios as bench_ratios
from churn_tools.bench import report as bench_report
from churn_tools.bench import settings as bench_settings
from churn_tools.bench import shapes, suite

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
    assert found["paths"] == {"not_run": "--skip-paths"} and "data" not in found  # only this part ran
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


def _leaves(model_dir) -> int:
    booster = xgb.Booster()
    booster.load_model(bytearray(ModelDir(model_dir).model_bytes()))
    return int((booster.trees_to_dataframe()["Feature"] == "Leaf").sum())


def test_the_telco_shape_is_the_real_data_resampled_and_its_model_the_real_datas(results):
    found, _ = results
    telco = found["shapes"]["telco"]
    real = pd.read_csv(io.StringIO(example_data.telco_csv_text()), dtype=str, keep_default_na=False)
    scored = pd.read_csv(telco["data"], dtype=str, keep_default_na=False)
    # Every scored row is a real row, its id made unique: the real values, frequencies and blanks.
    assert scored[example_data.ID].is_unique
    original_ids = scored[example_data.ID].str.rsplit("-", n=1).str[0]
    by_id = real.set_index(example_data.ID)
    assert (scored.drop(columns=example_data.ID).to_numpy() == by_id.loc[original_ids].to_numpy()).all()
    # ROWS is less than one copy of the real data here: no real row twice.
    assert original_ids.is_unique
    metrics = ModelDir(telco["model_dir"]).metrics()
    assert metrics["row_counts"]["input"] == example_data.ROWS  # trained on the real rows
    # The model's size is recorded per shape, as the model has it.
    for name, shape in found["shapes"].items():
        assert shape["model"]["leaves"] == _leaves(shape["model_dir"]), name
        assert shape["model"]["trees"] == metrics["hyperparameters"]["num_round"], name


def test_resampling_beyond_one_copy_keeps_the_real_frequencies_and_blanks(tmp_path):
    real_csv = example_data.write_telco_csv(tmp_path / "real.csv")
    description = shapes.telco_description(real_csv)
    rows = 2 * example_data.ROWS + 500
    out = shapes.resample_rows(real_csv, description, rows, tmp_path / "resampled.csv", seed=3)
    real = pd.read_csv(real_csv, dtype=str, keep_default_na=False)
    resampled = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(resampled) == rows and resampled[example_data.ID].is_unique
    original = resampled[example_data.ID].str.rsplit("-", n=1).str[0]
    counts = original.value_counts()
    assert set(counts) <= {2, 3} and counts.index.isin(real[example_data.ID]).all()
    assert (counts == 3).sum() == 500  # two whole copies, then 500 rows of a third
    blanks = (resampled["TotalCharges"].str.strip() == "").sum()
    assert 2 * 11 <= blanks <= 3 * 11  # the real 11 blank TotalCharges, in every copy
    assert set(resampled["PaymentMethod"]) == set(real["PaymentMethod"])


def test_a_shape_of_the_real_data_is_refused_up_front_when_the_data_is_absent(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(example_data, "default_cache", lambda: tmp_path / "no-wheel-here")
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--model-dir", "unused", "--shapes", "tutorial,telco"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "shape(s) telco are made from the real Telco dataset, which is unavailable" in error
    assert "make setup" in error


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
    assert (
        "## Floor A, the batch paths, the UDF in Spark\n\n**Not run in this run** (--skip-paths); no earlier figure."
        in table
    )
    assert found["ratios"]["embedded_vs_floor_b_wall_time_ratio"]["value"] is None
    stored = json.loads(written["json"].read_text())
    assert stored["shapes"] == found["shapes"] and stored["ratios"] == found["ratios"]
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_shape_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--model-dir", "unused", "--shapes", "tutorial,other"])
    assert exit_info.value.code == 2
    assert "unknown shape(s) other; known: tutorial, telco, telco-described" in capsys.readouterr().err
