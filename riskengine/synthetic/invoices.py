"""SYNTHETIC invoices: the last 12 months of every pair, payment delays, credit notes, disputes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskengine.synthetic.debtors import _Debtors
from riskengine.synthetic.exposures import _Pairs
from riskengine.synthetic.frames import _F, _expand, _expit


@dataclass(frozen=True, slots=True)
class _Invoices:
    pair: _F  # pair row of each invoice, rows sorted by (debtor, supplier, issue date)
    amount: _F
    issue_day: _F
    due_day: _F
    paid_day: _F
    open: _F
    credit_note: _F
    disputed: _F


def _make_invoices(d: _Debtors, pr: _Pairs, as_of: int, rng: np.random.Generator) -> _Invoices:
    """The last 12 months of invoices of every pair; they sum to its annual sales."""
    n, p = d.w.size, pr.owner.size
    n_inv = 3 + np.minimum(rng.poisson(3.5, size=n), 27)
    two = np.bincount(pr.owner, minlength=n) == 2
    half = np.where(two, rng.binomial(n_inv, 0.5), n_inv)
    per_pair = np.where(pr.pos == 0, half[pr.owner], (n_inv - half)[pr.owner])
    pair, _, pair_start = _expand(per_pair)
    m = pair.size
    weight = rng.gamma(2.0, size=m)
    pair_weight = np.bincount(pair, weights=weight, minlength=p)
    amount = np.round(pr.annual_sales[pair] * weight / pair_weight[pair], 2)
    del weight
    # issue dates sorted within each pair: uniform order statistics from exponential spacings
    gap = rng.exponential(size=m)
    total_gap = np.bincount(pair, weights=gap, minlength=p) + rng.exponential(size=p)
    running = np.cumsum(gap)
    offset = np.zeros(p)
    has_inv = per_pair > 0
    offset[has_inv] = running[pair_start[has_inv]] - gap[pair_start[has_inv]]
    running -= offset[pair]
    running /= total_gap[pair]
    del gap
    issue_day = as_of - 364 + np.minimum(np.floor(running * 365.0), 364).astype(np.int64)
    del running
    inv_owner = pr.owner[pair]
    issue_day = np.maximum(issue_day, np.minimum(d.inc_day[inv_owner] + 1, as_of))
    due_day = issue_day + pr.credit_days[pair]

    wi = d.w[inv_owner]
    del inv_owner
    on_time = rng.random(m) < _expit(0.3 - 1.0 * wi)
    # Late payers: median ~11 days beyond terms at average strength, a thin tail past 90
    # days except for the weakest; invoices never paid ("stuck") are rare outside the
    # weakest debtors, so that about 2-4 % of a book is 90+ days past due (the default
    # trigger of CRR art. 178), in line with the latent PDs.
    late = np.exp(2.4 + 0.6 * wi + 0.6 * rng.standard_normal(m))
    delay = np.where(on_time, -rng.integers(0, 6, size=m), np.round(late)).astype(np.int64)
    del on_time, late
    disputed = rng.random(m) < _expit(-4.2 + 0.5 * wi)
    stuck = rng.random(m) < np.where(disputed, 0.3, _expit(-7.0 + 1.8 * wi))
    paid_day = due_day + delay
    del delay
    is_open = stuck | (paid_day > as_of)
    noted = rng.random(m) < 0.07 + 0.03 * (wi > 1.0)
    credit_note = np.where(noted, np.round(amount * rng.uniform(0.02, 0.25, m), 2), 0.0)
    disputed_amount = np.where(disputed, np.round(amount * rng.uniform(0.1, 1.0, m), 2), 0.0)
    return _Invoices(
        pair, amount, issue_day, due_day, paid_day, is_open, credit_note, disputed_amount
    )
