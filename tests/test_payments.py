"""Tests of riskengine.features.payments (invoices -> payment behaviour).

Golden values are hand calculations written out in each docstring; the
cross-aging rule (> 10% of a debtor's balance over 90 days from invoice date
makes the whole balance ineligible) is DOMAIN.md §4.
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
from riskengine.features.payments import (
    FILL_VALUES,
    PAYMENT_FEATURES,
    PaymentFeatures,
    feature_directions,
    payment_arrays,
    payment_features,
)

AS_OF = pd.Timestamp("2024-06-30")
COLS = ["invoice_id", "supplier_id", "debtor_id", "amount", "currency", "issue_date", "due_date",
        "paid_date", "credit_note_amount", "disputed_amount"]  # fmt: skip


def invoices(rows: list[dict]) -> pd.DataFrame:
    base = {"supplier_id": "S1", "currency": "EUR", "paid_date": None,
            "credit_note_amount": 0.0, "disputed_amount": 0.0}  # fmt: skip
    df = pd.DataFrame([{"invoice_id": f"i{i}", **base, **r} for i, r in enumerate(rows)], columns=COLS)
    for c in ("issue_date", "due_date", "paid_date"):
        df[c] = pd.to_datetime(df[c])
    for c in ("amount", "credit_note_amount", "disputed_amount"):
        df[c] = df[c].astype(float)
    return df


def inv(amount: float, issue: str, due: str, paid: str | None = None, debtor: str = "D1",
        **kw: object) -> dict:  # fmt: skip
    return {"debtor_id": debtor, "amount": amount, "issue_date": issue, "due_date": due,
            "paid_date": paid, **kw}  # fmt: skip


def golden() -> pd.DataFrame:
    """Five invoices of D1, as of 2024-06-30 (hand calculation below).

    ===  ======  ==========  ==========  ==========  ==========================
    inv  amount  issued      due         paid        DBT at as_of
    ===  ======  ==========  ==========  ==========  ==========================
    i0   100     2024-01-01  2024-01-31  2024-01-21  0 (paid 10 days early)
    i1   200     2024-01-01  2024-01-31  2024-03-01  30
    i2   300     2024-02-01  2024-03-02  2024-05-01  60
    i3   400     2024-03-01  2024-03-31  open        91 (open: as_of - due)
    i4   1000    2024-06-01  2024-07-01  open        not due yet: not in sample
    ===  ======  ==========  ==========  ==========  ==========================

    Sample DBT = [0, 30, 60, 91]: mean 45.25; amount-weighted
    (0*100 + 30*200 + 60*300 + 91*400) / 1000 = 60.4; p90 (linear) at
    position 0.9 * 3 = 2.7 -> 60 + 0.7 * 31 = 81.7; late > 30: 2/4, > 60: 1/4,
    > 90: 1/4. Open balance 1,400; overdue 400 (i3); over 90 days from issue
    date: i3 (121 days) = 400 -> 400/1400 = 28.6% > 10% -> cross-aging.
    Dilution: credit note 50 on i2 and dispute 150 on i4 -> 200 / 2000 = 0.1.
    """
    return invoices([
        inv(100, "2024-01-01", "2024-01-31", "2024-01-21"),
        inv(200, "2024-01-01", "2024-01-31", "2024-03-01"),
        inv(300, "2024-02-01", "2024-03-02", "2024-05-01", credit_note_amount=50.0),
        inv(400, "2024-03-01", "2024-03-31"),
        inv(1000, "2024-06-01", "2024-07-01", disputed_amount=150.0),
    ])  # fmt: skip


def test_golden_dbt_and_cross_aging_by_hand() -> None:
    """See :func:`golden` for the hand calculation."""
    f = payment_features(golden(), AS_OF).loc["D1"]
    assert f["pay_n_invoices"] == 5 and f["pay_n_observed"] == 4
    assert f["pay_dbt_mean"] == pytest.approx(45.25)
    assert f["pay_dbt_wmean"] == pytest.approx(60.4)
    assert f["pay_dbt_p90"] == pytest.approx(81.7)
    assert f[["pay_share_late_30", "pay_share_late_60", "pay_share_late_90"]].tolist() == [0.5, 0.25, 0.25]
    assert f["pay_dilution"] == pytest.approx(0.1)
    assert f["pay_open_balance"] == 1400 and f["pay_overdue_balance"] == 400
    assert f["pay_balance_over_90"] == 400
    assert f["pay_share_over_90"] == pytest.approx(400 / 1400)
    assert f["pay_cross_aging"] == 1.0


def test_trend_by_hand() -> None:
    """Recent window = observed after 2024-04-01: i2 (paid 05-01, 60) and i3 (open, 91)
    -> mean 75.5; earlier: i0 (0) and i1 (30) -> 15; trend = 60.5 (paying later)."""
    assert payment_features(golden(), AS_OF).loc["D1", "pay_dbt_trend"] == pytest.approx(60.5)


def test_cross_aging_threshold_is_strictly_above_ten_percent() -> None:
    """DOMAIN.md §4: > 10% over 90 days. 100 of 1,000 (exactly 10%) is not cross-aged."""
    rows = [inv(100, "2024-01-01", "2024-02-01"), inv(900, "2024-06-01", "2024-07-01")]
    assert payment_features(invoices(rows), AS_OF).loc["D1", "pay_cross_aging"] == 0.0
    rows[0]["amount"] = 101.0
    assert payment_features(invoices(rows), AS_OF).loc["D1", "pay_cross_aging"] == 1.0


def test_payment_after_as_of_is_still_open() -> None:
    """Point in time: i3 of the golden set paid on 2024-07-15 is open at 2024-06-30."""
    g = golden()
    later = g.copy()
    later.loc[3, "paid_date"] = pd.Timestamp("2024-07-15")
    pd.testing.assert_frame_equal(payment_features(g, AS_OF), payment_features(later, AS_OF))


def _random_invoices(seed: int, m: int, n: int) -> dict[str, np.ndarray]:
    """Invoices of ``n`` debtors sorted by debtor (day numbers around 2024-06-30):
    paid, open, overdue, early, old, in three currencies, some debtors mixed."""
    rng = np.random.default_rng(seed)
    day = int(np.datetime64("2024-06-30", "D").astype(np.int64))
    code = np.sort(rng.integers(0, n, m))
    issue = day - rng.integers(-20, 600, m)
    due = issue + rng.choice([0, 30, 60, 90], m)
    paid = np.where(rng.random(m) < 0.6, due + rng.integers(-20, 200, m), np.iinfo(np.int64).min)
    amount = np.round(rng.lognormal(8, 2, m), 2)
    amount[rng.random(m) < 0.05] = 0.0
    diluted = np.where(rng.random(m) < 0.3, amount * rng.random(m), 0.0)
    cur = np.where(rng.random(m) < 0.02, rng.integers(0, 3, m), 0)
    return {"day": day, "code": code, "issue": issue, "due": due, "paid": paid,
            "amount": amount, "diluted": diluted, "cur": cur}


@pytest.mark.parametrize("seed", [0, 1])
def test_payment_arrays_of_one_debtor_alone_equal_its_row_in_a_batch(seed: int) -> None:
    """The array function the batch and the single-debtor path share: each debtor's
    features computed alone (n = 1, its own rows) are those of its row in a batch of
    400 debtors, bit for bit (NaN where NaN), fill values included."""
    r = _random_invoices(seed, 3000, 400)
    offsets = np.searchsorted(r["code"], np.arange(401))
    cols = ("issue", "due", "paid", "amount", "diluted", "cur")
    batch = payment_arrays(offsets, r["day"], *(r[c] for c in cols))
    assert batch.shape == (len(PAYMENT_FEATURES), 400)
    for g in range(400):
        lo, hi = offsets[g], offsets[g + 1]
        alone = payment_arrays(np.array([0, hi - lo]), r["day"], *(r[c][lo:hi] for c in cols))
        assert alone[:, 0].tobytes() == batch[:, g].tobytes(), g
    assert (batch[PAYMENT_FEATURES.index("pay_mixed_currency")] == 1).any()
    assert np.isfinite(batch[PAYMENT_FEATURES.index("pay_dbt_p90")]).sum() > 300


def test_payment_arrays_p90_is_numpy_quantile_and_empty_is_fill() -> None:
    """pay_dbt_p90 is numpy.quantile (linear) of each debtor's DBT sample, short runs
    (insertion) and a long run (sort) alike; a debtor whose invoices are all out of
    the window has FILL_VALUES."""
    day = 20000
    rng = np.random.default_rng(3)
    sizes = [1, 2, 5, 31, 33, 200]
    due = np.concatenate([day - rng.integers(1, 400, k) for k in sizes] + [[day - 900]])
    issue = due - 30
    paid = np.full(len(due), np.iinfo(np.int64).min)  # open and overdue: all in the sample
    paid[-1] = day - 800  # paid before the window: out
    offsets = np.concatenate([[0], np.cumsum(sizes), [len(due)]])
    f = np.ones(len(due))
    out = payment_arrays(offsets, day, issue, due, paid, f, 0 * f, np.zeros(len(due), np.int64))
    p90 = out[PAYMENT_FEATURES.index("pay_dbt_p90")]
    for g in range(len(sizes)):
        want = np.quantile(day - due[offsets[g]:offsets[g + 1]], 0.9)
        assert p90[g] == pytest.approx(want, rel=1e-12), g
    expected = np.array([FILL_VALUES[name] for name in PAYMENT_FEATURES])
    np.testing.assert_array_equal(out[:, -1], expected)


def test_payment_features_on_rows_in_any_order() -> None:
    """Invoices not sorted by debtor (the debtors in a random order) give the
    features of the sorted table, bit for bit: each debtor's invoices are summed in
    their row order."""
    from riskengine.synthetic import generate_portfolio

    inv_sorted = generate_portfolio(300, seed=5, as_of="2026-06-30")["invoices"]
    rank = pd.Series(np.random.default_rng(1).random(len(inv_sorted)))
    mixed = rank.groupby(inv_sorted["debtor_id"].to_numpy()).transform("min")
    shuffled = inv_sorted.iloc[np.argsort(-mixed.to_numpy(), kind="stable")]
    a, b = (payment_features(x, "2026-06-30") for x in (inv_sorted, shuffled))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert len(a) > 250


def test_mixed_currency_money_features_are_nan() -> None:
    g = golden()
    g.loc[0, "currency"] = "USD"
    f = payment_features(g, AS_OF).loc["D1"]
    assert f["pay_mixed_currency"] == 1.0
    assert np.isnan(f["pay_dilution"]) and np.isnan(f["pay_open_balance"])
    assert f["pay_dbt_mean"] == pytest.approx(45.25)


def test_mixed_currency_money_features_from_amounts_converted_at_the_rates() -> None:
    """The golden debtor with i0 (100) in USD and i3 (400) in GBP, at 0.9 EUR per USD and
    1.2 EUR per GBP (issue 16): in EUR i0 = 90 and i3 = 480. Open balance 480 + 1,000 =
    1,480; overdue 480; over 90 days 480 -> 480 / 1,480 = 32.4 % (cross-aging); dilution
    (50 + 150) / (90 + 200 + 300 + 480 + 1,000) = 200 / 2,070; weighted DBT
    (30*200 + 60*300 + 91*480) / (90 + 200 + 300 + 480) = 67,680 / 1,070. Without a GBP
    rate they stay missing; a debtor in one currency is unchanged to the bit."""
    from riskengine.contracts.schemas import CURRENCIES

    g = golden()
    g.loc[0, "currency"] = "USD"
    g.loc[3, "currency"] = "GBP"
    rates = np.full(len(CURRENCIES), np.nan)
    rates[CURRENCIES.index("EUR")] = 1.0
    rates[CURRENCIES.index("USD")] = 0.9
    rates[CURRENCIES.index("GBP")] = 1.2
    two = pd.concat([g, golden().assign(debtor_id="D2", invoice_id=lambda d: d["invoice_id"]
                                        + "b")], ignore_index=True)
    f = payment_features(two, AS_OF, rates=rates)
    d1 = f.loc["D1"]
    assert d1["pay_mixed_currency"] == 1.0
    assert d1["pay_open_balance"] == pytest.approx(1_480.0)
    assert d1["pay_overdue_balance"] == pytest.approx(480.0)
    assert d1["pay_share_over_90"] == pytest.approx(480 / 1_480)
    assert d1["pay_cross_aging"] == 1.0
    assert d1["pay_dilution"] == pytest.approx(200 / 2_070)
    assert d1["pay_dbt_wmean"] == pytest.approx(67_680 / 1_070)
    assert d1["pay_dbt_mean"] == pytest.approx(45.25)
    plain = payment_features(golden(), AS_OF).loc["D1"]
    assert f.loc["D2"].to_numpy().tobytes() == plain.to_numpy().tobytes()
    rates[CURRENCIES.index("GBP")] = np.nan
    none = payment_features(g, AS_OF, rates=rates).loc["D1"]
    assert np.isnan(none["pay_dilution"]) and np.isnan(none["pay_open_balance"])


def test_bad_input_names_record_field_and_value() -> None:
    g = golden()
    g.loc[2, "due_date"] = pd.Timestamp("2023-01-01")
    with pytest.raises(InvalidInputError, match=r"record 'i2' \(debtor 'D1'\): due_date .* before") as err:
        payment_features(g, AS_OF)
    assert err.value.first["reason"] == "date_order"
    g = golden()
    g.loc[1, "disputed_amount"] = -3.0
    with pytest.raises(InvalidInputError, match=r"record 'i1'.*disputed_amount is -3.0"):
        payment_features(g, AS_OF)
    g = golden().assign(issue_date=lambda d: d["issue_date"].astype(str))
    with pytest.raises(InvalidInputError, match=r"issue_date has dtype .*not datetime64"):
        payment_features(g, AS_OF)


def test_fill_values_and_directions_cover_every_feature() -> None:
    assert set(FILL_VALUES) == set(PAYMENT_FEATURES) == set(feature_directions())
    assert np.isnan(FILL_VALUES["pay_dbt_mean"]) and FILL_VALUES["pay_open_balance"] == 0.0


# --- properties --------------------------------------------------------------------

_day = st.integers(-500, 60)


@st.composite
def _invoice(draw: st.DrawFn) -> dict:
    issue = AS_OF + pd.Timedelta(days=draw(_day))
    due = issue + pd.Timedelta(days=draw(st.integers(0, 120)))
    paid = draw(st.one_of(st.none(), st.integers(-30, 200)))
    amount = draw(st.floats(0.01, 1e6))
    return inv(amount, issue.date().isoformat(), due.date().isoformat(),
               None if paid is None else (due + pd.Timedelta(days=paid)).date().isoformat(),
               debtor=draw(st.sampled_from(["A", "B"])),
               credit_note_amount=draw(st.floats(0, amount)), disputed_amount=0.0)  # fmt: skip


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _drop_after(df: pd.DataFrame) -> pd.DataFrame:
    """What was knowable at AS_OF: no invoice issued later, no payment made later."""
    out = df[df["issue_date"] <= AS_OF].copy()
    out.loc[out["paid_date"] > AS_OF, "paid_date"] = pd.NaT
    return out


@_SETTINGS
@given(st.lists(_invoice(), min_size=1, max_size=15))
def test_no_look_ahead(rows: list[dict]) -> None:
    df = invoices(rows)
    pd.testing.assert_frame_equal(payment_features(df, AS_OF), payment_features(_drop_after(df), AS_OF))


@_SETTINGS
@given(st.lists(_invoice(), min_size=1, max_size=15))
def test_inputs_not_mutated_and_unit_invariance(rows: list[dict]) -> None:
    df = invoices(rows)
    copy = df.copy(deep=True)
    f = payment_features(df, AS_OF)
    pd.testing.assert_frame_equal(df, copy)
    money = ["amount", "credit_note_amount", "disputed_amount"]
    g = payment_features(df.assign(**{c: df[c] * 1000 for c in money}), AS_OF)
    rel = ["pay_dilution", "pay_dbt_wmean", "pay_overdue_share", "pay_share_over_90",
           "pay_cross_aging", "pay_dbt_mean", "pay_dbt_p90"]  # fmt: skip
    pd.testing.assert_frame_equal(f[rel], g[rel], rtol=1e-9)


# --- scikit-learn contract -------------------------------------------------------------


def test_sklearn_estimator_checks() -> None:
    """Every check runs; the exempted ones (reasons in ESTIMATOR_CHECK_EXEMPTIONS) are xfail."""
    results = check_estimator(PaymentFeatures(as_of=AS_OF),
                              expected_failed_checks=ESTIMATOR_CHECK_EXEMPTIONS, on_fail=None)  # fmt: skip
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed, failed


def test_transformer_in_pipeline_and_pickle() -> None:
    g = golden()
    pipe = Pipeline([("pay", PaymentFeatures(as_of=AS_OF, lookback_days=200))])
    out = pipe.fit_transform({"invoices": g})
    pd.testing.assert_frame_equal(out, payment_features(g, AS_OF, lookback_days=200))
    assert list(pipe.get_feature_names_out()) == list(PAYMENT_FEATURES)
    again = pickle.loads(pickle.dumps(pipe))
    pd.testing.assert_frame_equal(again.transform(g), out)
