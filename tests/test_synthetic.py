"""Tests of riskengine.synthetic: the seeded SYNTHETIC portfolio generator.

Statistical checks run at a fixed seed, so they are deterministic; their
margins are several times smaller than the effects measured at that seed
(quoted in each docstring), so a change of generator parameters that keeps
the intended direction does not break them.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine import synthetic
from riskengine.contracts.schemas import (
    ADVERSE_EVENT_TYPES,
    ADVERSE_SEVERITY_TIER,
    CONTRACTS,
    CURRENCIES,
    INSOLVENCY_EVENT_TYPES,
    LEGAL_FORMS,
    REFERENCE_TABLES,
    RELATION_TYPES,
    STATEMENT_TYPES,
)
from riskengine.errors import InvalidInputError
from riskengine.synthetic import contract_dtypes, generate_portfolio, latent_pd

AS_OF = pd.Timestamp("2026-06-30")
N = 4000
SEED = 7
#: The tables the generator makes without a history (``outcomes`` comes with a history).
GENERATED = tuple(n for n in CONTRACTS if n != "outcomes")

# Date columns that record something that happened (so may not lie after as_of);
# due_date is a contractual date and may.
EVENT_DATES = {
    "debtors": ("incorporation_date",),
    "statements": ("period_end",),
    "adverse_records": ("event_date", "settlement_date"),
    "invoices": ("issue_date", "paid_date"),
}


@pytest.fixture(scope="module")
def portfolio() -> dict[str, pd.DataFrame]:
    return generate_portfolio(N, seed=SEED)


@pytest.fixture(scope="module")
def pd_latent(portfolio) -> pd.Series:
    """The generator's latent PD, indexed by debtor id (element i is the i-th debtor)."""
    return pd.Series(latent_pd(N, SEED), index=pd.Index(portfolio["debtors"]["debtor_id"]))


def _assert_contract(frames: dict[str, pd.DataFrame]) -> None:
    # the tables (outcomes only with a history), then fx_rates
    assert list(frames) == [*GENERATED, *REFERENCE_TABLES]
    for name, frame in frames.items():
        contract = CONTRACTS[name] if name in CONTRACTS else REFERENCE_TABLES[name]
        assert tuple(frame.columns) == contract.names, name
        expected = contract_dtypes(name)
        actual = {c: str(frame[c].dtype) for c in frame.columns}
        assert actual == {c: str(d) for c, d in expected.items()}, name
        assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0, name
        for col in contract.columns:
            values = frame[col.name]
            if not col.nullable:
                assert values.notna().all(), (name, col.name)
            if col.kind == "category":
                assert set(values.dropna()) <= set(col.allowed), (name, col.name)
            if col.ge is not None and col.kind in ("float", "int"):
                assert (values.dropna() >= col.ge).all(), (name, col.name)
            if col.gt is not None:
                assert (values.dropna() > col.gt).all(), (name, col.name)
        for key_table in (contract.key,):
            assert not frame.duplicated(list(key_table)).any(), (name, key_table)


# --- determinism and contracts -----------------------------------------------------


def test_same_seed_gives_identical_frames() -> None:
    a = generate_portfolio(300, seed=11)
    b = generate_portfolio(300, seed=11)
    for name in GENERATED:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_different_seed_gives_different_frames() -> None:
    a = generate_portfolio(300, seed=11)
    b = generate_portfolio(300, seed=12)
    for name in ("debtors", "statements", "invoices", "exposures"):
        assert not a[name].equals(b[name]), name


def test_every_table_has_exactly_the_contract_columns_and_dtypes(portfolio) -> None:
    _assert_contract(portfolio)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_tiny_portfolios_follow_the_contracts(n: int) -> None:
    frames = generate_portfolio(n, seed=3)
    _assert_contract(frames)
    assert len(frames["debtors"]) == n
    assert len(frames["suppliers"]) == 2  # default max(2, n // 40)


