"""Credit insurance cover on approved limits: insured part, retained risk, expected loss.

Definitions (seed 003; ICISA; Atradius UK; DOMAIN.md §2)::

    insured limit   = min(insured_fraction_g x limit, insurer_limit, limit)
    insured exp.    = min(exposure, insured limit)      # above the insured limit is uninsured
    retained        = (exposure - insured exp.) + (1 - indemnity) x insured exp.
    EL without cover = PD x LGD x exposure
    EL with cover    = PD x LGD x retained
    premium          = premium_rate_g x annual sales x insured limit / limit

The cover never exceeds the limit.
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
        Fraction of an insured loss the insurer pays.
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
    grade: Any, limit: Any, pd: Any, policy: CreditPolicy, *, exposure: Any = None,
    insurer_limit: Any = None, annual_sales: Any = None, indemnity: float | None = None,
    product: Any = None,
) -> CoverFigures:
    """Insurance cover, retained exposure, expected loss and premium per debtor.

    Parameters
    ----------
    grade : array-like
        Grade strings or indices 1 ... 11.
    limit : array-like
        Approved limits, money.
    pd : array-like
        12-month PD, a fraction in [0, 1]; NaN or out of range is refused.
    policy : CreditPolicy
    exposure : array-like, optional
        Exposure at default; default the full limit.
    insurer_limit : array-like, optional
        The insurer's own credit limit on the debtor (caps the insured part).
    annual_sales : array-like, optional
        Annual sales to the debtor; the premium base is its insured share.
    indemnity : float, optional
        Overrides ``cover.indemnity`` (e.g. 0.70, seed 003).
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
        number), a negative amount, an unknown grade or product.

    Examples
    --------
    >>> from riskengine.config import load_policy
    >>> c = insurance_cover(["4", "7", "9"], 100_000, [0.005, 0.03, 0.10], load_policy())
    >>> c.insured_limit.tolist(), c.retained.round(2).tolist()
    ([100000.0, 50000.0, 0.0], [10000.0, 55000.0, 100000.0])
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
    ind = policy.cover.indemnity if indemnity is None else float(indemnity)
    if not 0.0 <= ind <= 1.0:
        raise inp.bad_input("cover", "indemnity", 0, ind, "out_of_range",
                            "indemnity is a fraction in [0, 1].")
    tables = inp.policy_tables(policy)
    insured = np.minimum(tables.insured_fraction[g], 1.0) * lim
    if insurer_limit is not None:
        insured = np.minimum(insured, inp.floats(insurer_limit, n, "insurer_limit", "cover"))
    if product is not None:
        needs = tables.requires_insurance[inp.products(product, n, policy)]
        insured = np.where(needs, insured, 0.0)
    insured = np.minimum(np.where(np.isnan(insured), 0.0, insured), lim)
    exp = lim if exposure is None else inp.floats(exposure, n, "exposure", "cover")
    covered = np.minimum(exp, insured)
    retained = exp - covered + (1.0 - ind) * covered
    lgd = policy.cover.lgd
    premium = None
    if annual_sales is not None:
        sales = inp.floats(annual_sales, n, "annual_sales", "cover")
        share = np.divide(insured, lim, out=np.zeros(n), where=lim > 0)
        premium = tables.premium_rate[g] * sales * share
    return CoverFigures(insured, lim - insured, np.full(n, ind), exp, covered, retained,
                        p * lgd * exp, p * lgd * retained, premium)
