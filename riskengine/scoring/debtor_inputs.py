"""The core's per-debtor inputs from validated frames as of a day, and a book read at a
past date (point in time).

:func:`debtor_inputs` is what :meth:`riskengine.scoring.engine.Engine.decide` builds for
every debtor of a book (features, latest financials and rating basis, past-due default,
the input hash's digests); :func:`inputs_at` reads the same inputs at an earlier date
``t`` of a book extracted later (the training snapshots of
:mod:`riskengine.modeldev.book_training`): the feature functions ignore what is dated
after ``t`` (a statement from its ``period_end``, an adverse record from its
``event_date`` and its settlement from ``settlement_date``, an invoice from its
``issue_date`` and its payment from ``paid_date``), the debtors with a record in a
currency without a rate in force at ``t`` are left out, as a decision at ``t`` would
refuse them. One computation: the decision and the training snapshot call the same
functions. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

from riskengine.contracts.dates import as_of_text
from riskengine.features import build_features
from riskengine.features.fx import FxRates, currency_codes
from riskengine.features.units import MoneyUnit, size_in_unit
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.scoring.financials import (
    default_past_due,
    financial_inputs,
    latest_financials,
    past_due,
)
from riskengine.scoring.frames import _on_index
from riskengine.scoring.inputs import DebtorInputs
from riskengine.scoring.overlay import Overlay
from riskengine.scoring.records import debtor_digests

__all__ = ["EngineView", "debtor_inputs", "inputs_at"]


class EngineView(Protocol):
    """What these functions read of an :class:`~riskengine.scoring.engine.Engine`."""

    overlay: Overlay
    policy: CreditPolicy
    feature_names: tuple[str, ...]
    money_unit: MoneyUnit

    @property
    def lookback_years(self) -> float: ...

    def rates_on(self, fx: FxRates, day: str) -> np.ndarray: ...


def debtor_inputs(engine: EngineView, clean: Mapping[str, pd.DataFrame], day: str,
                  rates: np.ndarray, *, digests: bool = True
                  ) -> tuple[DebtorInputs, pd.Index, np.ndarray]:
    """The core's per-debtor inputs of every debtor of validated frames on ``day``.

    Parameters
    ----------
    engine : EngineView
        The engine: its overlay (features, basis rules, default definition), policy (adverse
        thresholds) and model's feature names.
    clean : mapping
        Validated portfolio frames.
    day : str
        ``YYYY-MM-DD``.
    rates : ndarray
        The rates in force on ``day`` (:meth:`Engine.rates_on`).
    digests : bool, default True
        False: the input hash's digests are zeros (a training snapshot needs no hash).

    Returns
    -------
    inputs : DebtorInputs
    ids : pandas.Index
        The debtors (sorted text ids), the order of ``inputs``.
    fin_currency : ndarray of object
        The currency of each debtor's latest statement (``""`` without; the pairs'
        conversions).
    """
    ov = engine.overlay
    ko = engine.policy.knockouts
    feats = build_features(
        clean, day, families=("statements", "adverse", "payments"),
        lookback_years=engine.lookback_years,
        significant_amount=float(ko.adverse_min_amount),
        knockout_types=ko.adverse_event_types, revenue_share=ko.adverse_min_revenue_share,
        rates=rates, threshold_currency=ko.currency)
    ids = feats.index
    st_X = feats.reindex(columns=list(engine.feature_names)).to_numpy(
        dtype=np.float64, na_value=np.nan)
    fin = latest_financials(clean["statements"], day, ids)
    # the size features in the model's money unit at the day's rates (NaN and flagged
    # without a rate): the one conversion of every path (riskengine.features.units)
    st_X, unconverted = size_in_unit(st_X, engine.feature_names,
                                     currency_codes(fin["currency"]), rates, engine.money_unit)
    money, basis = financial_inputs(fin["latest"], ov.max_statement_age_days)
    ko_col = "adv_knockout" if ko.adverse_count_settled else "adv_knockout_open"
    pdue, open_bal = past_due(clean["invoices"], day, ov.days_past_due, ids, rates)
    if digests:
        digest = debtor_digests(_on_index(clean["debtors"], ids), clean, ids)
    else:
        digest = np.zeros((len(ids), 32), dtype=np.uint8)
    deb = DebtorInputs(
        debtor_id=np.asarray(ids, dtype=object), st_X=st_X, basis=basis,
        overlay_X=feats.reindex(columns=list(ov.features)).to_numpy(
            dtype=np.float64, na_value=np.nan),
        insolvency=feats["adv_insolvency"].to_numpy(dtype=np.float64) > 0,
        past_due_default=default_past_due(pdue, open_bal, ov),
        knockout=feats[ko_col].to_numpy(dtype=np.float64) > 0,
        dilution=feats["pay_dilution"].to_numpy(dtype=np.float64, na_value=np.nan),
        tnw=money[0], revenue=money[1], profit=money[2],
        fin_currency=fin["currency"], past_due_amount=pdue, digest=digest,
        size_unconverted=unconverted,
    )
    return deb, ids, fin["currency"]


def inputs_at(engine: EngineView, clean: Mapping[str, pd.DataFrame], as_of: Any,
              fx: FxRates | None = None) -> DebtorInputs:
    """The core's per-debtor inputs of a validated book read at ``as_of`` (point in time).

    Parameters
    ----------
    engine : EngineView
    clean : mapping
        Validated frames (validated once against the book's extraction date); an
        ``fx_rates`` frame, when present, gives the rates (else ``fx``).
    as_of : date-like
        The snapshot date ``t``; records dated after it are not read.
    fx : FxRates, optional

    Returns
    -------
    DebtorInputs
        Every debtor of ``debtors`` whose records have rates in force at ``t`` (no
        input-hash digests).
    """
    from riskengine.validation.fx import reject_missing_rates

    day = as_of_text(as_of)
    frames = {k: v for k, v in clean.items() if k != "fx_rates"}
    base = engine.policy.book.currency
    if "fx_rates" in clean:
        fx = FxRates.from_frame(clean["fx_rates"], base)
    elif fx is None:
        fx = FxRates.empty(base)
    rates = engine.rates_on(fx, day)
    frames, _, _ = reject_missing_rates(
        frames, rates, day, lookback_days=int(round(engine.lookback_years * 365.25)),
        knockout_types=engine.policy.knockouts.adverse_event_types)
    return debtor_inputs(engine, frames, day, rates, digests=False)[0]