def test_one_supplier_means_one_pair_per_debtor() -> None:
    frames = generate_portfolio(200, seed=5, n_suppliers=1)
    _assert_contract(frames)
    exposures = frames["exposures"]
    assert len(exposures) == 200
    assert set(exposures["supplier_id"]) == {frames["suppliers"]["supplier_id"].iloc[0]}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=1, max_value=80),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    n_suppliers=st.one_of(st.none(), st.integers(min_value=1, max_value=7)),
)
def test_contracts_identities_and_dates_hold_for_any_size_and_seed(n, seed, n_suppliers) -> None:
    frames = generate_portfolio(n, seed=seed, as_of="2025-03-15", n_suppliers=n_suppliers)
    _assert_contract(frames)
    _assert_identities(frames["statements"])
    _assert_no_event_after(frames, pd.Timestamp("2025-03-15"))


def test_rows_reference_known_debtors_and_suppliers(portfolio) -> None:
    debtors = set(portfolio["debtors"]["debtor_id"])
    suppliers = set(portfolio["suppliers"]["supplier_id"])
    for name in ("statements", "adverse_records", "invoices", "exposures", "relations"):
        assert set(portfolio[name]["debtor_id"]) <= debtors, name
    for name in ("invoices", "exposures", "relations"):
        assert set(portfolio[name]["supplier_id"]) <= suppliers, name
    pairs = set(
        zip(portfolio["exposures"]["supplier_id"], portfolio["exposures"]["debtor_id"], strict=True)
    )
    inv_pairs = set(
        zip(portfolio["invoices"]["supplier_id"], portfolio["invoices"]["debtor_id"], strict=True)
    )
    assert inv_pairs <= pairs


def test_tables_are_sorted(portfolio) -> None:
    st_ = portfolio["statements"]
    assert st_.sort_values(["debtor_id", "period_end"]).index.equals(st_.index)
    inv = portfolio["invoices"]
    assert inv.sort_values(["debtor_id", "supplier_id", "issue_date"], kind="stable").index.equals(
        inv.index
    )
    assert inv["invoice_id"].is_monotonic_increasing
    assert portfolio["adverse_records"]["record_id"].is_monotonic_increasing


# --- statements ---------------------------------------------------------------------


def _assert_identities(s: pd.DataFrame) -> None:
    """The identities of the module docstring, exact (amounts are whole units)."""
    np.testing.assert_array_equal(s["gross_profit"], s["revenue"] - s["cost_of_sales"])
    np.testing.assert_array_equal(s["ebitda"], s["revenue"] - s["operating_expenses"])
    np.testing.assert_array_equal(s["ebit"], s["ebitda"] - s["depreciation_amortization"])
    assert (s["operating_expenses"] >= s["cost_of_sales"]).all()
    bs = s[s["total_assets"].notna()]
    np.testing.assert_array_equal(bs["total_assets"], bs["total_liabilities"] + bs["equity"])
    assert (bs["current_assets"] > bs["cash"] + bs["receivables"] + bs["inventory"]).all()
    assert (bs["total_assets"] >= bs["current_assets"]).all()
    assert (bs["total_liabilities"] >= bs["current_liabilities"] + bs["long_term_debt"]).all()
    assert (bs["retained_earnings"] < bs["equity"]).all()  # equity = RE + paid-in capital > 0
    assert (s["revenue"] > 0).all()


def test_statement_identities_hold_exactly(portfolio) -> None:
    _assert_identities(portfolio["statements"])


def test_statements_look_like_a_credit_population(portfolio) -> None:
    """At seed 7 (n=4000): 3.1 statements per debtor, ~2% of debtors with negative
    equity, ~31% tax-return rows, median EBITDA margin ~8%."""
    s = portfolio["statements"]
    per_debtor = s.groupby("debtor_id").size()
    assert 2.8 <= len(s) / N <= 3.5
    assert per_debtor.max() <= 5
    assert set(s["statement_type"]) == set(STATEMENT_TYPES)
    assert set(s["currency"]) >= {"EUR"} and (s["currency"] == "EUR").mean() > 0.8
    # consecutive fiscal years, one per period
    gaps = s.groupby("debtor_id")["period_end"].diff().dropna().dt.days
    assert gaps.between(365, 366).all()
    # tax returns carry no balance sheet; everyone else has one
    tax = s["statement_type"] == "tax_return"
    assert 0.05 < tax.mean() < 0.5
    assert s.loc[tax, "total_assets"].isna().all() and s.loc[tax, "revenue"].notna().all()
    assert s.loc[~tax, "total_assets"].notna().all()
    legal = portfolio["debtors"].set_index("debtor_id")["legal_form"]
    tax_forms = set(legal.loc[s.loc[tax, "debtor_id"].unique()])
    assert tax_forms <= {"sole_trader", "partnership", "other"}
    neg = s.loc[s["equity"] < 0, "debtor_id"].nunique() / N
    assert 0.005 < neg < 0.08
    margin = (s["ebitda"] / s["revenue"]).median()
    assert 0.03 < margin < 0.15
    # market value only for listed debtors
    listed = set(portfolio["debtors"].loc[portfolio["debtors"]["listed"], "debtor_id"])
    assert set(s.loc[s["market_value"].notna(), "debtor_id"]) <= listed


