"""SYNTHETIC portfolios: seeded, vectorised, labelled synthetic.

No public data set holds interbank adverse registers, invoice-level payment
histories or a factor's exposures (``../shared/data/README.md``), so the demo,
the tests and the benchmarks use portfolios generated here. **Every record this
module makes is synthetic**: names, tax ids, amounts and dates are drawn from
seeded random numbers and describe no real firm.

How a portfolio is generated
----------------------------
1. Each debtor gets a latent creditworthiness: a standard-normal ``z``, a
   sector and a legal form, combined into a 12-month default probability
   ``latent_pd = expit(-4.0 + 1.2 z + sector effect + legal-form effect)``
   (portfolio mean about 4%, median about 2%). :func:`latent_pd` returns it;
   it is *not* a column of any table (the contracts are fixed). The
   standardised logit ``w`` (mean 0, sd about 1) drives everything else:
   weaker debtors are smaller, younger, more leveraged, less profitable,
   shrinking, have more and more serious adverse records and pay later.
2. Statements: 0–5 fiscal years (mostly 3; fewer for young firms), revenue
   lognormal by legal form with year-to-year growth, line items built so that
   the accounting identities hold exactly (see *Statement conventions*).
   Sole traders and partnerships mostly file tax returns only: their
   balance-sheet items are NaN.
3. Adverse records for about 14% of debtors, over the last six years; mortgage
   pre-notations (informative, not adverse) follow a separate, size-driven
   process independent of ``w``.
4. Exposures: 1–2 suppliers per debtor; invoices of the last 12 months for
   each pair sum to the pair's annual sales; the outstanding balance is the
   open invoices net of credit notes, split at the approved limit; a
   supplier's ledger total exceeds its exposures (it also sells to debtors
   outside the portfolio).
5. Groups: about 5% of debtors share a ``group_id``; about 1% of suppliers
   belong to a debtor's group (``same_group`` relations) and 0.2% of pairs
   carry another related-party link.

Statement conventions
---------------------
- ``gross_profit = revenue - cost_of_sales``
- ``operating_expenses`` are all operating costs before depreciation,
  *including* cost of sales (as ``total_operating_expenses`` in the US panel),
  so ``ebitda = revenue - operating_expenses``.
- ``ebit = ebitda - depreciation_amortization``
- ``current_assets = cash + receivables + inventory + other current assets``
  (other current assets > 0, so ``current_assets`` exceeds the sum of the three)
- ``total_assets = current_assets + non-current assets``
- ``total_liabilities = current_liabilities + long_term_debt + other long-term
  liabilities``; ``equity = total_assets - total_liabilities`` (negative for
  some weak debtors); ``retained_earnings = equity - paid-in capital``.
- ``net_income = ebit - interest_expense - tax``, tax 22% of a positive
  pre-tax profit.
Amounts are whole units of the statement currency, so the identities hold
exactly. Statements are in the debtor's local currency (EUR; BGN in Bulgaria,
RON in Romania); adverse records likewise; exposures and invoices in the
supplier's invoicing currency (mostly EUR).

Determinism
-----------
The seed feeds a :class:`numpy.random.SeedSequence` whose children are
independent streams, one per stage, so the same ``(n_debtors, seed, as_of,
n_suppliers)`` always gives identical frames. No record is dated after
``as_of``. The module does no I/O and never reads the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from riskengine.contracts.dates import as_of_day
from riskengine.contracts.schemas import CONTRACTS, LEGAL_FORMS, LINE_ITEMS, STATEMENT_TYPES
from riskengine.errors import InvalidInputError

__all__ = [
    "DEFAULT_AS_OF",
    "GENERATOR_VERSION",
    "generate_portfolio",
    "latent_pd",
    "contract_dtypes",
    "synthetic_manifest",
]

#: As-of date of the bundled demo portfolio.
DEFAULT_AS_OF = "2026-06-30"
#: Bumped whenever the same seed would produce different frames.
GENERATOR_VERSION = 1

_F = np.ndarray  # arrays of float64 / int64 below; kept loose for readability
_STREAMS = ("latent", "debtors", "statements", "adverse", "suppliers", "exposures", "invoices")

# --- population tables -------------------------------------------------------------

# sector group: (weight among debtors, weight among suppliers, PD logit effect,
#   gross margin, total assets / revenue, current-asset share,
#   Dirichlet weights of current assets (cash, receivables, inventory, other), name word)
_SECTORS: dict[str, tuple[float, float, float, float, float, float, tuple[float, ...], str]] = {
    "wholesale": (0.30, 0.40, 0.0, 0.20, 0.65, 0.75, (1.5, 5.0, 3.5, 1.0), "Trading"),
    "retail": (0.15, 0.00, 0.1, 0.30, 0.55, 0.60, (2.0, 1.5, 5.0, 1.0), "Stores"),
    "manufacturing": (0.20, 0.45, -0.1, 0.27, 1.00, 0.50, (1.5, 4.0, 3.5, 1.0), "Industries"),
    "construction": (0.08, 0.00, 0.5, 0.18, 1.30, 0.70, (1.5, 5.0, 2.5, 3.0), "Constructions"),
    "transport": (0.06, 0.02, 0.2, 0.22, 0.90, 0.40, (2.0, 5.0, 0.5, 1.5), "Logistics"),
    "hospitality": (0.07, 0.00, 0.4, 0.55, 2.20, 0.20, (3.0, 2.0, 1.0, 1.5), "Hotels"),
    "services": (0.09, 0.08, -0.1, 0.45, 0.70, 0.65, (3.0, 5.0, 0.3, 1.5), "Services"),
    "agri_food": (0.03, 0.05, 0.2, 0.25, 1.10, 0.55, (1.5, 3.5, 4.0, 1.0), "Farms"),
    "health": (0.02, 0.00, -0.3, 0.35, 0.90, 0.55, (2.0, 5.0, 1.0, 1.0), "Clinics"),
}
_SECTOR_NAMES = tuple(_SECTORS)
# NACE Rev. 2 classes by sector group (codes as published by Eurostat).
_NACE: dict[str, tuple[str, ...]] = {
    "wholesale": ("46.31", "46.34", "46.38", "46.39", "46.44", "46.46", "46.49", "46.69", "46.73", "46.90"),
    "retail": ("47.11", "47.19", "47.30", "47.52", "47.73", "47.91"),
    "manufacturing": ("10.11", "10.41", "10.51", "10.71", "11.07", "17.21", "20.41", "22.22", "23.61", "25.11"),
    "construction": ("41.20", "42.11", "43.21", "43.32"),
    "transport": ("49.41", "52.10", "52.29"),
    "hospitality": ("55.10", "56.10"),
    "services": ("62.01", "69.20", "70.22", "73.11", "81.21"),
    "agri_food": ("01.13", "01.24", "03.21"),
    "health": ("86.10", "86.90"),
}  # fmt: skip

# legal form: (probability, PD logit effect, median revenue EUR, statement-type probabilities
#   over (audited, unaudited, abbreviated, tax_return), name suffix)
_FORMS: dict[str, tuple[float, float, float, tuple[float, float, float, float], str]] = {
    "public_limited": (0.14, -0.4, 12e6, (0.70, 0.20, 0.10, 0.00), " S.A."),
    "private_limited": (0.42, 0.0, 1.8e6, (0.15, 0.35, 0.50, 0.00), " Ltd"),
    "partnership": (0.16, 0.2, 4.5e5, (0.00, 0.00, 0.25, 0.75), " & Co"),
    "sole_trader": (0.20, 0.3, 1.8e5, (0.00, 0.00, 0.05, 0.95), ""),
    "cooperative": (0.03, 0.2, 3.0e6, (0.40, 0.60, 0.00, 0.00), " Co-op"),
    "public_body": (0.01, -1.5, 25e6, (1.00, 0.00, 0.00, 0.00), " Authority"),
    "other": (0.04, 0.1, 8.0e5, (0.00, 0.40, 0.40, 0.20), ""),
}
assert tuple(_FORMS) == LEGAL_FORMS

# country: (debtor probability, supplier probability, local currency)
_COUNTRIES: dict[str, tuple[float, float, str]] = {
    "GR": (0.86, 0.93, "EUR"),
    "CY": (0.04, 0.03, "EUR"),
    "BG": (0.025, 0.015, "BGN"),
    "RO": (0.02, 0.005, "RON"),
    "IT": (0.02, 0.01, "EUR"),
    "DE": (0.015, 0.01, "EUR"),
    "FR": (0.01, 0.0, "EUR"),
    "NL": (0.01, 0.0, "EUR"),
}
#: Units of currency per EUR (rounded reference rates; synthetic data only).
_FX: dict[str, float] = {"EUR": 1.0, "BGN": 1.95583, "RON": 4.97, "USD": 1.08, "GBP": 0.85}
_SUPPLIER_CURRENCIES = (("EUR", 0.97), ("USD", 0.02), ("GBP", 0.01))
_STEMS = (
    "Aegean", "Olympus", "Hellas", "Athena", "Delta", "Attica", "Ionian", "Kronos",
    "Poseidon", "Cretan", "Pella", "Thessaly", "Epirus", "Aris", "Nike", "Apollo",
    "Orion", "Lyra", "Argo", "Kalypso", "Meltemi", "Pindos", "Vergina", "Helios",
    "Selene", "Triton", "Nestor", "Iris", "Phoenix", "Kastro", "Limani", "Agora",
)  # fmt: skip

# adverse event type: (logit base, logit slope on w, median amount EUR, log-sd,
#   settled logit base, settled slope on w)
_ADVERSE: dict[str, tuple[float, float, float, float, float, float]] = {
    "tax_debt": (1.0, 0.0, 6_000.0, 1.3, 1.2, -0.7),
    "social_security_debt": (0.6, 0.0, 4_000.0, 1.2, 1.2, -0.7),
    "bounced_cheque": (0.8, 0.4, 2_500.0, 1.1, 0.6, -0.7),
    "payment_order": (1.1, 0.4, 8_000.0, 1.0, 0.6, -0.7),
    "unpaid_bill_of_exchange": (0.1, 0.4, 4_000.0, 1.0, 0.6, -0.7),
    "seizure": (-1.6, 0.8, 30_000.0, 1.0, -0.5, -0.5),
    "auction": (-2.6, 0.9, 120_000.0, 0.9, -0.5, -0.5),
    "bankruptcy_filing": (-4.6, 1.2, 250_000.0, 1.0, -3.0, 0.0),
    "insolvency_declared": (-5.2, 1.2, 400_000.0, 1.0, -3.0, 0.0),
}
_PRENOTATION = ("mortgage_prenotation", 350_000.0, 0.9, -1.1)  # type, median, log-sd, settled logit
_CREDIT_DAYS = np.array([30, 45, 60, 90, 120, 150])
_CREDIT_DAYS_P = np.array([0.12, 0.08, 0.30, 0.30, 0.15, 0.05])
_RELATION_OTHER = (
    ("subsidiary", 0.35),
    ("parent", 0.15),
    ("common_ownership", 0.40),
    ("other", 0.10),
)

_PD_INTERCEPT, _PD_SLOPE = -4.0, 1.2
_LOOKBACK_DAYS = 6 * 365  # adverse records span the last six years
_PAYMENT_ORDER_KEPT_DAYS = 3 * 365  # the register keeps payment orders three years (seed 003)


# --- small helpers -------------------------------------------------------------------


def _expit(x: _F) -> _F:
    return 1.0 / (1.0 + np.exp(-x))


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    return {name: np.random.default_rng(c) for name, c in zip(_STREAMS, children, strict=True)}


def _expand(counts: _F) -> tuple[_F, _F, _F]:
    """Owner index of each expanded row, its position within the owner, owner start rows."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    owner = np.repeat(np.arange(counts.size), counts)
    pos = np.arange(owner.size) - starts[owner]
    return owner, pos, starts


