"""The store's exchange rates (issue 16): the ``fx_rates`` table the service decides with
when a payload gives no rates of its own (shell).

A load is checked whole first (:func:`riskengine.validation.fx.validate_fx_rates`: a known
currency, a date, a rate > 0, one row per currency and day; and, given the reporting
currency, its own rate 1): any problem refuses the load and stores nothing. A row of a
day and currency already in the store replaces its rate (a correction); the decisions
made before keep the rate they used (their ``fx_rate``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

from riskengine.contracts.dates import parse_date
from riskengine.features.fx import FxRates
from riskengine.store.database import _Database
from riskengine.store.driver import Prepared
from riskengine.store.tables import fx_rates
from riskengine.store.values import _now
from riskengine.validation.errors import raise_if_errors
from riskengine.validation.fx import base_rate_rows, validate_fx_rates

__all__: list[str] = []

_DELETE = fx_rates.delete().where(sa.and_(fx_rates.c.date == sa.bindparam("p_date"),
                                          fx_rates.c.currency == sa.bindparam("p_currency")))
# prebuilt (compiled once and cached by SQLAlchemy): the rates in force on a day, read on
# every decision of the service
_LATEST_DAYS = (sa.select(fx_rates.c.currency, sa.func.max(fx_rates.c.date).label("day"))
                .where(fx_rates.c.date <= sa.bindparam("p_day", type_=sa.Date))
                .group_by(fx_rates.c.currency).subquery())
_RATES_ON = Prepared(sa.select(fx_rates.c.date, fx_rates.c.currency, fx_rates.c.rate).join(
    _LATEST_DAYS, sa.and_(fx_rates.c.currency == _LATEST_DAYS.c.currency,
                          fx_rates.c.date == _LATEST_DAYS.c.day)))


class _FxTable(_Database):
    """Load and read the store's ``fx_rates``."""

    def load_fx_rates(self, table: pd.DataFrame, *, base: str | None = None,
                      source: str = "manual", reference_date: Any = None) -> int:
        """Store dated rates (the ``fx_rates`` contract: ``date``, ``currency``, ``rate``).

        Parameters
        ----------
        table : pandas.DataFrame
            The rows, as read from a file or a request (text is parsed).
        base : str, optional
            The reporting currency: a row of it must say 1.
        source : str
            Who loaded them (``cli:<file>``, ``api``), kept with each row.
        reference_date : date-like, optional
            No row may be dated after it (``future_date``).

        Returns
        -------
        int
            Rows stored (inserted or replaced).

        Raises
        ------
        InvalidInputError
            Any invalid row (every problem listed, each naming its row and field);
            nothing is stored.
        """
        clean, errors = validate_fx_rates(table, reference_date=reference_date)
        if base is not None and len(errors) == 0:
            clean, errors = base_rate_rows(clean, base)
        raise_if_errors(errors[errors["reason"] != "currency_rejected"] if len(errors)
                        else errors)
        days = [parse_date(d) for d in clean["date"].dt.strftime("%Y-%m-%d")]
        cur = clean["currency"].astype(str).tolist()
        rate = clean["rate"].astype(float).tolist()
        if not days:
            return 0
        now = _now()
        with self._write() as conn:
            conn.execute(_DELETE, [{"p_date": d, "p_currency": c}
                                   for d, c in zip(days, cur, strict=True)])
            conn.execute(fx_rates.insert(), [
                {"date": d, "currency": c, "rate": r, "recorded_at": now, "source": source}
                for d, c, r in zip(days, cur, rate, strict=True)])
        return len(days)

    def fx_rates_on(self, as_of: Any, base: str) -> FxRates:
        """The rates in force on ``as_of``: per currency, its latest row dated on or
        before it (:class:`~riskengine.features.fx.FxRates` into ``base``)."""
        day = parse_date(as_of, "as_of")
        with self._read() as conn:
            rows = [(d, cur, float(rate))
                    for d, cur, rate in _RATES_ON.rows(conn, {"p_day": day})]
        return FxRates.from_rows(rows, base) if rows else FxRates.empty(base)

    def fx_table(self, base: str) -> FxRates:
        """Every stored rate (:class:`~riskengine.features.fx.FxRates` into ``base``)."""
        c = fx_rates.c
        with self._read() as conn:
            rows = [(r.date, r.currency, float(r.rate))
                    for r in conn.execute(sa.select(c.date, c.currency, c.rate))]
        return FxRates.from_rows(rows, base)

    def fx_rate_rows(self) -> list[dict[str, Any]]:
        """Every stored rate, by currency then date."""
        c = fx_rates.c
        with self._read() as conn:
            return [{"date": r.date.isoformat(), "currency": r.currency, "rate": float(r.rate),
                     "source": r.source}
                    for r in conn.execute(sa.select(fx_rates).order_by(c.currency, c.date))]