def test_latest_year_loss_share_matches_the_published_figure(portfolio) -> None:
    """One SME in four closes its year with a loss (NBB Economic Review, June 2010,
    Deville & Verduyn: 1999-2008; calibration._LOSS_MAKING_SHARE). At seed 7 (n=4000)
    the latest-year share of net_income < 0 is about 0.25 (0.33-0.37 before issue 16);
    the band is 4 binomial standard deviations (sqrt(0.25 x 0.75 / 4000) = 0.007)."""
    from riskengine.synthetic.calibration import _LOSS_MAKING_SHARE

    s = portfolio["statements"]
    latest = s.loc[s.groupby("debtor_id")["period_end"].idxmax()]
    share = (latest["net_income"] < 0).mean()
    assert abs(share - _LOSS_MAKING_SHARE) < 0.03, share
    # losses concentrate on the weak: more loss-makers in the top PD quintile
    pd_of = pd.Series(latent_pd(N, SEED), index=portfolio["debtors"]["debtor_id"])
    quintile = pd.qcut(pd_of, 5, labels=False).reindex(latest["debtor_id"]).to_numpy()
    loss = (latest["net_income"] < 0).to_numpy()
    assert loss[quintile == 4].mean() > 2 * loss[quintile == 0].mean()


#: The statements' currency of each debtor country (the brief of issue 16 point 6).
LOCAL_CURRENCY = {"GR": "EUR", "CY": "EUR", "IT": "EUR", "DE": "EUR", "FR": "EUR", "NL": "EUR",
                  "BG": "BGN", "RO": "RON", "GB": "GBP", "US": "USD"}


def test_currencies_follow_the_country_and_the_supplier(portfolio) -> None:
    """Statements and adverse records in the debtor's local currency; exposures and
    invoices in the supplier's invoicing currency, which is its local one (EUR for
    Bulgarian suppliers) or, for a few exporters, USD or GBP."""
    deb = portfolio["debtors"].set_index("debtor_id")
    assert set(deb["country"]) == set(LOCAL_CURRENCY)
    local = deb["country"].map(LOCAL_CURRENCY)
    st_ = portfolio["statements"]
    assert (st_["currency"].to_numpy() == local.reindex(st_["debtor_id"]).to_numpy()).all()
    adv = portfolio["adverse_records"]
    assert (adv["currency"].to_numpy() == local.reindex(adv["debtor_id"]).to_numpy()).all()
    sup = portfolio["suppliers"].set_index("supplier_id")
    exp = portfolio["exposures"]
    assert (exp["currency"].to_numpy() == sup["currency"].reindex(exp["supplier_id"]).to_numpy()
            ).all()
    home = sup["country"].map({"RO": "RON"}).fillna("EUR")
    exporter = sup["currency"].isin(["USD", "GBP"])
    assert (sup.loc[~exporter, "currency"] == home[~exporter]).all()
    assert 0 < exporter.mean() < 0.12
    # debtors abroad mostly buy in their own currency when a supplier invoices in it
    for code in ("USD", "GBP"):
        own = exp["debtor_id"].map(local) == code
        assert (exp.loc[own, "currency"] == code).mean() > 0.5, code
        assert (exp.loc[~own, "currency"] == code).mean() < 0.01, code


