"""SYNTHETIC adverse records: register events driven by weakness, mortgage pre-notations by size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskengine.synthetic.calibration import (
    _ADVERSE,
    _LOOKBACK_DAYS,
    _PAYMENT_ORDER_KEPT_DAYS,
    _PRENOTATION,
)
from riskengine.synthetic.debtors import _Debtors
from riskengine.synthetic.frames import (
    _F,
    _choice_rows,
    _codes,
    _dates,
    _expand,
    _expit,
    _frame,
    _Gather,
    _ids,
    _width,
)

# --- adverse records -----------------------------------------------------------------------


def _make_adverse(d: _Debtors, as_of: int, rng: np.random.Generator) -> tuple[pd.DataFrame, _F]:
    """The adverse records and the debtor index of each of their rows."""
    n = d.w.size
    w = d.w
    size = np.log(d.revenue_eur / 1.5e6)
    # adverse process (severity >= 1): ~11% of debtors, more and more records when weak
    has_adverse = rng.random(n) < _expit(-2.75 + 1.2 * w)
    n_adverse = np.where(has_adverse, 1 + np.minimum(rng.poisson(np.exp(-0.5 + 0.45 * w)), 11), 0)
    # mortgage pre-notations: size-driven, independent of w (informative, not adverse)
    n_prenot = (rng.random(n) < _expit(-3.5 + 0.4 * size)).astype(np.int64)
    n_prenot += n_prenot * (rng.random(n) < 0.2)

    owner_a, _, _ = _expand(n_adverse)
    owner_p, _, _ = _expand(n_prenot)
    wa = w[owner_a]
    names = list(_ADVERSE)
    par = np.array([_ADVERSE[t][:2] for t in names])
    logits = par[:, 0][None, :] + par[:, 1][None, :] * wa[:, None]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    kind_a = _choice_rows(rng, probs)

    owner = np.concatenate([owner_a, owner_p])
    all_types = names + [_PRENOTATION[0]]
    kind = np.concatenate([kind_a, np.full(owner_p.size, len(names))])
    r = owner.size
    wr = w[owner]
    is_prenot = kind == len(names)

    median = np.array([_ADVERSE[t][2] for t in names] + [_PRENOTATION[1]])[kind]
    sdlog = np.array([_ADVERSE[t][3] for t in names] + [_PRENOTATION[2]])[kind]
    scale = np.clip(np.exp(0.25 * size[owner]), 0.3, 5.0)
    amount = median * scale * np.exp(sdlog * rng.standard_normal(r))
    is_po = kind == names.index("payment_order")
    amount = np.where(is_po, 1_000.0 + amount, amount)  # orders <= 1,000 are not recorded
    amount = np.round(amount * d.fx[owner], 2)

    u = rng.random(r)
    back = np.where(
        is_prenot, u * _LOOKBACK_DAYS, _LOOKBACK_DAYS * u ** (1.0 + 0.5 * np.maximum(wr, 0.0))
    ).astype(np.int64)
    back = np.where(is_po, back % _PAYMENT_ORDER_KEPT_DAYS, back)
    age_days = as_of - d.inc_day[owner]
    back = np.clip(back, 0, np.minimum(np.maximum(age_days - 1, 0), _LOOKBACK_DAYS))
    event_day = as_of - back

    s_base = np.array([_ADVERSE[t][4] for t in names] + [_PRENOTATION[3]])[kind]
    s_slope = np.array([_ADVERSE[t][5] for t in names] + [0.0])[kind]
    settled = rng.random(r) < _expit(s_base + s_slope * wr)
    settle_day = event_day + 7 + rng.gamma(2.0, 90.0, size=r).astype(np.int64)
    settled &= settle_day <= as_of
    status = _codes("adverse_records", "status", ("open", "settled"))[settled.astype(np.int64)]
    type_codes = _codes("adverse_records", "event_type", all_types)[kind]

    # sort by debtor, then event date (oldest first), then type
    order = np.argsort((owner * (_LOOKBACK_DAYS + 1) + _LOOKBACK_DAYS - back) * 16 + kind)
    cols = {
        "record_id": _Gather(_ids("A", r, _width(r)), None),
        "debtor_id": _Gather(d.ids, owner),
        "event_type": type_codes,
        "event_date": _dates(event_day),
        "amount": amount,
        "currency": d.currency[owner],
        "status": status,
        "settlement_date": _dates(settle_day, ~settled),
    }
    return _frame("adverse_records", cols, order), owner[order]
