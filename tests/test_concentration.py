"""Tests of riskengine.features.concentration (ledger, book, group, sector, HHI).

Golden values are hand calculations written in each docstring; the limits
they illustrate are DOMAIN.md §4 (one debtor <= 20–30% of a supplier's ledger;
a connected group <= 25% of eligible capital, CRR art. 395; HHI = Σ share²).
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from riskengine.errors import InvalidInputError
from riskengine.features.adverse import ESTIMATOR_CHECK_EXEMPTIONS
from riskengine.features.concentration import (
    CONCENTRATION_FEATURES,
    FILL_VALUES,
    ConcentrationFeatures,
    concentration_features,
    nace_section,
    pair_concentration,
    portfolio_hhi,
)


def book() -> dict[str, pd.DataFrame]:
    """Hand-made book: 4 debtors, 2 suppliers, approved outstanding 500/300/200/0.

    ======  =====  =======  ===  =====  ====================================
    debtor  group  nace     cty  funded  pairs (supplier: approved + unappr.)
    ======  =====  =======  ===  =====  ====================================
    A       G1     46.90 G  GR   500    S1: 400 + 100, S2: 100 + 0
    B       G1     10.11 C  GR   300    S1: 300 + 0
    C       -      46.11 G  DE   200    S2: 200 + 0
    D       -      62.01 J  DE   0      (no exposure)
    ======  =====  =======  ===  =====  ====================================

    Ledgers S1 = 2,000, S2 = 1,000. Ledger shares: A/S1 = 500/2000 = 0.25,
    A/S2 = 0.10, B/S1 = 0.15, C/S2 = 0.20. Book = 1,000: shares 0.5/0.3/0.2.
    Group G1 = A + B = 800 -> 0.8 of the book; with capital 2,000 -> 0.4.
    Sector G = A + C = 700 -> 0.7; C = 0.3. Country GR 0.8, DE 0.2.
    HHI by name 0.5² + 0.3² + 0.2² = 0.38; by group 0.8² + 0.2² = 0.68;
    by sector 0.7² + 0.3² = 0.58; by country 0.68.
    """
    debtors = pd.DataFrame({
        "debtor_id": ["C", "A", "D", "B"], "name": ["c", "a", "d", "b"], "tax_id": None,
        "country": ["DE", "GR", "DE", "GR"], "nace": ["46.11", "46.90", "62.01", "10.11"],
        "legal_form": "private_limited", "incorporation_date": pd.NaT,
        "group_id": [None, "G1", None, "G1"], "listed": False,
    })  # fmt: skip
    suppliers = pd.DataFrame({"supplier_id": ["S1", "S2"], "name": ["s1", "s2"], "country": "GR",
                              "nace": "46.90", "group_id": None, "ledger_total": [2000.0, 1000.0],
                              "currency": "EUR"})  # fmt: skip
    exposures = pd.DataFrame({
        "supplier_id": ["S1", "S2", "S1", "S2"], "debtor_id": ["A", "A", "B", "C"],
        "currency": "EUR", "requested_limit": np.nan, "approved_limit": 1000.0,
        "approved_outstanding": [400.0, 100.0, 300.0, 200.0],
        "unapproved_outstanding": [100.0, 0.0, 0.0, 0.0], "annual_sales": np.nan, "credit_days": 60,
    })  # fmt: skip
    relations = pd.DataFrame({"supplier_id": ["S2"], "debtor_id": ["C"], "relation_type": ["subsidiary"]})
    return {"debtors": debtors, "suppliers": suppliers, "exposures": exposures, "relations": relations}


def test_pair_ledger_shares_by_hand() -> None:
    """See :func:`book`: 0.25, 0.10, 0.15, 0.20; S2–C is a related pair."""
    b = book()
    p = pair_concentration(b["exposures"], b["suppliers"], b["relations"])
    np.testing.assert_allclose(p["ledger_share"], [0.25, 0.10, 0.15, 0.20])
    assert p["related_party"].tolist() == [0.0, 0.0, 0.0, 1.0]


def test_debtor_features_by_hand() -> None:
    """See :func:`book` for every figure."""
    b = book()
    f = concentration_features(b["exposures"], b["debtors"], b["suppliers"],
                               relations=b["relations"], factor_capital=2000.0)  # fmt: skip
    assert f.index.tolist() == ["A", "B", "C", "D"]
    np.testing.assert_allclose(f["conc_max_ledger_share"], [0.25, 0.15, 0.20, 0.0])
    np.testing.assert_allclose(f["conc_share_of_book"], [0.5, 0.3, 0.2, 0.0])
    np.testing.assert_allclose(f["conc_group_share_of_book"], [0.8, 0.8, 0.2, 0.0])
    np.testing.assert_allclose(f["conc_group_to_capital"], [0.4, 0.4, 0.1, 0.0])
    np.testing.assert_allclose(f["conc_sector_share_of_book"], [0.7, 0.3, 0.7, 0.0])
    np.testing.assert_allclose(f["conc_country_share_of_book"], [0.8, 0.8, 0.2, 0.2])
    assert f["conc_n_suppliers"].tolist() == [2, 1, 1, 0]
    assert f["conc_related_party"].tolist() == [0, 0, 1, 0]


def test_hhi_by_hand() -> None:
    """Shares 0.5/0.3/0.2 -> 0.25 + 0.09 + 0.04 = 0.38 (see :func:`book` for the others)."""
    b = book()
    h = portfolio_hhi(b["exposures"], b["debtors"])
    assert h == pytest.approx({"name": 0.38, "group": 0.68, "sector": 0.58, "country": 0.68})


def test_zero_ledger_gives_nan_share_and_no_capital_gives_nan() -> None:
    b = book()
    b["suppliers"].loc[1, "ledger_total"] = 0.0
    f = concentration_features(b["exposures"], b["debtors"], b["suppliers"])
    assert f.loc["A", "conc_max_ledger_share"] == 0.25  # S2 share undefined, S1 still known
    assert np.isnan(f.loc["C", "conc_max_ledger_share"])
    assert f["conc_group_to_capital"].isna().all()


def test_nace_sections() -> None:
    """NACE Rev. 2: 01–03 A, 10–33 C, 46 G (wholesale), 62 J, 99 U."""
    assert [nace_section(c) for c in ("01.11", "10.11", "4690", "62", "99.00", "G")] == [
        "A", "C", "G", "J", "U", "G"]  # fmt: skip
    with pytest.raises(ValueError, match=r"NACE code '04.00' has no valid two-digit division"):
        nace_section("04.00")


def test_multi_currency_book_needs_fx_rates() -> None:
    b = book()
    b["exposures"].loc[3, "currency"] = "USD"
    with pytest.raises(InvalidInputError, match=r"2 currencies \['EUR', 'USD'\].*pass fx_rates"):
        portfolio_hhi(b["exposures"], b["debtors"])
    h = portfolio_hhi(b["exposures"], b["debtors"], fx_rates={"EUR": 1.0, "USD": 1.0})
    assert h["name"] == pytest.approx(0.38)


def test_unknown_debtor_or_supplier_is_an_error() -> None:
    b = book()
    exp = pd.concat([b["exposures"], b["exposures"].iloc[[0]].assign(debtor_id="Z")])
    with pytest.raises(InvalidInputError, match=r"\('S1', 'Z'\): debtor_id 'Z' is not in the debtors"):
        concentration_features(exp, b["debtors"], b["suppliers"])
    exp = b["exposures"].assign(supplier_id=["S1", "S9", "S1", "S2"])
    with pytest.raises(InvalidInputError, match=r"supplier_id 'S9' is not in the suppliers"):
        concentration_features(exp, b["debtors"], b["suppliers"])


def test_fill_values_cover_every_feature() -> None:
    assert set(FILL_VALUES) == set(CONCENTRATION_FEATURES)


# --- properties --------------------------------------------------------------------

_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(st.lists(st.floats(0, 1e7), min_size=4, max_size=4),
       st.lists(st.floats(1, 1e8), min_size=2, max_size=2), st.sampled_from([1e-3, 1e3]))  # fmt: skip
def test_unit_invariance_and_inputs_not_mutated(amounts: list[float], ledgers: list[float],
                                                unit: float) -> None:  # fmt: skip
    b = book()
    b["exposures"]["approved_outstanding"] = amounts
    b["suppliers"]["ledger_total"] = ledgers
    copies = {k: v.copy(deep=True) for k, v in b.items()}
    f = concentration_features(b["exposures"], b["debtors"], b["suppliers"], factor_capital=5e6)
    h = portfolio_hhi(b["exposures"], b["debtors"])
    for k in b:
        pd.testing.assert_frame_equal(b[k], copies[k])
    money = ["approved_outstanding", "unapproved_outstanding"]
    exp2 = b["exposures"].assign(**{c: b["exposures"][c] * unit for c in money})
    sup2 = b["suppliers"].assign(ledger_total=b["suppliers"]["ledger_total"] * unit)
    g = concentration_features(exp2, b["debtors"], sup2, factor_capital=5e6 * unit)
    shares = [c for c in CONCENTRATION_FEATURES if c != "conc_exposure"]
    pd.testing.assert_frame_equal(f[shares], g[shares], rtol=1e-9)
    assert portfolio_hhi(exp2, b["debtors"]) == pytest.approx(h, nan_ok=True)
    if sum(amounts) > 0:
        assert 0.25 - 1e-12 <= h["name"] <= 1 + 1e-12  # 4 names: HHI in [1/4, 1]


# --- scikit-learn contract -------------------------------------------------------------


def test_sklearn_estimator_checks() -> None:
    """Every check runs; the exempted ones (reasons in ESTIMATOR_CHECK_EXEMPTIONS) are xfail."""
    results = check_estimator(ConcentrationFeatures(factor_capital=1e6),
                              expected_failed_checks=ESTIMATOR_CHECK_EXEMPTIONS, on_fail=None)  # fmt: skip
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed, failed


def test_transformer_in_pipeline_and_pickle() -> None:
    b = book()
    pipe = Pipeline([("conc", ConcentrationFeatures(factor_capital=2000.0))])
    out = pipe.fit_transform(b)
    want = concentration_features(b["exposures"], b["debtors"], b["suppliers"],
                                  relations=b["relations"], factor_capital=2000.0)  # fmt: skip
    pd.testing.assert_frame_equal(out, want)
    assert list(pipe.get_feature_names_out()) == list(CONCENTRATION_FEATURES)
    pd.testing.assert_frame_equal(pickle.loads(pickle.dumps(pipe)).transform(b), out)
    with pytest.raises(TypeError, match="needs a portfolio mapping"):
        pipe.transform(b["exposures"])