def test_requests_are_whole_units_and_not_tiny(portfolio) -> None:
    """No request below the policy's rounding unit (there were requests of 100 before
    issue 16): every request is a multiple of 1,000, at least 1,000, and the minimum
    request is the exception. At seed 7 the median request is 10,000 (9 % at 1,000)."""
    req = portfolio["exposures"]["requested_limit"].dropna()
    assert (req >= 1_000).all() and (req % 1_000 == 0).all()
    assert (req == 1_000).mean() < 0.15
    assert req.median() >= 5_000
    sales = portfolio["exposures"]["annual_sales"].dropna()
    assert (sales >= 3_000).all()  # a factored pair sells at least half the floor


# --- dates --------------------------------------------------------------------------


def _assert_no_event_after(frames: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> None:
    for name, cols in EVENT_DATES.items():
        for col in cols:
            assert (frames[name][col].dropna() <= as_of).all(), (name, col)
    inv = frames["invoices"]
    assert (inv["due_date"] >= inv["issue_date"]).all()
    assert (inv["paid_date"].dropna() >= inv.loc[inv["paid_date"].notna(), "issue_date"]).all()
    adv = frames["adverse_records"]
    settled = adv["status"] == "settled"
    assert adv.loc[settled, "settlement_date"].notna().all()
    assert adv.loc[~settled, "settlement_date"].isna().all()
    assert (adv.loc[settled, "settlement_date"] >= adv.loc[settled, "event_date"]).all()


def test_no_record_is_dated_after_as_of(portfolio) -> None:
    _assert_no_event_after(portfolio, AS_OF)


def test_as_of_moves_every_date() -> None:
    as_of = pd.Timestamp("2019-09-01")
    frames = generate_portfolio(500, seed=2, as_of=as_of)
    _assert_no_event_after(frames, as_of)
    assert frames["statements"]["period_end"].max() >= pd.Timestamp("2018-12-31")
    assert frames["invoices"]["issue_date"].min() >= as_of - pd.Timedelta(days=365)


# --- adverse records, payments, exposures -------------------------------------------------


def test_adverse_records_are_realistic(portfolio) -> None:
    """At seed 7 (n=4000): 13.7% of debtors have a record; ~9% of amounts <= 1,000."""
    adv = portfolio["adverse_records"]
    share = adv["debtor_id"].nunique() / N
    assert 0.08 <= share <= 0.2
    assert set(adv["event_type"]) <= set(ADVERSE_EVENT_TYPES)
    assert "mortgage_prenotation" in set(adv["event_type"])
    assert adv["event_type"].isin(INSOLVENCY_EVENT_TYPES).any()
    assert (adv["amount"] <= 1_000).any() and (adv["amount"] > 100_000).any()
    po = adv[adv["event_type"] == "payment_order"]
    assert (po["amount"] > 1_000).all()  # the register does not record orders <= 1,000
    assert (po["event_date"] >= AS_OF - pd.Timedelta(days=3 * 365)).all()  # kept 3 years
    assert adv["event_date"].min() >= AS_OF - pd.Timedelta(days=6 * 365)
    assert 0.1 < (adv["status"] == "settled").mean() < 0.9


def test_weak_debtors_have_more_adverse_records_and_pay_later(portfolio, pd_latent) -> None:
    """Top vs bottom PD quintile at seed 7 (n=4000): adverse records (severity >= 1)
    per debtor about 0.65 vs 0.02; mean days late of paid invoices about 32 vs -1;
    share of invoices still open beyond 90 days past due about 10x."""
    quintile = pd.qcut(pd_latent, 5, labels=False)
    weak = pd_latent.index[quintile == 4]
    strong = pd_latent.index[quintile == 0]

    adv = portfolio["adverse_records"]
    serious = adv[adv["event_type"].map(ADVERSE_SEVERITY_TIER) >= 1]
    counts = serious.groupby("debtor_id").size().reindex(pd_latent.index, fill_value=0)
    assert counts[weak].mean() > 4 * counts[strong].mean()
    assert counts[weak].mean() - counts[strong].mean() > 0.3

    inv = portfolio["invoices"]
    late = (inv["paid_date"] - inv["due_date"]).dt.days
    mean_late = late.groupby(inv["debtor_id"]).mean()
    assert mean_late.reindex(weak).mean() - mean_late.reindex(strong).mean() > 15

    overdue = inv["paid_date"].isna() & (inv["due_date"] < AS_OF - pd.Timedelta(days=90))
    share = overdue.groupby(inv["debtor_id"]).mean()
    assert share.reindex(weak).mean() > 3 * share.reindex(strong).mean()


def test_invoices_and_exposures_are_consistent(portfolio) -> None:
    inv, exp = portfolio["invoices"], portfolio["exposures"]
    assert 5 <= len(inv) / N <= 8
    assert 1.2 <= len(exp) / N <= 1.7
    assert exp.groupby("debtor_id").size().max() <= 2
    assert 0.1 < inv["paid_date"].isna().mean() < 0.5
    assert (inv["credit_note_amount"] > 0).any() and (inv["disputed_amount"] > 0).any()
    assert (inv["credit_note_amount"] <= inv["amount"]).all()
    assert (inv["disputed_amount"] <= inv["amount"]).all()
    # requested limit = annual sales x credit days / 360 (seed 003), to the policy's unit
    # (1,000), at least one unit
    both = exp["annual_sales"].notna() & exp["credit_days"].notna()
    raw = exp.loc[both, "annual_sales"] * exp.loc[both, "credit_days"] / 360
    expected = np.maximum((raw / 1000).round(), 1) * 1000
    np.testing.assert_allclose(exp.loc[both, "requested_limit"], expected.astype(float))
    assert exp.loc[~both, "requested_limit"].isna().all()
    assert (exp["approved_limit"] <= exp["requested_limit"].fillna(np.inf)).all()
    assert (exp["approved_limit"] == 0).any()  # some refusals
    assert (exp["approved_outstanding"] <= exp["approved_limit"]).all()
    # a pair's invoices of the last 12 months add up to its annual sales
    key = ["supplier_id", "debtor_id"]
    sums = inv.groupby(key)["amount"].sum()
    sales = exp.set_index(key)["annual_sales"].reindex(sums.index)
    ok = sales.notna()
    np.testing.assert_allclose(sums[ok], sales[ok], atol=0.01 * 30)
    # outstanding = open invoices net of credit notes
    open_net = (inv["amount"] - inv["credit_note_amount"]).where(inv["paid_date"].isna(), 0.0)
    balance = open_net.groupby([inv["supplier_id"], inv["debtor_id"]]).sum()
    outstanding = exp.set_index(key)[["approved_outstanding", "unapproved_outstanding"]].sum(axis=1)
    np.testing.assert_allclose(outstanding.reindex(balance.index), balance.clip(lower=0), atol=0.02)
    # the currency of an invoice is its exposure's
    cur = exp.set_index(key)["currency"]
    assert (cur.reindex(pd.MultiIndex.from_frame(inv[key])).to_numpy() == inv["currency"]).all()


def test_supplier_ledgers_cover_their_exposures(portfolio) -> None:
    sup, exp = portfolio["suppliers"], portfolio["exposures"]
    out = (
        (exp["approved_outstanding"] + exp["unapproved_outstanding"])
        .groupby(exp["supplier_id"])
        .sum()
    )
    ledger = sup.set_index("supplier_id")["ledger_total"]
    assert (ledger.reindex(out.index) >= out).all()
    assert (ledger > 0).all()
    assert (sup["currency"] == "EUR").mean() > 0.85
    assert set(sup["currency"]) <= set(CURRENCIES)


def test_groups_and_related_parties(portfolio) -> None:
    deb, sup, rel = portfolio["debtors"], portfolio["suppliers"], portfolio["relations"]
    grouped = deb["group_id"].notna()
    assert 0.03 < grouped.mean() < 0.07
    assert (deb.loc[grouped].groupby("group_id").size() >= 1).all()
    assert deb.loc[grouped, "group_id"].duplicated().any()  # groups share ids
    # some suppliers belong to a debtor's group, and every debtor of it is a related party
    sup_groups = sup.loc[sup["group_id"].notna()].set_index("supplier_id")["group_id"]
    assert len(sup_groups) >= 1
    assert set(sup_groups) <= set(deb["group_id"].dropna())
    same = rel[rel["relation_type"] == "same_group"]
    group_of = deb.set_index("debtor_id")["group_id"]
    assert (
        group_of.reindex(same["debtor_id"]).to_numpy()
        == sup_groups.reindex(same["supplier_id"]).to_numpy()
    ).all()
    assert set(rel["relation_type"]) <= set(RELATION_TYPES)
    assert 0 < len(rel) < 0.05 * N


def test_debtors_look_like_a_factoring_book(portfolio) -> None:
    deb = portfolio["debtors"]
    assert (deb["country"] == "GR").mean() > 0.75
    assert deb["country"].nunique() > 3
    assert set(deb["legal_form"]) == set(LEGAL_FORMS)
    assert deb["nace"].str.fullmatch(r"\d{2}\.\d{2}").all()
    assert deb["nace"].nunique() > 20
    assert deb["tax_id"].dropna().is_unique
    assert 0 < deb["listed"].mean() < 0.05
    assert deb["debtor_id"].is_unique and deb["debtor_id"].is_monotonic_increasing


# --- latent PD ----------------------------------------------------------------------------


def test_latent_pd_is_a_fraction_independent_of_suppliers_and_date() -> None:
    p = latent_pd(2000, seed=4)
    assert p.shape == (2000,) and ((p > 0) & (p < 1)).all()
    assert 0.02 < p.mean() < 0.06
    np.testing.assert_array_equal(p, latent_pd(2000, seed=4))
    assert not np.array_equal(p, latent_pd(2000, seed=5))


def test_latent_pd_drives_the_statements(portfolio, pd_latent) -> None:
    """At seed 7: mean liabilities/assets ~0.74 in the top PD quintile vs ~0.37 in the bottom."""
    s = portfolio["statements"].dropna(subset=["total_assets"])
    lev = (s["total_liabilities"] / s["total_assets"]).groupby(s["debtor_id"]).mean()
    quintile = pd.qcut(pd_latent, 5, labels=False)
    assert (
        lev.reindex(pd_latent.index[quintile == 4]).mean()
        > lev.reindex(pd_latent.index[quintile == 0]).mean() + 0.15
    )


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_bad_number_of_debtors_is_refused(n) -> None:
    with pytest.raises(InvalidInputError, match="n_debtors must be a whole number >= 1"):
        generate_portfolio(n)


def test_bad_number_of_suppliers_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="n_suppliers must be a whole number >= 1, got 0"):
        generate_portfolio(10, n_suppliers=0)


