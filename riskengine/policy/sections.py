"""Policy sections of the book and of funding checks (issue 15): ``[book]`` (the factor's
capital and the book's caps) and ``[funding]`` (the oldest rating an invoice may be
funded on)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from riskengine.policy._toml import _check_keys, _fail, _int, _number, _range

__all__ = ["BookPolicy", "FundingPolicy"]


@dataclass(frozen=True, slots=True)
class BookPolicy:
    """Caps on the whole book: connected groups against the factor's capital, sectors and
    countries against the book (DOMAIN.md §6).

    Parameters
    ----------
    factor_capital : float or None
        The factor's eligible capital (CRR art. 4(1)(71)), in ``currency``. Required
        while ``group_capital_share`` < 1 (the group cap needs it).
    currency : str
        ISO 4217 code of ``factor_capital`` and of the book's totals.
    group_capital_share : float
        Maximum exposure to a connected group of clients (CRR art. 4(1)(39)) as a share
        of ``factor_capital``; a debtor without a group is a group of its own (CRR art.
        395(1): 25 %). 1 switches the cap off.
    sector_book_share, country_book_share : float
        Maximum share of the book's approved limits in one NACE section / one
        country (the factor's committee figures). 1 switches the cap off.
    share_base_min : float
        The smallest book, in ``currency``, that the sector and country shares are
        measured against: a book smaller than this (a new factor's, or a service whose
        register holds a few pairs) is measured as if it were this large, so that its
        first pairs are not cut to a quarter of themselves. 0: the book's own total.
    """

    factor_capital: float | None
    currency: str
    group_capital_share: float
    sector_book_share: float
    country_book_share: float
    share_base_min: float = 0.0

    KEY = "book"

    def __post_init__(self) -> None:
        k = self.KEY
        for name in ("group_capital_share", "sector_book_share", "country_book_share"):
            _range(f"{k}.{name}", getattr(self, name), 0.0, 1.0)
        _range(f"{k}.share_base_min", self.share_base_min, 0.0, None)
        if self.factor_capital is not None:
            _range(f"{k}.factor_capital", self.factor_capital, 0.0, None)
        elif self.group_capital_share < 1.0:
            raise _fail(f"{k}.factor_capital", None, "missing while book.group_capital_share "
                        f"= {self.group_capital_share} caps connected groups",
                        "Set the factor's eligible capital (or --factor-capital), or set "
                        "group_capital_share = 1 to switch the group cap off.")
        if not (isinstance(self.currency, str) and len(self.currency) == 3
                and self.currency.isupper()):
            raise _fail(f"{k}.currency", self.currency, "not an ISO 4217 code",
                        'Give the currency of factor_capital, e.g. currency = "EUR".')

    @classmethod
    def from_dict(cls, d: Any) -> BookPolicy:
        k = cls.KEY
        shares = {"group_capital_share", "sector_book_share", "country_book_share"}
        d = _check_keys(d, k, {"factor_capital", "currency", "share_base_min", *shares},
                        {"currency", *shares})
        capital = _number(d, k, "factor_capital") if "factor_capital" in d else None
        base = _number(d, k, "share_base_min") if "share_base_min" in d else 0.0
        return cls(capital, d["currency"], _number(d, k, "group_capital_share"),
                   _number(d, k, "sector_book_share"), _number(d, k, "country_book_share"),
                   share_base_min=base)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"currency": self.currency,
                               "group_capital_share": self.group_capital_share,
                               "sector_book_share": self.sector_book_share,
                               "country_book_share": self.country_book_share,
                               "share_base_min": self.share_base_min}
        if self.factor_capital is not None:
            out["factor_capital"] = self.factor_capital
        return out


@dataclass(frozen=True, slots=True)
class FundingPolicy:
    """Funding checks: the oldest rating an invoice may be funded on.

    ``max_rating_age_months`` (default 12): a rating older than this many months
    on the day of the check makes the invoice unfundable (``rating_stale``);
    CRR art. 173(1)(b) asks for at least annual re-rating.
    """

    max_rating_age_months: int = 12

    KEY = "funding"

    def __post_init__(self) -> None:
        _range(f"{self.KEY}.max_rating_age_months", self.max_rating_age_months, 1, 120)

    @classmethod
    def from_dict(cls, d: Any) -> FundingPolicy:
        k = cls.KEY
        d = _check_keys(d, k, {"max_rating_age_months"}, set())
        return cls(_int(d, k, "max_rating_age_months") if "max_rating_age_months" in d else 12)

    def to_dict(self) -> dict[str, Any]:
        return {"max_rating_age_months": self.max_rating_age_months}