def _choice_rows(rng: np.random.Generator, probs: _F) -> _F:
    """One categorical draw per row of a (rows x k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=1), probs.shape[1] - 1)


def _ids(prefix: str, n: int, width: int) -> pd.api.extensions.ExtensionArray:
    """``prefix`` + zero-padded 0 … n-1, as a pandas ``str`` array.

    Built as one fixed-width ASCII buffer (a loop over digit positions, not rows).
    """
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    length = head.size + width
    nums = np.arange(n, dtype=np.int64)
    buf = np.empty((n, length), dtype=np.uint8)
    buf[:, : head.size] = head
    for j in range(width):
        buf[:, length - 1 - j] = 48 + (nums // 10**j) % 10
    offsets = np.arange(n + 1, dtype=np.int64) * length
    arr = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(buf))
    return pd.array(arr, dtype="str")


def _width(n: int) -> int:
    return max(6, len(str(max(n - 1, 0))))


def _str(values: _F | Sequence[str], idx: _F | None = None) -> pd.api.extensions.ExtensionArray:
    arr = np.asarray(values, dtype=object)
    return pd.array(arr if idx is None else arr[idx], dtype="str")


def _dates(days: _F, missing: _F | None = None) -> _F:
    """Days since 1970-01-01 → datetime64[ns]; ``missing`` rows become NaT."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    if missing is not None:
        out[np.asarray(missing, dtype=bool)] = np.datetime64("NaT")
    return out.astype("datetime64[ns]")


