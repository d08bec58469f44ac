"""The evidence model on the Spanish data (riskengine.modeldev.spanish, issue 17 point 3).

Hand checks of the design on small frames, a seeded simulation with a known truth, and
on the real file: the split by year, the figures, and the ``fit`` tables that
``riskengine/config/overlay.toml`` records (they must be what the command computes now).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_overlay
from riskengine.cli import main
from riskengine.errors import InvalidInputError
from riskengine.modeldev.spanish import (
    CONTROLS,
    EVIDENCE_TERMS,
    SPANISH_COLUMNS,
    control_design,
    evidence_design,
    overlay_fits,
    spanish_evidence,
)

ARFF = ("spanish", "Bankruptcy_Spain_98-03.arff")


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    """A frame with load_spanish's columns used by the model (values seeded)."""
    rng = np.random.default_rng(seed)
    cat = pd.Categorical
    return pd.DataFrame({
        "YEAR": rng.integers(1998, 2004, n).astype(float),
        "NUMBER_EMPLOYEES": rng.integers(0, 200, n).astype(float),
        "AGE": rng.integers(0, 40, n).astype(float),
        "RETURN_ASSETS": rng.normal(5, 10, n),
        "WORKING_CAPITAL": rng.normal(0.1, 0.3, n),
        "DEBT_RATIO": rng.lognormal(0.5, 1.0, n),
        "DELAY_ACCOUNTS": cat(rng.choice(["no", "yes"], n, p=[0.9, 0.1]), ["no", "yes"]),
        "NUMBER_JUDICIAL_INCIDENCES_TOTAL": rng.poisson(0.2, n).astype(float),
        "NUMBER_JUDICIAL_INCIDENCES_YEAR": rng.binomial(1, 0.05, n).astype(float),
        "SPENT_JUDICIAL_INCIDENCES_TOTAL": rng.exponential(2000.0, n) * rng.binomial(1, 0.1, n),
        "NUMBER_SERIOUS_INCIDENCES": rng.poisson(0.05, n).astype(float),
        "AUDITED": cat(rng.choice(["no", "yes"], n, p=[0.7, 0.3]), ["no", "yes"]),
        "AUDITORS_OPINION": cat(rng.choice(["nothing", "positive", "minor", "negative"], n,
                                           p=[0.85, 0.08, 0.05, 0.02]),
                                ["nothing", "positive", "minor", "negative"]),
    })


def test_every_column_of_the_file_is_documented() -> None:
    """The ARFF header's 34 attributes (YEAR ... BANKRUPTCY), each with a meaning."""
    assert len(SPANISH_COLUMNS) == 34
    assert list(SPANISH_COLUMNS)[0] == "YEAR" and list(SPANISH_COLUMNS)[-1] == "BANKRUPTCY"
    assert all(len(v) > 5 for v in SPANISH_COLUMNS.values())


