"""``riskengine train --portfolio``: the model directory, its use by the engine and rerate,
MLflow, bad input and the fallback without defaults, on a small SYNTHETIC book
(tests/bookdata.py: generated at 2024-06-30, outcomes drawn from the latent PD)."""

from __future__ import annotations

import json
import math
import shutil
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from bookdata import BOOK_AS_OF, make_book

from riskengine.api import load_engine, load_overlay, model_overlay_path
from riskengine.batch.dataset import DIRNAME, part_files
from riskengine.batch.options import RerateOptions
from riskengine.batch.rerate import run_rerate
from riskengine.cli import main
from riskengine.errors import InvalidInputError
from riskengine.io.artifacts import load_champion, read_metadata
from riskengine.modeldev.book_training import BOOK_MODEL_NAME, train_on_book
from riskengine.scoring.overlay import Overlay

N, SEED = 1500, 5


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("book")
    make_book(path, N, SEED, scale=1.5)
    return path


@pytest.fixture(scope="module")
def trained(book: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("model") / "m"
    return train_on_book(book, out, log_run=False, n_boot=100)


def test_model_dir_holds_the_engine_artifacts_and_the_card(trained: dict[str, Any]) -> None:
    out = Path(trained["out_dir"])
    assert {p.name for p in out.iterdir()} >= {"pd_model.skops", "pd_model.skops.json",
                                               "overlay.toml", "MODEL_CARD.md", "validation"}
    model = load_champion(out)  # sha256-checked, trusted types only
    assert list(model.feature_names_in_) == list(load_champion().feature_names_in_)
    meta = read_metadata(out / "pd_model.skops")
    assert meta["trained_on"] == "book" and meta["horizon_months"] == 12
    # snapshots are the engine's inputs in the prior's unit (USD millions): declared
    assert meta["money_unit"] == {"currency": "USD", "scale": 1e6}
    assert load_engine(out).money_unit.to_dict() == meta["money_unit"]
    assert trained["dates"] == {"train": ["2023-12-31"], "validation": "2024-12-31",
                                "frequency": "annual"}
    ov = load_overlay(out / "overlay.toml")
    committee = load_overlay()
    assert ov == trained["fit"].overlay
    switched = trained["fit"].facts["transforms_switched"]
    for t, c in zip(ov.terms, committee.terms, strict=True):
        if t.feature not in switched:  # a switched term's prior is translated (test_book_model)
            assert (t.prior_weight, t.transform) == (c.weight, c.transform)
    for t in ov.terms:
        assert t.fit is not None and t.weight >= 0
        assert t.fit.ci_low <= t.weight <= t.fit.ci_high
        assert t.fit.n_events == trained["fit"].facts["events"] > 0
    assert dict(ov.provenance)["as_of"] == BOOK_AS_OF
    card = (out / "MODEL_CARD.md").read_text()
    v = trained["validation"]
    assert f"{v['auc']:.4f}" in card and "Peduzzi" in card and "Greenland" in card
    assert "Concentration features (`conc_`) are left out" in card
    metrics = json.loads((out / "validation" / "metrics.json").read_text())
    assert metrics["discrimination"]["auc"] == pytest.approx(v["auc"])
    assert (out / "validation" / "report.html").is_file()


def test_the_held_out_year_is_scored_by_the_engine_on_the_model_dir(
        trained: dict[str, Any], book: Path) -> None:
    """The validation PDs are the engine's: a rerate-free check that load_engine(model_dir)
    decides the held-out debtors at those PDs (the batch decision at 2024-12-31)."""
    v = trained["validation"]
    assert v["defaults"] > 0 and 0.5 < v["auc"] <= 1.0
    assert v["auc_lo"] <= v["auc"] <= v["auc_hi"]
    # the committee prior is reported on the same rows
    assert trained["prior_validation"]["rows"] == v["rows"]
    assert math.isfinite(v["calibration_slope"]) and v["calibration_slope"] > 0


def test_load_engine_uses_the_model_dirs_overlay(trained: dict[str, Any], tmp_path: Path
                                                 ) -> None:
    out = Path(trained["out_dir"])
    engine = load_engine(out)
    assert engine.overlay == trained["fit"].overlay
    assert engine.overlay != load_engine().overlay
    assert model_overlay_path(out) == out / "overlay.toml"
    # an explicit overlay wins; a model dir without overlay.toml uses the shipped one
    assert model_overlay_path(out, "x.toml") == "x.toml"
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("pd_model.skops", "pd_model.skops.json"):
        shutil.copy(out / name, bare / name)
    assert load_engine(bare).overlay == load_engine().overlay


def test_rerate_with_model_dir_decides_with_the_fitted_weights(
        trained: dict[str, Any], book: Path, tmp_path: Path) -> None:
    out = Path(trained["out_dir"])
    fitted = trained["fit"].overlay
    opts = RerateOptions(portfolio=book, out=tmp_path / "run", as_of="2024-06-30",
                         model_dir=str(out), tracking=False, progress=False)
    run_rerate(opts)
    dec = pd.concat([pq.read_table(p).to_pandas()
                     for p in part_files(tmp_path / "run" / DIRNAME)])
    dec = dec[dec["supplier_id"].notna()]  # the pair rows (a rating row per debtor too)
    assert set(dec["overlay_version"]) == {fitted.version}
    # the same PDs as the engine on the model dir deciding the book in memory
    from riskengine.io.portfolio import read_portfolio

    frames, _ = read_portfolio(book)
    frames.pop("outcomes")
    ref = load_engine(out).decide(frames, "2024-06-30").decisions
    got = dec.set_index(["debtor_id", "supplier_id"])["pd"].sort_index()
    want = ref.set_index(["debtor_id", "supplier_id"])["pd"].sort_index()
    np.testing.assert_allclose(got.to_numpy(float), want.to_numpy(float), rtol=1e-12)
    shipped = load_engine().decide(frames, "2024-06-30").decisions
    other = shipped.set_index(["debtor_id", "supplier_id"])["pd"].sort_index()
    assert not np.allclose(got.to_numpy(float), other.to_numpy(float))


def _copy_book(book: Path, to: Path, outcomes: pd.DataFrame) -> Path:
    shutil.copytree(book, to)
    (to / "outcomes.parquet").unlink()
    outcomes.to_parquet(to / "outcomes.parquet", index=False)
    man = json.loads((to / "manifest.json").read_text())
    man["tables"]["outcomes"] = len(outcomes)
    (to / "manifest.json").write_text(json.dumps(man))
    return to


def _outcomes(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"debtor_id": [r[0] for r in rows],
                         "default_date": pd.to_datetime([r[1] for r in rows]),
                         "default_type": "insolvency"})