def _month_end_days(year: _F, month: _F) -> _F:
    """Days since epoch of the last day of (year, month)."""
    months = (np.asarray(year, dtype=np.int64) - 1970) * 12 + (
        np.asarray(month, dtype=np.int64) - 1
    )
    return (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1


def contract_dtypes(table: str) -> dict[str, Any]:
    """The pandas dtype of every declared column of ``table``.

    Parameters
    ----------
    table : str
        A name in :data:`riskengine.contracts.schemas.CONTRACTS`.

    Returns
    -------
    dict
        Column name → dtype: ``"str"`` for identifiers, text and ``category``
        columns (values from the closed vocabulary), ``"float64"``,
        ``"Int64"`` (nullable integer), ``"datetime64[ns]"``, ``"bool"``.

    Notes
    -----
    These are the canonical dtypes of :mod:`riskengine.validation`'s clean
    frames, so a generated portfolio passes validation unchanged. Every
    ``int`` column of the contracts is nullable, hence ``Int64``.
    """
    kinds: dict[str, Any] = {
        "str": "str",
        "category": "str",
        "float": "float64",
        "int": "Int64",
        "date": "datetime64[ns]",
        "bool": "bool",
    }
    return {c.name: kinds[c.kind] for c in CONTRACTS[table].columns}


@dataclass(frozen=True, slots=True)
class _Gather:
    """A column still to be gathered: ``source.take(index)`` (one take, after ordering).

    ``index=None`` marks a column that is already in the final row order.
    """

    source: Any
    index: _F | None


def _frame(
    table: str,
    cols: dict[str, Any],
    order: _F | None = None,
    *,
    base: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Assemble ``cols`` into a frame with exactly the contract columns and dtypes.

    ``order`` (a permutation) is applied to every column with plain numpy/arrow
    gathers; category columns arrive as integer codes into the allowed values
    and leave as ``str``.
    ``base`` is a frame already holding some of the columns (in contract order);
    the others are inserted around it without copying it.
    """
    dtypes = contract_dtypes(table)
    given = set(cols) | (set() if base is None else set(base.columns))
    missing = set(dtypes) - given
    extra = given - set(dtypes)
    if missing or extra:  # pragma: no cover - a programming error, caught by the tests
        raise AssertionError(f"{table}: missing {sorted(missing)}, extra {sorted(extra)}")
    out: dict[str, Any] = {}
    for name, dtype in dtypes.items():
        if name not in cols:
            continue
        values = cols[name]
        if isinstance(values, _Gather):
            if values.index is None:
                values = values.source
            else:
                index = values.index if order is None else values.index[order]
                values = values.source.take(index)
        elif order is not None:
            values = values[order] if isinstance(values, np.ndarray) else values.take(order)
        column = CONTRACTS[table].column(name)
        if column.kind == "category":
            vocabulary = pa.array(column.allowed, type=pa.large_string())
            values = pd.array(vocabulary.take(pa.array(np.asarray(values))), dtype="str")
        elif dtype == "str":
            values = pd.array(values, dtype="str") if isinstance(values, np.ndarray) else values
        elif isinstance(values, np.ndarray):
            values = values.astype(dtype, copy=False)
        out[name] = values
    if base is None:
        frame = pd.DataFrame(out)
    else:
        frame = base
        for i, name in enumerate(dtypes):
            if name in out:
                frame.insert(i, name, out[name])
    for name, dtype in dtypes.items():  # cheap no-op when already right; guards the contract
        if frame[name].dtype != dtype:
            frame[name] = frame[name].astype(dtype)
    return frame


def _codes(table: str, column: str, values: list[str] | tuple[str, ...]) -> _F:
    """Category codes of ``values`` in the contract's allowed list of ``column``."""
    allowed = list(CONTRACTS[table].column(column).allowed)
    return np.array([allowed.index(v) for v in values], dtype=np.int64)


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


# --- statements ------------------------------------------------------------------------

_BALANCE_ITEMS = (
    "cash", "receivables", "inventory", "current_assets", "total_assets", "current_liabilities",
    "long_term_debt", "total_liabilities", "equity", "retained_earnings", "market_value",
)  # fmt: skip


def _make_statements(d: _Debtors, as_of: int, rng: np.random.Generator) -> pd.DataFrame:
    n = d.w.size
    w = d.w
    # how many fiscal years: mostly 3, fewer for young firms
    k_draw = rng.choice(6, size=n, p=[0.02, 0.03, 0.05, 0.65, 0.15, 0.10])
    fy_month = np.where(rng.random(n) < 0.06, 6, 12)
    cutoff = as_of - 120  # accounts are filed some months after year end
    year = (np.datetime64(int(cutoff), "D").astype("datetime64[Y]").astype(np.int64)) + 1970
    latest_end = _month_end_days(np.full(n, year), fy_month)
    latest_year = np.where(latest_end <= cutoff, year, year - 1)
    stale = rng.random(n) < 0.10 + 0.08 * (w > 1.0)
    latest_year = latest_year - stale
    latest_end = _month_end_days(latest_year, fy_month)
    # every period_end falls after incorporation (b years back is at most 366 b days)
    possible = np.where(latest_end > d.inc_day, (latest_end - d.inc_day - 1) // 366 + 1, 0)
    k = np.minimum(k_draw, possible)
    owner, pos, _ = _expand(k)
    back = k[owner] - 1 - pos  # fiscal years before the latest: rows run oldest first
    m = owner.size
    wd = w[owner]

    period_end = _month_end_days(latest_year[owner] - back, fy_month[owner])

    # revenue path: latest revenue, back-cast with debtor trend + yearly noise. The
    # cumulative growth is summed newest first, i.e. over the reversed arrays.
    trend = 0.04 - 0.04 * w + 0.05 * rng.standard_normal(n)
    growth = trend[owner] + (0.08 + 0.04 * np.abs(wd)) * rng.standard_normal(m)
    step_rev = np.where(back == 0, 0.0, growth)[::-1]
    cum_rev = np.cumsum(step_rev)
    latest_rows = np.flatnonzero(back[::-1] == 0)
    base = np.zeros(n)
    base[owner[::-1][latest_rows]] = cum_rev[latest_rows]
    cum = (cum_rev - base[owner[::-1]])[::-1]
    del step_rev, cum_rev, growth
    fx = d.fx[owner]
    rev = d.revenue_eur[owner] * np.exp(-cum) * fx
    del cum

    type_p = np.array([f[3] for f in _FORMS.values()])[d.form]
    st_type = _choice_rows(rng, type_p)[owner]
    block = _line_items(d, owner, wd, rev, fx, rng)
    items = (*LINE_ITEMS, "market_value")
    balance = [items.index(i) for i in _BALANCE_ITEMS]
    tax_return = st_type == STATEMENT_TYPES.index("tax_return")
    for row in balance:  # a tax return carries no balance sheet
        block[row, tax_return] = np.nan
    floats = pd.DataFrame(block.T, columns=list(items), copy=False)
    cols: dict[str, Any] = {
        "debtor_id": _Gather(d.ids, owner),
        "period_end": _dates(period_end),
        "statement_type": st_type,
        "currency": d.currency[owner],
    }
    return _frame("statements", cols, base=floats)


def _line_items(d: _Debtors, owner: _F, wd: _F, rev: _F, fx: _F, rng: np.random.Generator) -> _F:
    """The (line item x row) float block of the statements, identities exact.

    Rows of the block follow ``LINE_ITEMS`` then ``market_value``; every
    amount is a whole currency unit and derived items are differences of
    rounded items, so the identities of the module docstring hold exactly.
    """
    n, m = d.w.size, owner.size
    items = (*LINE_ITEMS, "market_value")
    block = np.empty((len(items), m))
    it = {name: block[i] for i, name in enumerate(items)}

    sec = d.sector[owner]
    params = list(_SECTORS.values())
    ta_ratio = np.array([p[4] for p in params])[sec]
    firm = rng.standard_normal((6, n))  # debtor-level persistent noise
    noise = rng.standard_normal((4, m))
    f0 = firm[0][owner]
    gm = np.array([p[3] for p in params])[sec] + 0.06 * f0 - 0.03 * wd + 0.02 * noise[0]
    np.clip(gm, -0.05, 0.9, out=gm)
    em = 0.09 - 0.05 * wd + 0.04 * firm[1][owner] + 0.03 * noise[1]
    em = np.clip(em, -0.5, gm - 0.02)

    revenue = it["revenue"]
    revenue[:] = np.maximum(np.round(rev), 1.0)
    it["cost_of_sales"][:] = np.round(revenue * (1.0 - gm))
    it["gross_profit"][:] = revenue - it["cost_of_sales"]
    it["operating_expenses"][:] = it["cost_of_sales"] + np.round(revenue * (gm - em))
    it["ebitda"][:] = revenue - it["operating_expenses"]
    del gm, em

    ta = rev * ta_ratio * np.exp(0.35 * firm[2][owner] + 0.08 * noise[2])
    ca_share = np.clip(np.array([p[5] for p in params])[sec] + 0.12 * firm[3][owner], 0.05, 0.98)
    parts = rng.gamma(np.array([p[6] for p in params])[sec])
    parts[:, 0] *= np.exp(-0.3 * wd)  # weak firms hold less cash
    parts /= parts.sum(axis=1, keepdims=True)
    ca = ta * ca_share
    for j, name in enumerate(("cash", "receivables", "inventory")):
        it[name][:] = np.round(ca * parts[:, j])
    current_assets = it["current_assets"]
    current_assets[:] = it["cash"] + it["receivables"] + it["inventory"]
    current_assets += np.maximum(np.round(ca * parts[:, 3]), 1.0)  # other current assets
    del parts, ca
    it["total_assets"][:] = current_assets + np.round(ta * (1.0 - ca_share))
    del ca_share

    lev = 1.15 * _expit(-0.1 + 0.9 * wd + 0.45 * firm[4][owner] + 0.1 * noise[3])
    tl = ta * lev
    del lev, ta
    cl_share = np.clip(0.55 + 0.15 * firm[5][owner], 0.2, 0.95)
    ltd_share = 0.4 + 0.55 * _expit(f0)
    it["current_liabilities"][:] = np.round(tl * cl_share)
    tl *= 1.0 - cl_share
    del cl_share
    it["long_term_debt"][:] = np.round(tl * ltd_share)
    total_liabilities = it["total_liabilities"]
    total_liabilities[:] = it["current_liabilities"] + it["long_term_debt"]
    total_liabilities += np.round(tl * (1.0 - ltd_share))  # other long-term liabilities
    del tl, ltd_share
    it["equity"][:] = it["total_assets"] - total_liabilities
    capital_share = 0.03 + 0.22 * rng.random(n)
    capital = np.round(capital_share[owner] * d.revenue_eur[owner] * fx * ta_ratio)
    it["retained_earnings"][:] = it["equity"] - capital
    del capital

    dep_rate = (0.05 + 0.09 * rng.random(n))[owner]
    it["depreciation_amortization"][:] = np.round((it["total_assets"] - current_assets) * dep_rate)
    it["ebit"][:] = it["ebitda"] - it["depreciation_amortization"]
    rate = 0.045 + 0.015 * np.maximum(wd, 0.0) + 0.02 * rng.random(m)
    it["interest_expense"][:] = np.round(
        (it["long_term_debt"] + 0.4 * it["current_liabilities"]) * rate
    )
    pre_tax = it["ebit"] - it["interest_expense"]
    it["net_income"][:] = np.round(pre_tax - 0.22 * np.maximum(pre_tax, 0.0))
    del pre_tax, rate

    listed = d.listed[owner]
    pb = np.exp(0.2 + 0.4 * rng.standard_normal(m))
    equity = it["equity"]
    it["market_value"][:] = np.where(
        listed, np.round(np.where(equity > 0, equity * pb, it["total_assets"] * 0.03)), np.nan
    )
    return block


# --- adverse records -----------------------------------------------------------------------


def _make_adverse(d: _Debtors, as_of: int, rng: np.random.Generator) -> pd.DataFrame:
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
    return _frame("adverse_records", cols, order)


# --- suppliers, exposures, invoices, relations ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Suppliers:
    ids: pd.api.extensions.ExtensionArray
    country: _F
    nace: _F
    name: pd.Series
    currency: _F  # index into _SUPPLIER_CURRENCIES
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
    cur_p = np.array([c[1] for c in _SUPPLIER_CURRENCIES])
    currency = rng.choice(len(cur_p), size=n_s, p=cur_p)
    weight = np.exp(rng.standard_normal(n_s))
    stem = rng.integers(0, len(_STEMS), size=n_s)
    words = [s[7] for s in _SECTORS.values()]
    name = pd.Series(_str(_STEMS, stem)) + " " + pd.Series(_str(words, sector)) + " Supplies S.A."
    ledger = 5e5 * np.exp(rng.standard_normal(n_s))
    ids = _ids("S", n_s, _width(n_s))
    return _Suppliers(ids, country, nace, name, currency, weight / weight.sum(), ledger)


@dataclass(frozen=True, slots=True)
class _Pairs:
    owner: _F  # debtor index, rows sorted by (debtor, supplier)
    pos: _F  # 0 or 1 within the debtor
    supplier: _F
    currency: _F  # index into _SUPPLIER_CURRENCIES
    annual_sales: _F  # true value, pair currency
    credit_days: _F  # true value
    sales_missing: _F
    days_missing: _F
    requested: _F
    approved_limit: _F


def _make_pairs(d: _Debtors, s: _Suppliers, rng: np.random.Generator) -> _Pairs:
    """1-2 suppliers per debtor, with sales, terms and the factor's limit decision."""
    n, n_s = d.w.size, s.ids.size
    n_pairs = np.minimum(1 + (rng.random(n) < 0.45), n_s)
    owner, pos, _ = _expand(n_pairs)
    p = owner.size
    first = rng.choice(n_s, size=n, p=s.weight)
    other = rng.choice(n_s, size=n, p=s.weight)
    clash = other == first
    other = np.where(clash, (first + 1 + rng.integers(0, max(n_s - 1, 1), size=n)) % n_s, other)
    # rows sorted by (debtor, supplier): the smaller supplier index comes first
    low = np.where(n_pairs == 2, np.minimum(first, other), first)
    supplier = np.where(pos == 0, low[owner], np.maximum(first, other)[owner])
    currency = s.currency[supplier]
    fx = np.array([_FX[c[0]] for c in _SUPPLIER_CURRENCIES])[currency]
    share = np.clip(np.exp(np.log(0.04) + 0.8 * rng.standard_normal(p)), 0.002, 0.5)
    annual_sales = np.round(d.revenue_eur[owner] * share * fx)
    credit_days = _CREDIT_DAYS[rng.choice(_CREDIT_DAYS.size, size=p, p=_CREDIT_DAYS_P)]
    sales_missing = rng.random(p) < 0.03
    days_missing = rng.random(p) < 0.02
    requested = np.round(annual_sales * credit_days / 360.0, -2)  # seed 003: sales x days / 360
    frac = _expit(2.2 - 1.6 * d.w[owner] + 0.5 * rng.standard_normal(p))
    frac = np.where(frac >= 0.75, 1.0, np.where(frac < 0.15, 0.0, frac))  # full / partial / refused
    approved = np.where(frac == 1.0, requested, np.floor(requested * frac / 500.0) * 500.0)
    return _Pairs(
        owner, pos, supplier, currency, annual_sales, credit_days, sales_missing, days_missing,
        requested, approved,
    )  # fmt: skip


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


def _make_relations(
    d: _Debtors, n_s: int, pr: _Pairs, rng: np.random.Generator
) -> tuple[_F, _F, _F, _F]:
    """Suppliers' group membership and supplier-debtor related-party links.

    Returns the supplier group index (-1 none) and the relation rows
    (supplier, debtor, relation type index into ``same_group`` + _RELATION_OTHER).
    """
    owner, supplier = pr.owner, pr.supplier
    s_group = np.full(n_s, -1, dtype=np.int64)
    grouped_pairs = np.flatnonzero(d.group[owner] >= 0)
    if grouped_pairs.size:  # ~1% of suppliers join the group of one of their debtors
        shuffled = rng.permutation(grouped_pairs)
        _, first_idx = np.unique(supplier[shuffled], return_index=True)
        chosen = shuffled[np.sort(first_idx)][: max(1, round(0.01 * n_s))]
        _, keep = np.unique(d.group[owner[chosen]], return_index=True)  # one per group
        chosen = chosen[keep]
        s_group[supplier[chosen]] = d.group[owner[chosen]]
    # every debtor of a group a supplier joined is its related party (same_group)
    group_to_supplier = np.full(d.group_ids.size, -1, dtype=np.int64)
    linked = np.flatnonzero(s_group >= 0)
    group_to_supplier[s_group[linked]] = linked
    rel_debtor = np.flatnonzero(d.group >= 0)
    rel_debtor = rel_debtor[group_to_supplier[d.group[rel_debtor]] >= 0]
    rel_supplier = group_to_supplier[d.group[rel_debtor]]
    # other links on ~0.2% of pairs not already related through a group
    other_pairs = np.flatnonzero(rng.random(owner.size) < 0.002)
    debtor_group = d.group[owner[other_pairs]]
    same = (debtor_group >= 0) & (s_group[supplier[other_pairs]] == debtor_group)
    other_pairs = other_pairs[~same]
    o_p = np.array([x[1] for x in _RELATION_OTHER])
    o_type = 1 + rng.choice(len(o_p), size=other_pairs.size, p=o_p)
    rel_d = np.concatenate([rel_debtor, owner[other_pairs]])
    rel_s = np.concatenate([rel_supplier, supplier[other_pairs]])
    rel_t = np.concatenate([np.zeros(rel_debtor.size, dtype=np.int64), o_type])
    order = np.argsort(rel_d * n_s + rel_s)
    return s_group, rel_s[order], rel_d[order], rel_t[order]


def _make_trade(
    d: _Debtors, s: _Suppliers, as_of: int, rng_e: np.random.Generator, rng_i: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Exposures, invoices, suppliers and relations (they share balances and links)."""
    n_s = s.ids.size
    pr = _make_pairs(d, s, rng_e)
    inv = _make_invoices(d, pr, as_of, rng_i)
    p, m = pr.owner.size, inv.pair.size
    # balances: open invoices net of credit notes, split at the approved limit
    open_net = np.where(inv.open, np.maximum(inv.amount - inv.credit_note, 0.0), 0.0)
    balance = np.bincount(inv.pair, weights=open_net, minlength=p)
    del open_net
    approved_out = np.round(np.minimum(balance, pr.approved_limit), 2)
    unapproved_out = np.round(np.maximum(balance - approved_out, 0.0), 2)
    # suppliers' ledgers exceed their exposures (they also sell outside the portfolio)
    s_balance = np.bincount(pr.supplier, weights=approved_out + unapproved_out, minlength=n_s)
    s_fx = np.array([_FX[c[0]] for c in _SUPPLIER_CURRENCIES])[s.currency]
    ledger = np.where(
        s_balance > 0, s_balance * (1.15 + 0.85 * rng_e.random(n_s)), s.fallback_ledger_eur * s_fx
    )
    s_group, rel_s, rel_d, rel_t = _make_relations(d, n_s, pr, rng_e)

    currency_codes = _codes("suppliers", "currency", [c[0] for c in _SUPPLIER_CURRENCIES])
    rel_names = ["same_group"] + [x[0] for x in _RELATION_OTHER]
    inv_supplier = pr.supplier[inv.pair]
    inv_owner = pr.owner[inv.pair]
    return {
        "suppliers": _frame(
            "suppliers",
            {
                "supplier_id": s.ids,
                "name": s.name.array,
                "country": _str(list(_COUNTRIES), s.country),
                "nace": _str(s.nace),
                "group_id": _optional_take(d.group_ids, s_group),
                "ledger_total": np.round(ledger, 2),
                "currency": currency_codes[s.currency],
            },
        ),
        "exposures": _frame(
            "exposures",
            {
                "supplier_id": _Gather(s.ids, pr.supplier),
                "debtor_id": _Gather(d.ids, pr.owner),
                "currency": currency_codes[pr.currency],
                "requested_limit": np.where(
                    pr.sales_missing | pr.days_missing, np.nan, pr.requested
                ),
                "approved_limit": pr.approved_limit,
                "approved_outstanding": approved_out,
                "unapproved_outstanding": unapproved_out,
                "annual_sales": np.where(pr.sales_missing, np.nan, pr.annual_sales),
                "credit_days": _nullable_int(pr.credit_days, pr.days_missing),
            },
        ),
        "invoices": _frame(
            "invoices",
            {
                "invoice_id": _Gather(_ids("I", m, _width(m)), None),
                "supplier_id": _Gather(s.ids, inv_supplier),
                "debtor_id": _Gather(d.ids, inv_owner),
                "amount": inv.amount,
                "currency": currency_codes[pr.currency[inv.pair]],
                "issue_date": _dates(inv.issue_day),
                "due_date": _dates(inv.due_day),
                "paid_date": _dates(inv.paid_day, inv.open),
                "credit_note_amount": inv.credit_note,
                "disputed_amount": inv.disputed,
            },
        ),
        "relations": _frame(
            "relations",
            {
                "supplier_id": _Gather(s.ids, rel_s),
                "debtor_id": _Gather(d.ids, rel_d),
                "relation_type": _codes("relations", "relation_type", rel_names)[rel_t],
            },
        ),
    }


def _optional_take(ids: Any, index: _F) -> pd.api.extensions.ExtensionArray:
    """``ids[index]`` as ``str``, missing where ``index < 0``."""
    if ids.size == 0:
        return pd.array(np.full(index.size, None, dtype=object), dtype="str")
    out = pd.Series(ids.take(np.maximum(index, 0)))
    return out.where(index >= 0).array


def _nullable_int(values: _F, missing: _F) -> pd.api.extensions.ExtensionArray:
    return pd.arrays.IntegerArray(
        np.asarray(values, dtype=np.int64), np.asarray(missing, dtype=bool)
    )


# --- public entry point ------------------------------------------------------------------


def generate_portfolio(
    n_debtors: int,
    seed: int = 42,
    as_of: Any = DEFAULT_AS_OF,
    *,
    n_suppliers: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate a seeded SYNTHETIC portfolio following the data contracts.

    Parameters
    ----------
    n_debtors : int
        Number of debtors (>= 1). One million generates in seconds.
    seed : int
        Seed of every random draw; same arguments → identical frames.
    as_of : str or date-like
        Portfolio date: no record is dated after it (default ``2026-06-30``).
    n_suppliers : int, optional
        Number of suppliers (the factor's clients); default
        ``max(2, n_debtors // 40)``.

    Returns
    -------
    dict of str to pandas.DataFrame
        The seven tables of :data:`riskengine.contracts.schemas.CONTRACTS` (``debtors,
        suppliers, statements, adverse_records, invoices, exposures,
        relations``), each with exactly the contract columns, in contract
        order, with the dtypes of :func:`contract_dtypes` and a RangeIndex.

    Notes
    -----
    Everything is synthetic; see the module docstring for the generating
    process and the statement conventions. The latent PD of each debtor is
    :func:`latent_pd` ``(n_debtors, seed)``. Sizes per debtor on average:
    about 3.1 statements, 0.25 adverse records (14% of debtors have at least
    one), 6.5 invoices, 1.45 supplier pairs.

    Examples
    --------
    >>> frames = generate_portfolio(50, seed=7)
    >>> sorted(frames)  # doctest: +NORMALIZE_WHITESPACE
    ['adverse_records', 'debtors', 'exposures', 'invoices', 'relations',
     'statements', 'suppliers']
    >>> len(frames["debtors"])
    50
    """
    _check_n(n_debtors, "n_debtors")
    n_s = max(2, n_debtors // 40) if n_suppliers is None else n_suppliers
    _check_n(n_s, "n_suppliers")
    day = as_of_day(as_of)
    rngs = _rngs(seed)
    lat = _latent(n_debtors, rngs["latent"])
    debtors = _make_debtors(n_debtors, lat, day, rngs["debtors"])
    suppliers = _draw_suppliers(n_s, rngs["suppliers"])
    trade = _make_trade(debtors, suppliers, day, rngs["exposures"], rngs["invoices"])
    frames = {
        "debtors": debtors.frame,
        "suppliers": trade["suppliers"],
        "statements": _make_statements(debtors, day, rngs["statements"]),
        "adverse_records": _make_adverse(debtors, day, rngs["adverse"]),
        "invoices": trade["invoices"],
        "exposures": trade["exposures"],
        "relations": trade["relations"],
    }
    return {name: frames[name] for name in CONTRACTS}


def synthetic_manifest(n_debtors: int, seed: int, as_of: Any = DEFAULT_AS_OF) -> dict[str, Any]:
    """The manifest that labels a generated portfolio as synthetic.

    ``riskengine.io.portfolio.write_portfolio`` adds ``tables`` (rows per
    table) and ``format`` when it writes the files.

    Examples
    --------
    >>> synthetic_manifest(10, 1, "2026-06-30")["synthetic"]
    True
    """
    day = as_of_day(as_of)
    return {
        "synthetic": True,
        "generator": "riskengine.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n_debtors": int(n_debtors),
        "as_of": str(np.datetime64(day, "D")),
        "created_by": "riskengine demo-data",
        # Book-level figures (concentration shares, HHI) need one unit: amounts are
        # converted to the reporting currency with these rates (units of EUR per one
        # unit of the currency; the synthetic rates used to generate the amounts).
        "reporting_currency": "EUR",
        "fx_rates": {c: round(1.0 / r, 10) for c, r in sorted(_FX.items())},
    }