def test_evidence_design_by_hand() -> None:
    """Counts as log1p; the amount per incidence in thousands; the three flags.

    Row 0: 3 incidences costing 3000 -> log1p(3) = 1.386294, amount log1p(1) = 0.693147.
    Row 1: no incidence but 500 spent -> amount log1p(0.5) = 0.405465 (divided by max(0, 1)).
    """
    X = pd.DataFrame({
        "YEAR": [1998.0, 1999.0, 2000.0], "NUMBER_EMPLOYEES": [1.0, 2.0, 3.0],
        "AGE": [1.0, 2.0, 3.0], "RETURN_ASSETS": [1.0, 2.0, 3.0],
        "WORKING_CAPITAL": [1.0, 2.0, 3.0], "DEBT_RATIO": [1.0, 2.0, 3.0],
        "DELAY_ACCOUNTS": pd.Categorical(["yes", "no", "no"], ["no", "yes"]),
        "NUMBER_JUDICIAL_INCIDENCES_TOTAL": [3.0, 0.0, 1.0],
        "NUMBER_JUDICIAL_INCIDENCES_YEAR": [1.0, 0.0, 0.0],
        "SPENT_JUDICIAL_INCIDENCES_TOTAL": [3000.0, 500.0, 0.0],
        "NUMBER_SERIOUS_INCIDENCES": [0.0, 0.0, 2.0],
        "AUDITED": pd.Categorical(["no", "yes", "yes"], ["no", "yes"]),
        "AUDITORS_OPINION": pd.Categorical(["nothing", "minor", "negative"],
                                           ["nothing", "positive", "minor", "negative"]),
    })
    E = evidence_design(X)
    assert list(E.columns) == [t.name for t in EVIDENCE_TERMS]
    np.testing.assert_allclose(E["judicial_incidences"], [1.386294, 0.0, 0.693147], atol=1e-6)
    np.testing.assert_allclose(E["judicial_incidences_last_year"], [0.693147, 0, 0], atol=1e-6)
    np.testing.assert_allclose(E["judicial_amount"], [0.693147, 0.405465, 0.0], atol=1e-6)
    np.testing.assert_allclose(E["serious_incidences"], [0.0, 0.0, 1.098612], atol=1e-6)
    assert E["late_filing"].tolist() == [1.0, 0.0, 0.0]
    assert E["audited"].tolist() == [0.0, 1.0, 1.0]
    assert E["qualified_opinion"].tolist() == [0.0, 1.0, 1.0]


def test_bad_counts_and_missing_columns_are_named() -> None:
    X = _frame(20)
    bad = X.assign(NUMBER_SERIOUS_INCIDENCES=X["NUMBER_SERIOUS_INCIDENCES"].where(
        X.index != 4, -1.0))
    with pytest.raises(InvalidInputError, match=r"row 5, NUMBER_SERIOUS_INCIDENCES = -1.0"):
        evidence_design(bad)
    with pytest.raises(InvalidInputError, match=r"column 'AUDITED' is missing"):
        evidence_design(X.drop(columns="AUDITED"))


