"""SYNTHETIC debtors and suppliers: latent creditworthiness, the debtor and supplier draws."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskengine.contracts.schemas import LEGAL_FORMS
from riskengine.errors import InvalidInputError
from riskengine.synthetic.calibration import (
    _COUNTRIES,
    _EXPORTERS,
    _FORMS,
    _FX,
    _NACE,
    _PD_INTERCEPT,
    _PD_SLOPE,
    _SECTOR_NAMES,
    _SECTORS,
    _STEMS,
    _SUPPLIER_CURRENCIES,
    _SUPPLIER_LOCAL,
)
from riskengine.synthetic.frames import (
    _F,
    _codes,
    _dates,
    _expit,
    _frame,
    _ids,
    _optional_take,
    _rngs,
    _str,
    _width,
)

__all__ = ["latent_pd"]

# --- latent creditworthiness -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Latent:
    pd: _F  # 12-month default probability
    w: _F  # standardised logit of pd: the weakness driving every other draw
    sector: _F  # index into _SECTOR_NAMES
    form: _F  # index into LEGAL_FORMS
    size_noise: _F  # standard normal, log-revenue residual


def _latent(n: int, rng: np.random.Generator) -> _Latent:
    z = rng.standard_normal(n)
    sector_p = np.array([s[0] for s in _SECTORS.values()])
    form_p = np.array([f[0] for f in _FORMS.values()])
    sector = rng.choice(len(sector_p), size=n, p=sector_p / sector_p.sum())
    form = rng.choice(len(form_p), size=n, p=form_p / form_p.sum())
    size_noise = rng.standard_normal(n)
    effect = (
        np.array([s[2] for s in _SECTORS.values()])[sector]
        + np.array([f[1] for f in _FORMS.values()])[form]
    )
    logit = _PD_INTERCEPT + _PD_SLOPE * z + effect
    w = (logit - _PD_INTERCEPT) / _PD_SLOPE
    return _Latent(pd=_expit(logit), w=w, sector=sector, form=form, size_noise=size_noise)


def latent_pd(n_debtors: int, seed: int = 42) -> np.ndarray:
    """The latent 12-month PD of each debtor of ``generate_portfolio(n_debtors, seed)``.

    Element ``i`` belongs to the ``i``-th debtor (``debtor_id`` sorted). It
    does not depend on ``as_of`` or ``n_suppliers``.

    Parameters
    ----------
    n_debtors : int
        Number of debtors.
    seed : int
        The seed given to :func:`generate_portfolio`.

    Returns
    -------
    numpy.ndarray
        Float64 fractions in (0, 1).

    Notes
    -----
    ``pd = expit(-4.0 + 1.2 z + sector effect + legal-form effect)`` with ``z``
    standard normal from the first child stream of ``SeedSequence(seed)``.
    Construction, hospitality and sole traders are riskier; public bodies and
    public limited companies safer. The PD is the generator's truth, not a
    model's estimate: use it to check that features and models rank debtors
    in the right direction.

    Examples
    --------
    >>> p = latent_pd(1000, seed=1)
    >>> p.shape, bool(((p > 0) & (p < 1)).all())
    ((1000,), True)
    """
    _check_n(n_debtors, "n_debtors")
    return _latent(n_debtors, _rngs(seed)["latent"]).pd


def _check_n(n: Any, name: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidInputError(f"{name} must be a whole number >= 1, got {n!r}.")


# --- debtors -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Debtors:
    frame: pd.DataFrame
    ids: pd.api.extensions.ExtensionArray
    w: _F
    sector: _F
    form: _F
    fx: _F  # local currency units per EUR
    currency: _F  # index into the contract's CURRENCIES (statements)
    revenue_eur: _F  # latest annual revenue, EUR
    inc_day: _F
    listed: _F
    group: _F  # group index, -1 when none
    group_ids: Any  # str array of the group ids, by group index


def _make_debtors(n: int, lat: _Latent, as_of: int, rng: np.random.Generator) -> _Debtors:
    w = lat.w
    countries = list(_COUNTRIES)
    cp = np.array([c[0] for c in _COUNTRIES.values()])
    country = rng.choice(len(countries), size=n, p=cp / cp.sum())
    local = [_COUNTRIES[c][2] for c in countries]
    fx = np.array([_FX[c] for c in local])[country]
    currency = _codes("statements", "currency", local)[country]

    form_median = np.array([f[2] for f in _FORMS.values()])[lat.form]
    revenue_eur = np.maximum(form_median * np.exp(1.0 * lat.size_noise - 0.2 * w), 10_000.0)

    age_years = np.minimum(0.3 + rng.gamma(2.0, 7.5 * np.exp(-0.15 * w)), 90.0)
    inc_day = as_of - np.round(age_years * 365.25).astype(np.int64)
    inc_missing = rng.random(n) < 0.01

    listed = (lat.form == LEGAL_FORMS.index("public_limited")) & (revenue_eur > 30e6)
    listed &= rng.random(n) < 0.25

    # groups: ~5% of debtors in groups of 2-5 members
    group = np.full(n, -1, dtype=np.int64)
    n_members = int(round(0.05 * n))
    if n_members >= 2:
        members = rng.permutation(n)[:n_members]
        sizes = 2 + np.minimum(rng.poisson(1.2, size=n_members), 3)
        ends = np.cumsum(sizes)
        group[members] = np.searchsorted(ends, np.arange(n_members), side="right")
    n_groups = int(group.max()) + 1
    group_ids = _ids("G", n_groups, _width(n_groups))

    ids = _ids("D", n, _width(n))
    stem = rng.integers(0, len(_STEMS), size=n)
    words = [s[7] for s in _SECTORS.values()]
    suffix = [f[4] for f in _FORMS.values()]
    name = (
        pd.Series(_str(_STEMS, stem))
        + " "
        + pd.Series(_str(words, lat.sector))
        + pd.Series(_str(suffix, lat.form))
    )
    # tax ids: a bijection of the row number, so they are unique; GR VAT prefix is EL
    prefix = np.array(["EL" if c == "GR" else c for c in countries], dtype=object)[country]
    number = (np.arange(n, dtype=np.int64) * 7_919 + 12_345) % 900_000_000 + 100_000_000
    tax_id = pd.Series(_str(prefix)) + pd.Series(pa.array(number).cast(pa.string()), dtype="str")
    tax_id = tax_id.where(rng.random(n) >= 0.01)

    nace_choice = rng.random(n)
    nace = np.empty(n, dtype=object)
    for k, sector in enumerate(_SECTOR_NAMES):  # loop over 9 sectors, not debtors
        rows = lat.sector == k
        codes = np.array(_NACE[sector], dtype=object)
        nace[rows] = codes[(nace_choice[rows] * len(codes)).astype(np.int64)]

    frame = _frame(
        "debtors",
        {
            "debtor_id": ids,
            "name": name.array,
            "tax_id": tax_id.array,
            "country": _str(countries, country),
            "nace": _str(nace),
            "legal_form": lat.form,
            "incorporation_date": _dates(inc_day, inc_missing),
            "group_id": _optional_take(group_ids, group),
            "listed": listed,
        },
    )
    return _Debtors(
        frame,
        ids,
        w,
        lat.sector,
        lat.form,
        fx,
        currency,
        revenue_eur,
        inc_day,
        listed,
        group,
        group_ids,
    )


# --- suppliers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Suppliers:
    ids: pd.api.extensions.ExtensionArray
    country: _F
    sector: _F  # index into _SECTOR_NAMES
    nace: _F
    name: pd.Series
    currency: _F  # index into _SUPPLIER_CURRENCIES: the invoicing currency
    weight: _F  # popularity among debtors
    fallback_ledger_eur: _F  # ledger of a supplier with no debtor in the portfolio


def _draw_suppliers(n_s: int, rng: np.random.Generator) -> _Suppliers:
    countries = list(_COUNTRIES)
    cp = np.array([c[1] for c in _COUNTRIES.values()])
    country = rng.choice(len(countries), size=n_s, p=cp / cp.sum())
    sp = np.array([s[1] for s in _SECTORS.values()])
    sector = rng.choice(len(sp), size=n_s, p=sp / sp.sum())
    u = rng.random(n_s)
    nace = np.empty(n_s, dtype=object)
    for k, s in enumerate(_SECTOR_NAMES):
        rows = sector == k
        codes = np.array(_NACE[s], dtype=object)
        nace[rows] = codes[(u[rows] * len(codes)).astype(np.int64)]
    # invoicing currency: the local one (see calibration), a few exporters in USD / GBP
    local = [_SUPPLIER_CURRENCIES.index(_SUPPLIER_LOCAL[_COUNTRIES[c][2]]) for c in countries]
    currency = np.asarray(local, dtype=np.int64)[country]
    u = rng.random(n_s)
    edge = 0.0
    for code, share in _EXPORTERS:  # two exporter currencies, not suppliers
        currency = np.where((u >= edge) & (u < edge + share),
                            _SUPPLIER_CURRENCIES.index(code), currency)
        edge += share
    weight = np.exp(rng.standard_normal(n_s))
    stem = rng.integers(0, len(_STEMS), size=n_s)
    words = [s[7] for s in _SECTORS.values()]
    name = pd.Series(_str(_STEMS, stem)) + " " + pd.Series(_str(words, sector)) + " Supplies S.A."
    ledger = 5e5 * np.exp(rng.standard_normal(n_s))
    ids = _ids("S", n_s, _width(n_s))
    return _Suppliers(ids, country, sector, nace, name, currency, weight / weight.sum(), ledger)