def test_outcome_of_an_unknown_debtor_is_refused(book: Path, tmp_path: Path) -> None:
    bad = _copy_book(book, tmp_path / "b", _outcomes([("NOPE-1", "2024-05-01")]))
    with pytest.raises(InvalidInputError, match=r"NOPE-1.*not in the debtors table.*outcome") as info:
        train_on_book(bad, tmp_path / "m", log_run=False)
    assert info.value.problems[0]["reason"] == "unknown_debtor"
    assert not (tmp_path / "m").exists()


def test_default_after_the_books_as_of_is_refused(book: Path, tmp_path: Path) -> None:
    first = pd.read_parquet(book / "debtors.parquet")["debtor_id"].iloc[0]
    bad = _copy_book(book, tmp_path / "b", _outcomes([(first, "2026-07-01")]))
    with pytest.raises(InvalidInputError, match=r"default_date.*2026-07-01"):
        train_on_book(bad, tmp_path / "m", log_run=False)


def test_a_book_without_outcomes_table_is_refused(book: Path, tmp_path: Path) -> None:
    to = tmp_path / "b"
    shutil.copytree(book, to)
    (to / "outcomes.parquet").unlink()
    man = json.loads((to / "manifest.json").read_text())
    del man["tables"]["outcomes"]
    (to / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(InvalidInputError, match="no outcomes table"):
        train_on_book(to, tmp_path / "m", log_run=False)


def test_no_default_in_the_training_window_keeps_the_prior(book: Path, tmp_path: Path
                                                           ) -> None:
    """Defaults only in 2025 (after the 2023-12-31 window): nothing is fitted; the model
    dir holds the US champion's PDs and the committee weights, and the card says so."""
    first = pd.read_parquet(book / "debtors.parquet")["debtor_id"].iloc[:3].tolist()
    b = _copy_book(book, tmp_path / "b", _outcomes([(d, "2025-03-01") for d in first]))
    s = train_on_book(b, tmp_path / "m", log_run=False, n_boot=50)
    assert s["fit"].statement_method == "prior_unchanged"
    ov = load_overlay(tmp_path / "m" / "overlay.toml")
    assert ov.terms == load_overlay().terms
    assert "**Fallback:** no default in the training window" in \
        (tmp_path / "m" / "MODEL_CARD.md").read_text()
    champ, m = load_champion(), load_champion(tmp_path / "m")
    feats = pd.DataFrame([np.full(len(champ.feature_names_in_), 0.1)],
                         columns=champ.feature_names_in_)
    assert m.predict_pd(feats) == pytest.approx(champ.predict_pd(feats))


def test_cli_trains_logs_and_registers(book: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    code = main(["train", "--portfolio", str(book), "--out", str(tmp_path / "m"),
                 "--tracking-uri", uri])
    assert code == 0
    text = capsys.readouterr().out
    assert "held out 2024-12-31" in text and f"{BOOK_MODEL_NAME} version 1" in text
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    (mv,) = client.search_model_versions(f"name = '{BOOK_MODEL_NAME}'")
    run = client.get_run(mv.run_id)
    assert run.data.params["validation_date"] == "2024-12-31"
    assert "val_auc" in run.data.metrics and "prior_val_auc" in run.data.metrics
    doc = tomllib.loads((tmp_path / "m" / "overlay.toml").read_text())
    assert Overlay.from_dict(doc).version.endswith(BOOK_AS_OF)


def test_enough_defaults_refit_the_statement_model_with_the_engines_constraints(
        book: Path, tmp_path: Path) -> None:
    """Threshold lowered to 0 (refit whenever the statement rows hold a default): the
    statement model is refitted on the book (monotone constraints of feature_directions)
    and still loads and scores."""
    from riskengine.features.statements import feature_directions

    s = train_on_book(book, tmp_path / "m", log_run=False, n_boot=50, events_per_feature=0)
    fit = s["fit"]
    assert fit.statement_method == "refit" and "refit_oof_auc" in fit.facts
    model = load_champion(tmp_path / "m")
    dirs = feature_directions()
    assert model.monotonic_cst_.tolist() == [dirs.get(f, 0) for f in model.feature_names_in_]
    assert model.central_tendency is None
    assert "refitted on the book" in (tmp_path / "m" / "MODEL_CARD.md").read_text()
    assert s["validation"]["rows"] > 0 and math.isfinite(s["validation"]["auc"])
    # threshold 0: the book's tax returns join the refit, and the model directory's
    # overlay makes the engine score them by the model
    assert fit.facts["tax_return_rows"] > 0 and fit.facts["tax_return_model"] is True
    assert load_engine(tmp_path / "m").overlay.tax_return_model is True
    assert "scored by the refitted model" in (tmp_path / "m" / "MODEL_CARD.md").read_text()


def test_a_book_model_as_prior_keeps_the_committee_as_the_overlays_prior(
        trained: dict[str, Any], book: Path, tmp_path: Path) -> None:
    """Retraining from a book model's directory: its PD model is the prior statement
    model, but the weights' priors stay the committee's (the shipped overlay.toml)."""
    s = train_on_book(book, tmp_path / "m2", prior_model_dir=trained["out_dir"],
                      log_run=False, n_boot=50)
    committee = load_overlay()
    switched = s["fit"].facts["transforms_switched"]
    assert [t.prior_weight for t in s["fit"].overlay.terms if t.feature not in switched] == \
        [t.weight for t in committee.terms if t.feature not in switched]


def test_publish_with_model_dir_logs_the_fitted_overlay(trained: dict[str, Any],
                                                        tmp_path: Path) -> None:
    """publish --model-dir: the logged engine's model_config carries the directory's
    overlay.toml (its version and weights), checked by publish against the in-process
    engine on the same directory."""
    from riskengine.tracking.pyfunc import log_engine_model

    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    res = log_engine_model(uri, trained["out_dir"], register=False)
    assert res.versions["overlay_version"] == trained["fit"].overlay.version