def test_bad_as_of_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="as_of 'soon' is not a date"):
        generate_portfolio(10, as_of="soon")


# --- manifest, docs and validation ---------------------------------------------------


def test_manifest_labels_the_data_synthetic() -> None:
    m = synthetic.synthetic_manifest(100, 9, "2026-06-30")
    assert m == {
        "synthetic": True,
        "generator": "riskengine.synthetic",
        "generator_version": synthetic.GENERATOR_VERSION,
        "seed": 9,
        "n_debtors": 100,
        "as_of": "2026-06-30",
        "created_by": "riskengine demo-data",
        "reporting_currency": "EUR",
        # units of EUR per unit of currency: the inverse of the generator's rates
        "fx_rates": {"BGN": round(1 / 1.95583, 10), "EUR": 1.0, "GBP": round(1 / 0.85, 10),
                     "RON": round(1 / 4.97, 10), "USD": round(1 / 1.08, 10)},
    }
    assert "SYNTHETIC" in (synthetic.__doc__ or "")


def test_docstring_examples_run() -> None:
    """The examples of every module of the package (testmod sees only the objects a
    module defines, not the ones its ``__init__`` re-exports)."""
    names = [synthetic.__name__] + [
        m.name for m in pkgutil.iter_modules(synthetic.__path__, synthetic.__name__ + ".")
    ]
    attempted = 0
    for name in names:
        module = importlib.import_module(name)
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted >= 6  # the examples of latent_pd, generate_portfolio, synthetic_manifest


def test_a_generated_portfolio_validates_without_errors() -> None:
    from riskengine.validation import validate_portfolio

    frames = generate_portfolio(500, seed=21)
    result = validate_portfolio(frames, reference_date="2026-06-30")
    assert len(result.errors) == 0, result.errors.head().to_string()
    for name in GENERATED:
        pd.testing.assert_frame_equal(result.frames[name], frames[name])
