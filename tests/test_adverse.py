"""Tests of riskengine.features.adverse (adverse records -> severity features).

Golden cases come from seed 003 as summarised in DOMAIN.md §3.1: records are
serious (bounced cheques, payment orders, unpaid bills) AND recent (the last
four years) AND significant ("a bounced cheque of 1,000 is not serious"); a
mortgage pre-notation in favour of a bank is not a reason to reject.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import check_estimator

from riskengine.contracts.schemas import ADVERSE_EVENT_TYPES, SERIOUS_EVENT_TYPES
from riskengine.errors import InvalidInputError
from riskengine.features.adverse import (
    ADVERSE_FEATURES,
    ESTIMATOR_CHECK_EXEMPTIONS,
    FILL_VALUES,
    AdverseFeatures,
    adverse_arrays,
    adverse_features,
    feature_directions,
)
from riskengine.features.significance import knockout_mask, significance_thresholds

AS_OF = pd.Timestamp("2024-06-30")


def records(rows: list[dict]) -> pd.DataFrame:
    """An adverse_records frame; defaults fill the columns a row leaves out."""
    base = {"currency": "EUR", "status": "open", "settlement_date": None}
    full = [{"record_id": f"r{i}", **base, **r} for i, r in enumerate(rows)]
    df = pd.DataFrame(full, columns=["record_id", "debtor_id", "event_type", "event_date",
                                     "amount", "currency", "status", "settlement_date"])  # fmt: skip
    df["event_date"] = pd.to_datetime(df["event_date"])
    df["settlement_date"] = pd.to_datetime(df["settlement_date"])
    df["amount"] = df["amount"].astype(float)
    return df


def one(event_type: str, amount: float, date: str = "2023-06-30", **kw: object) -> pd.DataFrame:
    return records([{"debtor_id": "D1", "event_type": event_type, "event_date": date,
                     "amount": amount, **kw}])  # fmt: skip


# --- golden cases ----------------------------------------------------------------


def test_bounced_cheque_of_1000_is_not_serious() -> None:
    """Seed 003: "a bounced cheque of 1,000 is not serious" -> no knock-out."""
    f = adverse_features(one("bounced_cheque", 1000.0), AS_OF)
    assert f.loc["D1", "adv_knockout"] == 0.0
    assert f.loc["D1", "adv_n_serious_significant"] == 0.0
    assert f.loc["D1", "adv_n_tier2"] == 1.0  # still counted as a serious-tier record


def test_bounced_cheque_of_5000_knocks_out() -> None:
    """Seed 003: serious AND recent (1 year old, inside 4 years) AND 5,000 > 1,000."""
    f = adverse_features(one("bounced_cheque", 5000.0), AS_OF)
    assert f.loc["D1", "adv_knockout"] == 1.0
    assert f.loc["D1", "adv_knockout_open"] == 1.0
    assert f.loc["D1", "adv_max_tier"] == 2.0
    assert f.loc["D1", "adv_days_since_serious"] == 366.0  # 2023-06-30 -> 2024-06-30 (leap year)


def test_payment_order_five_years_old_is_outside_the_lookback() -> None:
    """Seed 003: recent = the last four years; a 5-year-old payment order is not counted."""
    f = adverse_features(one("payment_order", 50_000.0, date="2019-06-30"), AS_OF)
    assert f.empty  # no record inside the look-back -> no row; the caller fills with FILL_VALUES
    both = pd.concat([one("payment_order", 50_000.0, date="2019-06-30"),
                      one("tax_debt", 10.0).assign(record_id="x")])  # fmt: skip
    g = adverse_features(both, AS_OF)
    assert g.loc["D1", "adv_n_tier2"] == 0.0
    assert g.loc["D1", "adv_knockout"] == 0.0


def test_mortgage_prenotation_never_knocks_out() -> None:
    """Seed 003: a mortgage pre-notation in favour of a bank is not a reason to reject."""
    f = adverse_features(one("mortgage_prenotation", 2_000_000.0), AS_OF, revenue=pd.Series({"D1": 1.0}))
    row = f.loc["D1"]
    assert row["adv_n_tier0"] == 1.0 and row["adv_amount_tier0"] == 2_000_000.0
    adverse_cols = [c for c in ADVERSE_FEATURES if c not in ("adv_n_tier0", "adv_amount_tier0",
                                                             "adv_days_since_serious")]  # fmt: skip
    assert (row[adverse_cols] == 0).all()
    assert np.isnan(row["adv_days_since_serious"])


def test_settled_record_still_knocks_out_but_not_the_open_flag() -> None:
    """Documented choice: the register annotates paid items, it does not erase them."""
    f = adverse_features(one("unpaid_bill_of_exchange", 3000.0, status="settled",
                             settlement_date="2024-01-15"), AS_OF)  # fmt: skip
    assert f.loc["D1", "adv_knockout"] == 1.0
    assert f.loc["D1", "adv_knockout_open"] == 0.0
    assert f.loc["D1", "adv_n_settled"] == 1.0 and f.loc["D1", "adv_n_open"] == 0.0


def test_settlement_after_as_of_counts_as_open() -> None:
    """Point in time: a settlement is known only from its settlement_date."""
    f = adverse_features(one("payment_order", 3000.0, status="settled",
                             settlement_date="2024-08-01"), AS_OF)  # fmt: skip
    assert f.loc["D1", "adv_n_open"] == 1.0 and f.loc["D1", "adv_knockout_open"] == 1.0


def test_recency_weight_and_amount_to_revenue_by_hand() -> None:
    """Hand calculation: a tax debt of 4,000 exactly 2 years (730.5 d) old, half-life 2 y.

    The look-back counts whole days: 731 days -> weight 0.5 ** (731 / 730.5).
    Revenue 100,000 -> amount/revenue = 0.04.
    """
    f = adverse_features(one("tax_debt", 4000.0, date="2022-06-30"), AS_OF,
                         revenue=pd.Series({"D1": 100_000.0}))  # fmt: skip
    w = 0.5 ** (731 / 730.5)
    assert f.loc["D1", "adv_weighted_count"] == pytest.approx(w)
    assert f.loc["D1", "adv_weighted_amount"] == pytest.approx(4000 * w)
    assert f.loc["D1", "adv_amount_to_revenue"] == pytest.approx(0.04)


def test_amount_to_revenue_converts_the_revenue_into_the_records_currency() -> None:
    """Issue 16: a tax debt of EUR 4,000 against revenue RON 497,000 at 4.97 RON per EUR
    (rate 1 / 4.97 EUR per RON, in force on the decision date): revenue EUR 100,000, so
    0.04 as for the same statement in EUR (not 4,000 / 497,000 = 0.008). Without a RON
    rate the ratio is missing, not a ratio of two currencies."""
    from riskengine.contracts.schemas import CURRENCIES

    rates = np.full(len(CURRENCIES), np.nan)
    rates[CURRENCIES.index("EUR")] = 1.0
    rates[CURRENCIES.index("RON")] = 1 / 4.97
    kw = {"revenue": pd.Series({"D1": 497_000.0}),
          "revenue_currency": pd.Series({"D1": "RON"})}
    recs = one("tax_debt", 4000.0, date="2024-06-30")
    f = adverse_features(recs, AS_OF, rates=rates, **kw)
    assert f.loc["D1", "adv_amount_to_revenue"] == pytest.approx(0.04)
    rates[CURRENCIES.index("RON")] = np.nan
    g = adverse_features(recs, AS_OF, rates=rates, significant_amount=1e9, **kw)
    assert np.isnan(g.loc["D1", "adv_amount_to_revenue"])


def test_amount_to_revenue_is_nan_without_positive_revenue() -> None:
    recs = records([{"debtor_id": d, "event_type": "seizure", "event_date": "2024-01-01",
                     "amount": 10.0} for d in ("A", "B", "C")])  # fmt: skip
    f = adverse_features(recs, AS_OF, revenue=pd.Series({"A": 0.0, "B": -5.0}))
    assert f["adv_amount_to_revenue"].isna().all()
    assert adverse_features(recs, AS_OF)["adv_amount_to_revenue"].isna().all()


def test_insolvency_flag_open_only() -> None:
    recs = records([
        {"debtor_id": "A", "event_type": "bankruptcy_filing", "event_date": "2024-01-01", "amount": 0.0},
        {"debtor_id": "B", "event_type": "insolvency_declared", "event_date": "2023-01-01",
         "amount": 0.0, "status": "settled", "settlement_date": "2024-01-01"},
    ])  # fmt: skip
    f = adverse_features(recs, AS_OF)
    assert f["adv_insolvency"].tolist() == [1.0, 0.0]
    assert f["adv_max_tier"].tolist() == [4.0, 4.0]


def test_threshold_per_currency_and_missing_currency_threshold() -> None:
    """A mapping gives one threshold per currency (1,000 JPY is not 1,000 EUR)."""
    rec = one("bounced_cheque", 50_000.0, currency="JPY")
    f = adverse_features(rec, AS_OF, significant_amount={"EUR": 1000.0, "JPY": 150_000.0})
    assert f.loc["D1", "adv_knockout"] == 0.0
    with pytest.raises(InvalidInputError, match=r"record 'r0'.*'JPY' has no threshold"):
        adverse_features(rec, AS_OF, significant_amount={"EUR": 1000.0})


def test_mixed_currency_amounts_are_nan() -> None:
    recs = pd.concat([one("seizure", 10.0), one("seizure", 10.0, currency="USD").assign(record_id="x")])
    f = adverse_features(recs, AS_OF)
    assert f.loc["D1", "adv_mixed_currency"] == 1.0
    assert np.isnan(f.loc["D1", "adv_amount_adverse"]) and f.loc["D1", "adv_n_adverse"] == 2.0


def test_bad_input_names_record_field_and_value() -> None:
    bad = one("lost_cheque", 10.0)
    with pytest.raises(InvalidInputError, match=r"record 'r0' \(debtor 'D1'\): event_type 'lost_cheque'"):
        adverse_features(bad, AS_OF)
    neg = one("seizure", -1.0)
    with pytest.raises(InvalidInputError, match=r"record 'r0'.*amount is -1.0") as err:
        adverse_features(neg, AS_OF)
    assert err.value.first["reason"] == "negative"
    with pytest.raises(InvalidInputError, match=r"lacks column\(s\) \['status'\]"):
        adverse_features(one("seizure", 1.0).drop(columns="status"), AS_OF)
    with pytest.raises(InvalidInputError, match=r"currency 'XXX'"):
        adverse_features(one("seizure", 1.0, currency="XXX"), AS_OF)


def test_fill_values_and_directions_cover_every_feature() -> None:
    assert set(FILL_VALUES) == set(ADVERSE_FEATURES) == set(feature_directions())
    assert np.isnan(FILL_VALUES["adv_days_since_serious"])
    assert feature_directions()["adv_days_since_serious"] == -1
    assert feature_directions()["adv_n_tier0"] == 0


def test_categorical_debtor_ids_give_the_same_result() -> None:
    recs = records([{"debtor_id": d, "event_type": e, "event_date": "2023-01-01", "amount": 2000.0}
                    for d, e in [("B", "seizure"), ("A", "payment_order"), ("C", "tax_debt")]])  # fmt: skip
    cat = recs.assign(debtor_id=pd.Categorical(recs["debtor_id"], categories=["C", "Z", "A", "B"]),
                      event_type=recs["event_type"].astype("category"))  # fmt: skip
    pd.testing.assert_frame_equal(adverse_features(recs, AS_OF), adverse_features(cat, AS_OF))
    obj = recs.astype({"debtor_id": object, "currency": object, "status": object})
    pd.testing.assert_frame_equal(adverse_features(recs, AS_OF), adverse_features(obj, AS_OF))


# --- properties ----------------------------------------------------------------------

_record = st.fixed_dictionaries({
    "debtor_id": st.sampled_from(["A", "B", "C"]),
    "event_type": st.sampled_from(ADVERSE_EVENT_TYPES),
    "event_date": st.dates(pd.Timestamp("2018-01-01").date(), pd.Timestamp("2026-01-01").date()),
    "amount": st.floats(0, 1e6, allow_nan=False),
    "status": st.sampled_from(["open", "settled"]),
    "settlement_date": st.one_of(st.none(), st.dates(pd.Timestamp("2018-01-01").date(),
                                                     pd.Timestamp("2026-01-01").date())),
})  # fmt: skip
_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _filled(df: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return df.reindex(ids).fillna({k: v for k, v in FILL_VALUES.items() if not np.isnan(v)})


@_SETTINGS
@given(st.lists(_record, max_size=12), _record)
def test_adding_a_record_never_lowers_a_severity_feature(rows: list[dict], extra: dict) -> None:
    ids = ["A", "B", "C"]
    before = _filled(adverse_features(records(rows), AS_OF), ids)
    after = _filled(adverse_features(records([*rows, extra]), AS_OF), ids)
    for name in feature_directions():
        b, a = before[name].to_numpy(), after[name].to_numpy()
        if name == "adv_days_since_serious":  # can only fall; NaN means "none" (+inf)
            b, a = np.nan_to_num(b, nan=np.inf), np.nan_to_num(a, nan=np.inf)
            assert (a <= b).all(), name
        elif name == "adv_amount_to_revenue":
            continue  # NaN without revenue
        else:
            assert (a >= b - 1e-9 * np.abs(b)).all(), name


@_SETTINGS
@given(st.lists(_record, max_size=12), st.lists(_record, max_size=5))
def test_no_look_ahead(rows: list[dict], future: list[dict]) -> None:
    """Records dated after as_of change nothing; nor do settlements after as_of."""
    late = [{**r, "event_date": (AS_OF + pd.Timedelta(days=1 + i)).date()} for i, r in enumerate(future)]
    base = adverse_features(records(rows), AS_OF)
    pd.testing.assert_frame_equal(base, adverse_features(records([*rows, *late]), AS_OF))
    reopened = [{**r, "settlement_date": (AS_OF + pd.Timedelta(days=3)).date()}
                if r["settlement_date"] is None or pd.Timestamp(r["settlement_date"]) > AS_OF
                else r for r in rows]  # fmt: skip
    pd.testing.assert_frame_equal(base, adverse_features(records(reopened), AS_OF))


@_SETTINGS
@given(st.lists(_record, min_size=1, max_size=12))
def test_inputs_not_mutated_and_unit_invariance(rows: list[dict]) -> None:
    recs = records(rows)
    copy = recs.copy(deep=True)
    rev = pd.Series({"A": 5e5, "B": 1e6, "C": 2e4})
    f = adverse_features(recs, AS_OF, revenue=rev)
    pd.testing.assert_frame_equal(recs, copy)
    g = adverse_features(recs.assign(amount=recs["amount"] * 1000), AS_OF, revenue=rev * 1000,
                         significant_amount=1_000_000.0)  # fmt: skip
    rel = ["adv_amount_to_revenue", "adv_knockout", "adv_n_serious_significant", "adv_max_tier"]
    pd.testing.assert_frame_equal(f[rel], g[rel], rtol=1e-9)


# --- scikit-learn contract -------------------------------------------------------------

def test_sklearn_estimator_checks() -> None:
    """Every check runs; the exempted ones (reasons in ESTIMATOR_CHECK_EXEMPTIONS) are xfail."""
    results = check_estimator(AdverseFeatures(as_of=AS_OF),
                              expected_failed_checks=ESTIMATOR_CHECK_EXEMPTIONS, on_fail=None)  # fmt: skip
    failed = [r["check_name"] for r in results if r["status"] == "failed"]
    assert not failed, failed
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_no_attributes_set_in_init", "check_get_params_invariance",
            "check_set_params", "check_estimator_repr"} <= passed  # fmt: skip


def test_transformer_in_pipeline_matches_function() -> None:
    recs = one("payment_order", 5000.0)
    pipe = Pipeline([("adv", AdverseFeatures(as_of=AS_OF, lookback_years=2.0))])
    out = pipe.fit_transform({"adverse_records": recs})
    pd.testing.assert_frame_equal(out, adverse_features(recs, AS_OF, lookback_years=2.0))
    assert list(pipe.get_feature_names_out()) == list(ADVERSE_FEATURES)
    assert AdverseFeatures(as_of=AS_OF).get_params()["as_of"] is AS_OF


def test_transformer_pickles_and_clones() -> None:
    recs = one("payment_order", 5000.0)
    t = AdverseFeatures(as_of=AS_OF, significant_amount={"EUR": 10.0})
    again = pickle.loads(pickle.dumps(t))
    pd.testing.assert_frame_equal(t.transform(recs), again.transform(recs))
    assert clone(t).get_params() == t.get_params()


def test_transformer_without_as_of_raises() -> None:
    t = AdverseFeatures()
    with pytest.raises(ValueError, match="as_of is required"):
        t.transform(one("seizure", 1.0))


def test_adverse_arrays_of_one_debtor_alone_equal_its_row_in_a_batch() -> None:
    """The array function the batch and the single-debtor path share: each debtor's
    features computed alone (n = 1, its own records) are those of its row in a batch of
    300 debtors, bit for bit (NaN where NaN); records outside the look-back are skipped
    and a debtor with none has FILL_VALUES."""
    from riskengine.contracts.schemas import ADVERSE_STATUSES, CURRENCIES

    rng = np.random.default_rng(11)
    m, n, day, lookback = 2000, 300, 20000, 1461
    code = rng.integers(0, n - 20, m)  # the last 20 debtors have no record
    event = day - rng.integers(-30, 1800, m)  # some in the future, some too old
    etype = rng.integers(0, len(ADVERSE_EVENT_TYPES), m)
    status = rng.integers(0, len(ADVERSE_STATUSES), m)
    settle = np.where(rng.random(m) < 0.5, event + rng.integers(0, 400, m), np.iinfo(np.int64).min)
    amount = np.round(rng.lognormal(7, 1.5, m), 2)
    cur = np.where(rng.random(m) < 0.03, 1, 0)
    revenue = np.where(rng.random(n) < 0.8, rng.lognormal(13, 1, n), np.nan)
    # per record (absolute 1,000 or 1 % of the revenue), as both paths compute it
    thr = significance_thresholds(etype, cur, code, knockout=knockout_mask(SERIOUS_EVENT_TYPES),
                                  absolute=1000.0, share=0.01, revenue=revenue)
    assert len(CURRENCIES) > 1 and np.isinf(thr[~np.isin(etype, [0, 1, 2])]).all()
    rest = (thr, revenue, lookback, 730.5)
    batch = adverse_arrays(code, n, day, event, etype, status, settle, amount, cur, *rest)
    assert batch.shape == (len(ADVERSE_FEATURES), n)
    for g in range(n):
        r = code == g
        alone = adverse_arrays(np.zeros(int(r.sum()), np.int64), 1, day, event[r], etype[r],
                               status[r], settle[r], amount[r], cur[r], thr[r],
                               revenue[g:g + 1], lookback, 730.5)
        assert alone[:, 0].tobytes() == batch[:, g].tobytes(), g
    fill = np.array([FILL_VALUES[name] for name in ADVERSE_FEATURES])
    np.testing.assert_array_equal(batch[:, -1], fill)
    j = ADVERSE_FEATURES.index
    assert (batch[j("adv_knockout")] == 1).any() and (batch[j("adv_mixed_currency")] == 1).any()