def test_controls_use_the_fit_rows_only() -> None:
    """Standardised on the fit rows (mean 0, sd 1 there); a test row's value, however
    extreme, changes nothing of the fit rows, and is clipped to the fit rows' 99th
    percentile; a missing value takes the fit rows' median."""
    X = _frame(400, seed=1)
    fit = (X["YEAR"] < 2003).to_numpy()
    C = control_design(X, fit)
    assert list(C.columns) == list(CONTROLS)
    np.testing.assert_allclose(C[fit].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(C[fit].std(ddof=0), 1.0, atol=1e-12)
    i_test = int(np.flatnonzero(~fit)[0])
    i_fit = int(np.flatnonzero(fit)[1])
    X2 = X.copy()
    X2.loc[i_test, "RETURN_ASSETS"] = 1e9
    C2 = control_design(X2, fit)
    pd.testing.assert_frame_equal(C2[fit], C[fit])
    assert C2.loc[i_test, "return_assets"] == pytest.approx(C.loc[fit, "return_assets"].max())
    X3 = X.copy()
    X3.loc[i_fit, "DEBT_RATIO"] = np.nan
    C3 = control_design(X3, fit)
    r = X3.loc[fit, "DEBT_RATIO"].to_numpy()
    lo, hi = np.nanquantile(r, [0.01, 0.99])
    w = np.clip(np.where(np.isnan(r), np.nanmedian(r), r), lo, hi)
    expected = (np.nanmedian(r) - w.mean()) / w.std()
    assert C3.loc[i_fit, "debt_ratio"] == pytest.approx(expected, rel=1e-12)


def _simulated(n: int = 6000, seed: int = 3) -> tuple[pd.DataFrame, np.ndarray]:
    """The truth: log odds = -4.5 + 1.2 log1p(judicial) + 0.8 audited (nothing else)."""
    X = _frame(n, seed)
    rng = np.random.default_rng(seed + 100)
    eta = (-4.5 + 1.2 * np.log1p(X["NUMBER_JUDICIAL_INCIDENCES_TOTAL"].to_numpy())
           + 0.8 * (X["AUDITED"].astype(str) == "yes").to_numpy())
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y


def test_simulated_truth_is_recovered_and_test_years_are_not_fitted() -> None:
    X, y = _simulated()
    res = spanish_evidence(X, y, n_boot=50)
    est = {e.term: e for e in (*res.evidence, *res.controls)}
    assert est["judicial_incidences"].ci_low <= 1.2 <= est["judicial_incidences"].ci_high
    assert est["audited"].ci_low <= 0.8 <= est["audited"].ci_high
    assert est["judicial_incidences"].significant
    for e in est.values():
        assert e.ci_low <= e.estimate <= e.ci_high
    assert res.fit_years == (1998, 1999, 2000, 2001, 2002) and res.test_years == (2003,)
    # the test years' labels do not move any estimate (they are not in the fit) ...
    y2 = y.copy()
    test = (X["YEAR"] >= 2003).to_numpy()
    y2[test] = 1 - y2[test]
    res2 = spanish_evidence(X, y2, n_boot=50)
    assert [e.estimate for e in res2.evidence] == [e.estimate for e in res.evidence]
    # ... but the fit years' labels do
    y3 = y.copy()
    y3[np.flatnonzero(~test)[:200]] = 1
    assert spanish_evidence(X, y3, n_boot=50).evidence[0].estimate != res.evidence[0].estimate


def test_a_constant_evidence_column_is_refused() -> None:
    """A column without variation in the fit years has no estimate (singular design)."""
    X, y = _simulated(600)
    X["NUMBER_SERIOUS_INCIDENCES"] = 0.0
    with pytest.raises(InvalidInputError, match=r"serious_incidences is constant in the fit years"):
        spanish_evidence(X, y, n_boot=10)


def test_a_label_other_than_0_or_1_is_refused() -> None:
    X, y = _simulated(600)
    y = y.astype(float)
    y[7] = 2.0
    with pytest.raises(InvalidInputError, match=r"row 8, BANKRUPTCY label = 2.0"):
        spanish_evidence(X, y, n_boot=10)


def test_a_split_without_failures_on_one_side_is_refused() -> None:
    X, y = _simulated(600)
    y = np.where(X["YEAR"].to_numpy() >= 2003, 0, y)
    with pytest.raises(InvalidInputError, match=r"leaves the test years with \d+ rows and 0"):
        spanish_evidence(X, y, n_boot=10)


# --- the real file ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data: Path):  # type: ignore[no-untyped-def]
    from riskengine.io.datasets import load_spanish

    X, y = load_spanish(shared_data.joinpath(*ARFF))
    return X, y, spanish_evidence(X, y)  # n_boot=1000, as the command and the docs


@pytest.mark.realdata
def test_real_split_by_year(real) -> None:  # type: ignore[no-untyped-def]
    """data/README.md: 2,859 firm-years, 62 failures; 1998-2002 hold 28 (3+4+4+5+12),
    2003 holds 34 of 484 rows (counted from the file by YEAR)."""
    X, y, res = real
    assert res.fit_years == (1998, 1999, 2000, 2001, 2002) and res.test_years == (2003,)
    assert (res.n_obs, res.n_events, res.n_test, res.test_events) == (2375, 28, 484, 34)
    assert max(res.fit_years) < min(res.test_years)
    assert res.converged
    for e in (*res.evidence, *res.controls):
        assert e.ci_low <= e.estimate <= e.ci_high and e.se > 0
    lo, hi = res.auc_evidence_ci
    assert lo <= res.auc_evidence <= hi
    lo, hi = res.auc_ratios_ci
    assert lo <= res.auc_ratios <= hi


@pytest.mark.realdata
def test_real_figures_as_documented(real) -> None:  # type: ignore[no-untyped-def]
    """docs/EVIDENCE.md: the judicial incidence count and the audited flag are the only
    significant evidence; out-of-time AUC 0.754 (evidence) vs 0.653 (ratios only)."""
    _, _, res = real
    sig = sorted(e.term for e in res.evidence if e.significant)
    assert sig == ["audited", "judicial_incidences"]
    assert round(res.auc_evidence, 3) == 0.754
    assert round(res.auc_ratios, 3) == 0.653


@pytest.mark.realdata
def test_overlay_toml_records_the_fits_the_command_computes(real) -> None:  # type: ignore[no-untyped-def]
    """The shipped overlay's fit tables are today's estimates to the printed precision
    (3 decimals), with the sample's counts; the weight in force stays the committee's."""
    _, _, res = real
    fits = overlay_fits(res)
    assert set(fits) == {"adv_n_tier2", "adv_n_tier3", "adv_weighted_count"}
    overlay = {t.feature: t for t in load_overlay().terms}
    for feature, fit in fits.items():
        term = overlay[feature]
        assert term.fit is not None, feature
        got = (term.fit.estimate, term.fit.ci_low, term.fit.ci_high)
        assert got == (fit.estimate, fit.ci_low, fit.ci_high), feature
        assert (term.fit.n_obs, term.fit.n_events) == (2375, 28)
        assert term.fit.method == fit.method and term.fit.data == fit.data
        assert term.prior_weight == term.weight
    unmapped = {t.feature for t in overlay.values() if t.fit is not None} - set(fits)
    assert not unmapped


@pytest.mark.realdata
def test_docs_table_is_what_the_command_computes(real) -> None:  # type: ignore[no-untyped-def]
    """docs/EVIDENCE.md quotes every estimate and CI at 3 decimals, and the AUCs."""
    _, _, res = real
    doc = (Path(__file__).resolve().parents[1] / "docs" / "EVIDENCE.md").read_text(
        encoding="utf-8").replace("\u2212", "-").replace("**", "")
    for e in (*res.evidence, *res.controls):
        cell = f"| {e.estimate:.3f} | [{e.ci_low:.3f}, {e.ci_high:.3f}] |"
        assert cell in doc, (e.term, cell)
    lo, hi = res.auc_evidence_ci
    assert f"| {res.auc_evidence:.3f} | [{lo:.3f}, {hi:.3f}] |" in doc
    lo, hi = res.auc_ratios_ci
    assert f"| {res.auc_ratios:.3f} | [{lo:.3f}, {hi:.3f}] |" in doc


@pytest.mark.realdata
def test_cli_json(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "--spanish", str(shared_data.joinpath(*ARFF)), "--json",
                 "--n-boot", "20"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_events"] == 28 and out["test_events"] == 34
    first = out["evidence"][0]
    assert first["term"] == "judicial_incidences" and first["overlay"] == "adv_n_tier2"
    assert round(first["estimate"], 3) == 4.916
    assert first["odds_factor"] == pytest.approx(2 ** first["estimate"])


@pytest.mark.realdata
def test_cli_text(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evidence", "--spanish", str(shared_data.joinpath(*ARFF)), "--n-boot",
                 "20"]) == 0
    out = capsys.readouterr().out
    assert "adv_n_tier2 (committee 0.6)" in out
    assert "out-of-time AUC" in out and "2375 firm-years, 28 failures" in out


def test_cli_refuses_a_missing_file_and_no_draws(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """One line naming the file (exit 2), no traceback; --n-boot 0 is refused before reading."""
    missing = tmp_path / "nope.arff"
    assert main(["evidence", "--spanish", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and err.count("\n") == 1
    assert main(["evidence", "--spanish", str(missing), "--n-boot", "0"]) == 2
    assert "--n-boot = 0" in capsys.readouterr().err
