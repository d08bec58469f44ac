"""Credit insurance cover on approved limits: insured part, retained risk, expected loss.

Definitions (seed 003; ICISA; Atradius UK; DOMAIN.md §2, §6)::

    insured limit   = min(covered, limit)   # covered: the pair's share of the insurer limit
                                            # in force, or of discretionary cover
                                            # (riskengine.policy.insurer); none: 0
    insured amount  = cover_pct x insured limit      # what the insurer pays on a total loss
    insured exp.    = min(exposure, insured limit)   # above the insured limit is uninsured
    retained        = (exposure - insured exp.) + (1 - cover_pct) x insured exp.
    EL without cover = PD x LGD x exposure
    EL with cover    = PD x LGD x retained
    premium          = premium_rate_g x annual sales x insured limit / limit

The cover never exceeds the limit, and no cover is assumed: a pair without a granted
insurer limit or discretionary cover has none (issue 16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from riskengine.policy import _inputs as inp
from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["CoverFigures", "insurance_cover", "retained_exposure", "expected_loss"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CoverFigures:
    """Insurance cover figures per row (arrays of equal length, money unless stated).

    Attributes
    ----------
    insured_limit, uninsured_limit : numpy.ndarray
        Split of the limit; ``insured_limit <= limit``.
    indemnity : numpy.ndarray
        Fraction of an insured loss the insurer pays (the cover percentage).
    insured_amount : numpy.ndarray
        ``indemnity x insured_limit``: what the insurer pays on a total loss.
    exposure, insured_exposure, retained : numpy.ndarray
        Exposure at default, its insured part, and the factor's retained exposure.
    expected_loss_uninsured, expected_loss_insured : numpy.ndarray
        ``PD x LGD x exposure`` and ``PD x LGD x retained``.
    premium : numpy.ndarray or None
        Premium estimate; ``None`` when no annual sales were given.
    """

    insured_limit: FloatArray
    uninsured_limit: FloatArray
    indemnity: FloatArray
    insured_amount: FloatArray
    exposure: FloatArray
    insured_exposure: FloatArray
    retained: FloatArray
    expected_loss_uninsured: FloatArray
    expected_loss_insured: FloatArray
    premium: FloatArray | None


def retained_exposure(exposure: Any, insured: Any, indemnity: Any) -> Any:
    """Retained exposure = uninsured part + (1 - indemnity) x insured part.

    Parameters
    ----------
    exposure : float or array-like
        Exposure at default, money.
    insured : float or array-like
        Insured limit, money; only ``min(exposure, insured)`` is covered.
    indemnity : float or array-like
        Fraction in [0, 1].

    Examples
    --------
    Seed 003: the insurer pays about 70 %, so the factor keeps about 30 %.

    >>> round(retained_exposure(100_000, 100_000, 0.70), 2)
    30000.0
    >>> round(retained_exposure(100_000, 60_000, 0.90), 2)
    46000.0
    """
    exp = np.asarray(exposure, dtype=np.float64)
    covered = np.minimum(exp, np.asarray(insured, dtype=np.float64))
    out = exp - covered + (1.0 - np.asarray(indemnity, dtype=np.float64)) * covered
    return float(out) if out.ndim == 0 else out


def expected_loss(pd_: Any, lgd: Any, exposure: Any) -> Any:
    """Expected loss = PD x LGD x exposure (PD and LGD fractions in [0, 1]).

    Examples
    --------
    >>> expected_loss(0.02, 0.40, 30_000)
    240.0
    """
    out = (np.asarray(pd_, dtype=np.float64) * np.asarray(lgd, dtype=np.float64)
           * np.asarray(exposure, dtype=np.float64))
    return float(out) if out.ndim == 0 else out


def insurance_cover(
    grade: Any, limit: Any, pd: Any, policy: CreditPolicy, *, covered: Any = None,
    cover_pct: Any = None, exposure: Any = None, annual_sales: Any = None,
    product: Any = None,
) -> CoverFigures:
    """Insurance cover, retained exposure, expected loss and premium per pair.

    Parameters
    ----------
    grade : array-like
        Grade strings or indices 1 ... 11.
    limit : array-like
        Approved limits, money.
    pd : array-like
        12-month PD, a fraction in [0, 1]; NaN or out of range is refused.
    policy : CreditPolicy
    covered : array-like, optional
        The covered part of each limit: the pair's share of the insurer's limit in force
        or of discretionary cover (:func:`riskengine.policy.insurer.covered`); capped at
        the limit. Default none: no cover is assumed.
    cover_pct : float or array-like, optional
        Share of a covered loss the insurer pays, in [0, 1] (the row's ``cover_pct``;
        seed 003: about 70 %); default ``cover.indemnity``.
    exposure : array-like, optional
        Exposure at default; default the full limit.
    annual_sales : array-like, optional
        Annual sales to the debtor; the premium base is its insured share.
    product : array-like, optional
        Product names or codes: products that do not require insurance get
        no cover (recourse business is usually uninsured, seed 003).

    Returns
    -------
    CoverFigures

    Raises
    ------
    InvalidInputError
        A PD that is NaN or outside [0, 1] (no sentinel ever becomes a
        number), a cover percentage outside [0, 1], a negative amount, an unknown
        grade or product.

    Examples
    --------
    Hand calculation: limits of 100,000; an insurer limit of 60,000 at 90 % on the
    first, discretionary cover of 25,000 at 60 % on the second, none on the third.

    >>> from riskengine.config import load_policy
    >>> c = insurance_cover(["4", "4", "7"], 100_000, [0.005, 0.005, 0.03], load_policy(),
    ...                     covered=[60_000, 25_000, 0], cover_pct=[0.90, 0.60, 0.0])
    >>> c.insured_amount.tolist(), c.retained.round(2).tolist()
    ([54000.0, 15000.0, 0.0], [46000.0, 85000.0, 100000.0])
    """
    n = max(inp.size(grade), inp.size(limit), inp.size(pd))
    g = inp.grades(grade, n)
    lim = inp.floats(limit, n, "limit", "cover")
    p = inp.floats(pd, n, "pd", "cover")
    if not (p <= 1.0).all():  # NaN or above 1 (negatives are refused above)
        pos = int(np.flatnonzero(~(p <= 1.0))[0])
        raise inp.bad_input("cover", "pd", pos, float(p[pos]), "not_numeric",
                            "a PD is a fraction in [0, 1]; an unrated debtor gets no cover "
                            "figures: decide it apart.")
    ind = inp.floats(policy.cover.indemnity if cover_pct is None else cover_pct, n,
                     "cover_pct", "cover")
    if not (ind <= 1.0).all():
        pos = int(np.flatnonzero(~(ind <= 1.0))[0])
        raise inp.bad_input("cover", "cover_pct", pos, float(ind[pos]), "out_of_range",
                            "a cover percentage is a fraction in [0, 1].")
    tables = inp.policy_tables(policy)
    insured = np.zeros(n) if covered is None else inp.floats(covered, n, "covered", "cover")
    if product is not None:
        needs = tables.requires_insurance[inp.products(product, n, policy)]
        insured = np.where(needs, insured, 0.0)
    insured = np.minimum(np.where(np.isnan(insured), 0.0, insured), lim)
    exp = lim if exposure is None else inp.floats(exposure, n, "exposure", "cover")
    cov = np.minimum(exp, insured)
    retained = exp - cov + (1.0 - ind) * cov
    lgd = policy.cover.lgd
    premium = None
    if annual_sales is not None:
        sales = inp.floats(annual_sales, n, "annual_sales", "cover")
        share = np.divide(insured, lim, out=np.zeros(n), where=lim > 0)
        premium = tables.premium_rate[g] * sales * share
    return CoverFigures(insured, lim - insured,
                        ind.copy() if ind.shape == (n,) else np.broadcast_to(ind, (n,)).copy(),
                        ind * insured, exp, cov, retained, p * lgd * exp, p * lgd * retained,
                        premium)
