"""Validation report writer on synthetic arrays, the Altman Z'' benchmark by hand,
the Spanish adverse-feature experiment on the real file, MLflow logging of the report."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from riskengine.config import load_master_scale
from riskengine.model.master_scale import GRADES
from riskengine.modeldev.report import (
    SPANISH_ADVERSE_FEATURES,
    altman_z2,
    spanish_adverse_experiment,
    validation_metrics,
    write_validation_report,
)

SCALE = load_master_scale()


def _sample(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic, well-calibrated PDs: y ~ Bernoulli(pd)."""
    rng = np.random.default_rng(seed)
    pd_ = np.clip(np.exp(rng.normal(np.log(0.02), 1.2, n)), 0.0005, 0.9)
    y = (rng.uniform(size=n) < pd_).astype(int)
    train_pd = np.clip(np.exp(rng.normal(np.log(0.02), 1.2, n)), 0.0005, 0.9)
    return y, pd_, train_pd


def test_validation_metrics_of_a_calibrated_sample() -> None:
    y, pd_, train_pd = _sample()
    res = validation_metrics(y, pd_, SCALE.pd_to_grade(pd_), train_pd=train_pd, scale=SCALE,
                             n_boot=100)
    assert res["discrimination"]["auc"] > 0.75
    assert res["calibration_ok"] and res["monotonicity"].passed
    assert res["psi"] < 0.1 and res["psi_light"] == "green"
    assert res["psi_grades"] < 0.1


def test_miscalibration_turns_a_grade_red() -> None:
    y, pd_, _ = _sample()
    low = pd_ / 4  # predicted PDs four times too low
    res = validation_metrics(y, low, SCALE.pd_to_grade(low), n_boot=50)
    assert not res["calibration_ok"]
    assert (res["grade_table"]["light"] == "red").any()


def test_report_files_are_written(tmp_path: Path) -> None:
    y, pd_, train_pd = _sample()
    grades = SCALE.pd_to_grade(pd_)
    wf = pd.DataFrame({"year": [2013, 2014], "auc": [0.9, 0.88]})
    paths = write_validation_report(
        tmp_path / "rep", y=y, pd_=pd_, grades=grades, train_pd=train_pd,
        train_grades=SCALE.pd_to_grade(train_pd), scale=SCALE,
        benchmark_scores={"noise": np.random.default_rng(1).normal(size=y.size)},
        benchmarks={"altman_z2_auc_same_rows": 0.74}, tables={"Walk-forward": wf},
        notes={"Walk-forward": "fit on years < t"}, info={"model": "<test & co>"},
        n_boot=50, log_to_mlflow=False,
    )
    for key in ("html", "metrics", "roc", "calibration", "grades", "scores"):
        assert paths[key].is_file() and paths[key].stat().st_size > 0, key
    assert paths["roc"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads(paths["metrics"].read_text())
    assert doc["discrimination"]["n"] == y.size and doc["benchmarks"]["altman_z2_auc_same_rows"] == 0.74
    assert doc["tables"]["Walk-forward"][1] == {"year": 2014, "auc": 0.88}
    assert {r["grade"] for r in doc["grade_table"]} <= set(GRADES)
    assert sum(r["n"] for r in doc["grade_table"]) == y.size
    html = paths["html"].read_text()
    assert "Jeffreys" in html and "fit on years &lt; t" in html
    assert "&lt;test &amp; co&gt;" in html  # values are escaped


def test_report_is_logged_to_the_active_mlflow_run(tmp_path: Path) -> None:
    y, pd_, train_pd = _sample(800)
    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    mlflow.set_tracking_uri(uri)
    exp = mlflow.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    try:
        with mlflow.start_run(experiment_id=exp) as run:
            write_validation_report(tmp_path / "rep", y=y, pd_=pd_, grades=SCALE.pd_to_grade(pd_),
                                    train_pd=train_pd, n_boot=20)
    finally:
        mlflow.set_tracking_uri(None)
    client = MlflowClient(tracking_uri=uri)
    data = client.get_run(run.info.run_id).data
    assert 0.5 < data.metrics["val_auc"] < 1 and "val_psi" in data.metrics
    names = {a.path for a in client.list_artifacts(run.info.run_id, "validation")}
    assert "validation/report.html" in names and "validation/roc.png" in names


def test_altman_z2_by_hand() -> None:
    """DOMAIN.md §4: 6.56 WC/TA + 3.26 RE/TA + 6.72 EBIT/TA + 1.05 BookEquity/TL.
    TA 100, CA 40, CL 20, RE 10, EBIT 5, TL 60: 6.56*0.2 + 3.26*0.1 + 6.72*0.05 + 1.05*40/60
    = 1.312 + 0.326 + 0.336 + 0.7 = 2.674."""
    st = pd.DataFrame({"total_assets": [100.0, 0.0], "current_assets": [40.0, 1.0],
                       "current_liabilities": [20.0, 1.0], "retained_earnings": [10.0, 1.0],
                       "ebit": [5.0, 1.0], "total_liabilities": [60.0, 1.0]})
    z = altman_z2(st)
    assert z[0] == pytest.approx(2.674)
    assert np.isnan(z[1])


@pytest.mark.realdata
def test_spanish_adverse_experiment_on_real_data(shared_data: Path) -> None:
    from riskengine.io.datasets import load_spanish

    X, y = load_spanish(shared_data / "spanish" / "Bankruptcy_Spain_98-03.arff")
    assert set(SPANISH_ADVERSE_FEATURES) <= set(X.columns)
    out = spanish_adverse_experiment(X, y, learners=("logistic",), n_boot=50)
    assert out["test_years"].tolist() == ["2002–2003", "2002", "2003"]
    assert out.loc[0, "n_test"] == int(X["YEAR"].isin([2002, 2003]).sum())
    assert out.loc[0, "defaults_test"] == 46  # 12 + 34 failures (data README / counts by YEAR)
    assert ((out["auc_with"] > 0.5) & (out["auc_without"] > 0.5)).all()
    assert (out["gain_lo"] <= out["gain"]).all() and (out["gain"] <= out["gain_hi"]).all()


def test_separate_calibration_sample_decides_the_verdict(tmp_path: Path) -> None:
    """Anchored PDs (here: a quarter of the sample's) fail the Jeffreys test on this
    sample on purpose; the un-anchored PDs of the calibration sample pass it."""
    y, pd_, _ = _sample()
    anchored = pd_ / 4
    res = validation_metrics(y, anchored, SCALE.pd_to_grade(anchored), scale=SCALE,
                             calibration=(y, pd_), n_boot=20)
    assert (res["grade_table"]["light"] == "red").any()
    assert res["calibration_ok"] and (res["calibration_table"]["light"] != "red").all()
    paths = write_validation_report(tmp_path, y=y, pd_=anchored,
                                    grades=SCALE.pd_to_grade(anchored), scale=SCALE,
                                    calibration=(y, pd_), calibration_note="raw PDs",
                                    n_boot=20, log_to_mlflow=False)
    doc = json.loads(paths["metrics"].read_text())
    assert doc["calibration_ok"] is True and len(doc["calibration_table"]) > 0
    assert "raw PDs" in paths["html"].read_text()
