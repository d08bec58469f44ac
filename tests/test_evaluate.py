"""``riskengine evaluate --us-panel FILE [--json]`` on a fixture built from the shared data.

The fixture (about 300 firm-years of whole firms, failed ones included, without
the ``split`` column) is written to tmp_path at test time; the model is a small
one fitted here and saved through the skops artifact path, so the test does not
depend on the shipped champion.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.errors import ModelArtifactError
from riskengine.io.artifacts import champion_path, default_model_dir, save_skops
from riskengine.io.datasets import US_PANEL_UNIT
from riskengine.modeldev.evaluate import evaluate_us_panel
from riskengine.modeldev.protocol import fit_pd_model, fit_rows, model_features, us_panel_frame

KEYS = {"auc", "auc_ci", "gini", "brier", "rows", "defaults", "auc_hist", "auc_hist_ci",
        "gini_hist", "rows_hist", "defaults_hist", "by_grade"}


@pytest.fixture(scope="module")
def fixture_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = pd.read_csv(shared_data / "us_listed" / "firm_years.csv.gz")
    val = raw[raw["split"].eq("validation")]
    rng = np.random.default_rng(3)
    failed = rng.choice(val.loc[val["failed"].eq(1), "firm_id"].unique(), 15, replace=False)
    ok = rng.choice(val.loc[val["failed"].eq(0), "firm_id"].unique(), 50, replace=False)
    sub = val[val["firm_id"].isin(np.concatenate([failed, ok]))].drop(columns="split")
    path = tmp_path_factory.mktemp("eval") / "fixture.csv.gz"
    sub.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    panel = us_panel_frame(shared_data / "us_listed" / "firm_years.csv.gz")
    feats = model_features(panel)
    rows = fit_rows(panel)
    m = fit_pd_model(panel.loc[rows, feats], panel.loc[rows, "default_12m"],
                     panel.loc[rows, "debtor_id"], max_iter=30, learning_rate=0.1, cv=3)  # fmt: skip
    d = tmp_path_factory.mktemp("model")
    save_skops(m, d / "pd_model.skops", {"created_at": "2026-01-01T00:00:00+00:00",
                                         "money_unit": US_PANEL_UNIT.to_dict()})
    return d


@pytest.mark.realdata
def test_evaluate_returns_documented_keys(fixture_file: Path, model_dir: Path) -> None:
    raw = pd.read_csv(fixture_file)
    out = evaluate_us_panel(fixture_file, model_dir)
    assert set(out) == KEYS
    assert out["rows"] == len(raw)
    assert out["defaults"] == 15  # one default year per failed firm (data/README.md label)
    assert 0.5 < out["auc"] <= 1.0 and out["gini"] == pytest.approx(2 * out["auc"] - 1)
    assert 0.0 < out["brier"] < 0.25
    assert sum(g["n"] for g in out["by_grade"]) == out["rows"]
    assert sum(g["defaults"] for g in out["by_grade"]) == out["defaults"]
    lo, hi = out["auc_ci"]
    assert lo < out["auc"] < hi
    # rows with >= 2 earlier statements of the firm in the file: the 3rd row of a firm on
    n_before = raw.sort_values(["firm_id", "fiscal_year"]).groupby("firm_id").cumcount()
    assert out["rows_hist"] == int((n_before >= 2).sum())
    assert out["defaults_hist"] == 15  # the default is a firm's last row, and firms have 3-5
    lo, hi = out["auc_hist_ci"]
    assert lo < out["auc_hist"] < hi


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["scores.csv", "scores.parquet"])
def test_evaluate_writes_one_score_row_per_firm_year(
    fixture_file: Path, model_dir: Path, tmp_path: Path, name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / name
    code = main(["evaluate", "--us-panel", str(fixture_file), "--json", "--model-dir",
                 str(model_dir), "--scores", str(target)])  # fmt: skip
    assert code == 0
    obj = json.loads(capsys.readouterr().out)
    s = pd.read_csv(target) if name.endswith(".csv") else pd.read_parquet(target)
    raw = pd.read_csv(fixture_file)
    assert list(s.columns[:5]) == ["firm_id", "fiscal_year", "pd", "grade", "default_12m"]
    assert len(s) == len(raw) and not s.duplicated(["firm_id", "fiscal_year"]).any()
    assert s["default_12m"].sum() == obj["defaults"] == 15
    assert ((s["pd"] >= 0.0005) & (s["pd"] < 1)).all()
    hist = s["earlier_statements"] >= 2
    assert hist.sum() == obj["rows_hist"]
    # the file reproduces the printed figures
    from riskengine.model.metrics import auc

    assert auc(s["default_12m"], s["pd"]) == pytest.approx(obj["auc"], abs=1e-12)
    assert auc(s.loc[hist, "default_12m"], s.loc[hist, "pd"]) == pytest.approx(
        obj["auc_hist"], abs=1e-12)


def test_scores_with_another_extension_is_refused_before_scoring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("firm_id\n")
    code = main(["evaluate", "--us-panel", str(csv), "--model-dir", str(tmp_path),
                 "--scores", str(tmp_path / "out.xlsx")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "out.xlsx" in err and "'.xlsx'" in err and ".parquet" in err
    assert not (tmp_path / "out.xlsx").exists()


@pytest.mark.realdata
def test_evaluate_command_prints_one_json_object(fixture_file: Path, model_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code = main(
        ["evaluate", "--us-panel", str(fixture_file), "--json", "--model-dir", str(model_dir)]
    )
    assert code == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) == KEYS and obj["rows"] > 250


@pytest.mark.realdata
def test_evaluate_text_output(fixture_file: Path, model_dir: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    assert main(["evaluate", "--us-panel", str(fixture_file), "--model-dir", str(model_dir)]) == 0
    text = capsys.readouterr().out
    assert "AUC" in text and "Brier" in text and "observed DR" in text


def test_missing_model_is_a_clear_cli_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("firm_id\n")
    code = main(["evaluate", "--us-panel", str(csv), "--model-dir", str(tmp_path)])
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_model_dir_resolution(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RISKENGINE_MODEL_DIR", str(tmp_path))
    assert default_model_dir() == tmp_path
    assert champion_path() == tmp_path / "pd_model.skops"
    monkeypatch.delenv("RISKENGINE_MODEL_DIR")
    assert default_model_dir().name == "models"
    with pytest.raises(ModelArtifactError, match="not found"):
        evaluate_us_panel(tmp_path / "none.csv", tmp_path)
