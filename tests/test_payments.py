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
    _group_quantile,
    _sums_kernel,
    feature_directions,
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


def test_group_quantile_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 50, 2000)
    vals = np.where(rng.random(2000) < 0.4, 0, rng.integers(0, 200, 2000))
    got = _group_quantile(codes, vals, 52, 0.9)
    want = [np.quantile(vals[codes == g], 0.9) if (codes == g).any() else np.nan for g in range(52)]
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_payment_sums_are_bincounts_bit_for_bit(seed: int) -> None:
    """The one-pass kernel equals one numpy.bincount per sum (its definition), to the
    bit: amounts with many digits and zeros (signed too), groups without invoices,
    unsorted groups, DBT on each late threshold."""
    rng = np.random.default_rng(seed)
    m, n = 5000, 700
    code = rng.integers(0, n - 40, m)  # the last 40 debtors have no invoice
    raw = rng.lognormal(8, 2, m)
    amount = np.where(rng.random(m) < 0.5, np.round(raw, 2), raw)
    amount[rng.random(m) < 0.05] = 0.0
    amount[rng.random(m) < 0.02] = -0.0
    diluted = np.where(rng.random(m) < 0.3, amount * rng.random(m), 0.0)
    dbt = rng.choice([0, 1, 29, 30, 31, 60, 61, 90, 91, 400], m)
    masks = {name: rng.random(m) < p for name, p in (
        ("issued", 0.7), ("sample", 0.6), ("recent", 0.3), ("open", 0.4), ("overdue", 0.5),
        ("aged", 0.3))}
    recent = masks["sample"] & masks["recent"]
    overdue = masks["open"] & masks["overdue"]
    aged = masks["open"] & masks["aged"]
    late = np.array([30, 60, 90])
    got = _sums_kernel()(code, n, masks["issued"], masks["sample"], recent, masks["open"],
                         overdue, aged, dbt, amount, diluted, late)

    def total(mask: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        weights = mask.astype(np.float64) if w is None else mask * w
        return np.bincount(code, weights=weights, minlength=n)

    sample, dbt_f = masks["sample"], dbt.astype(np.float64)
    want = [total(masks["issued"]), total(masks["issued"], amount),
            total(masks["issued"], diluted), total(sample), total(sample, dbt_f),
            total(sample, dbt * amount), total(sample, amount), total(recent, dbt_f),
            total(recent), total(sample & ~recent, dbt_f), total(sample & ~recent),
            total(masks["open"], amount), total(overdue, amount), total(aged, amount),
            *(total(sample & (dbt > d)) for d in late)]
    assert got.shape == (len(want), n)
    for row, expected in zip(got, want, strict=True):
        assert np.array_equal(row.view(np.uint64), expected.view(np.uint64))


def test_mixed_currency_money_features_are_nan() -> None:
    g = golden()
    g.loc[0, "currency"] = "USD"
    f = payment_features(g, AS_OF).loc["D1"]
    assert f["pay_mixed_currency"] == 1.0
    assert np.isnan(f["pay_dilution"]) and np.isnan(f["pay_open_balance"])
    assert f["pay_dbt_mean"] == pytest.approx(45.25)


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
