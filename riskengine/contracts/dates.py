"""The one date parser: ``YYYY-MM-DD`` text or a date object, parsed one way, one error.

A core function never reads the clock; it is given ``as_of`` (the date its
result is "as of") and turns it into a day number here. Every date a user
types (command-line options, payload fields, query parameters, CSV cells) is
read by :func:`parse_date`: ``01/06/2026``, ``June 2026`` and ``2026-13-01``
are refused, never reinterpreted.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from typing import Any

from riskengine.errors import InvalidInputError

__all__ = ["as_of_day", "as_of_text", "parse_date", "iso_date_error", "field_date",
           "refuse_after", "batch_as_of"]

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# an ISO 8601 timestamp (where a timestamp is legitimate, e.g. decided_at)
_ISO_STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
                        r"(Z|[+-][0-9]{2}:?[0-9]{2})?")


def iso_date_error(value: Any, *, timestamps: bool = False) -> str | None:
    """Why ``value`` is not a date (a short reason without the value), or None when it is.

    Text must be exactly ``YYYY-MM-DD`` (with ``timestamps``, also an ISO 8601
    timestamp); objects may be :class:`datetime.date`, :class:`datetime.datetime`,
    :class:`pandas.Timestamp` or :class:`numpy.datetime64`.

    Examples
    --------
    >>> iso_date_error("2026-06-30") is None, iso_date_error("01/06/2026")
    (True, 'not a date in the form YYYY-MM-DD')
    >>> iso_date_error("2026-13-01")
    'not a calendar date (YYYY-MM-DD)'
    """
    try:
        _to_date(value, timestamps)
    except _Missing:
        return "missing"
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def field_date(value: Any) -> Any:
    """A model field's date through :func:`iso_date_error` (a pydantic ``BeforeValidator``).

    Exact ``YYYY-MM-DD`` text is returned as its day (read once, by the cached parser:
    the model then only checks a date), other accepted text as given for the model to
    read (and refuse, as it refuses text with surrounding blanks), a date object as its
    calendar day; anything else raises :class:`ValueError` with the reason and never the
    value (the service must not echo it).
    """
    if value is None or type(value) is dt.date:
        return value
    if type(value) is str:
        day, reason = _text_date(value, False)
        if reason is not None:
            raise ValueError(reason)
        return day if len(value) == 10 else value
    reason = iso_date_error(value)
    if reason is not None:
        raise ValueError(reason)
    return value if isinstance(value, str) else _to_date(value, False)


class _Missing(ValueError):
    pass


def _to_date(value: Any, timestamps: bool) -> dt.date:
    # numpy and pandas objects by duck typing: this module stays light (the service imports it)
    kind = type(value).__name__
    if value is None or kind == "NaTType" or (isinstance(value, float) and math.isnan(value)):
        raise _Missing("missing")
    if kind == "datetime64":  # numpy.datetime64: its calendar day
        day = value.astype("datetime64[D]").item()
        if day is None:
            raise _Missing("missing")
        if not isinstance(day, dt.date):
            raise ValueError("not a date between the years 1 and 9999")
        return day
    if isinstance(value, dt.datetime):  # pd.Timestamp too: its own (local) calendar day
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise TypeError("not a date in the form YYYY-MM-DD")
    day, reason = _text_date(value, timestamps)
    if reason is not None:
        raise ValueError(reason)
    return day  # type: ignore[return-value]


@functools.lru_cache(maxsize=8192)
def _text_date(value: str, timestamps: bool) -> tuple[dt.date | None, str | None]:
    """The day of a date text, or the reason it is none (cached: a book repeats its dates)."""
    text = value.strip()
    form = "YYYY-MM-DD or an ISO 8601 timestamp" if timestamps else "YYYY-MM-DD"
    if _ISO_DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text), None
        except ValueError:
            return None, f"not a calendar date ({form})"
    if timestamps and _ISO_STAMP.fullmatch(text):
        try:
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date(), None
        except ValueError:
            return None, f"not a calendar date ({form})"
    return None, f"not a date in the form {form}"


def parse_date(value: Any, field: str = "as_of", *, where: str = "",
               timestamps: bool = False) -> dt.date:
    """``value`` as a :class:`datetime.date`; the one parser of user dates.

    Parameters
    ----------
    value : str, datetime.date, pandas.Timestamp or numpy.datetime64
        Text must be exactly ``YYYY-MM-DD``; a date object given by a Python
        caller is taken as its calendar day (time and time zone dropped).
    field : str
        The name the error message gives the value (``as_of``, ``--since``).
    where : str, optional
        The record or file the value belongs to, prefixed to the message.
    timestamps : bool, default False
        Also accept an ISO 8601 timestamp (``2026-06-30T10:00:00Z``), for
        fields that are timestamps; an as-of date is a date.

    Raises
    ------
    InvalidInputError
        One line naming the field and the value; ``problems`` holds one row
        (``reason`` ``missing`` or ``not_a_date``).

    Examples
    --------
    >>> parse_date("2026-06-30")
    datetime.date(2026, 6, 30)
    >>> parse_date("June 2026", "--as-of")
    Traceback (most recent call last):
    ...
    riskengine.errors.InvalidInputError: --as-of 'June 2026' is not a date in the form YYYY-MM-DD; give a date such as '2026-06-30'.
    """
    try:
        return _to_date(value, timestamps)
    except _Missing:
        reason, text = "missing", f"{field} is required"
    except (TypeError, ValueError) as exc:
        reason, text = "not_a_date", f"{field} {_shown(value)} is {exc}"
    prefix = f"{where}: " if where else ""
    raise InvalidInputError(
        f"{prefix}{text}; give a date such as '2026-06-30'.",
        [{"table": "", "record": where, "debtor_id": "", "column": field, "value": "",
          "reason": reason, "message": text}])


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def refuse_after(day: dt.date, reference: dt.date, field: str = "as_of", *,
                 where: str = "", hint: str = "") -> None:
    """Refuse a date after the reference date (a decision is never dated in the future).

    Raises
    ------
    InvalidInputError
        ``reason`` ``future_date``; the message names the field and both dates.

    Examples
    --------
    >>> refuse_after(dt.date(2026, 6, 30), dt.date(2026, 7, 1))
    >>> refuse_after(dt.date(2199, 1, 1), dt.date(2026, 7, 1))
    Traceback (most recent call last):
    ...
    riskengine.errors.InvalidInputError: as_of 2199-01-01 is after the reference date 2026-07-01; a decision cannot be dated in the future.
    """
    if day <= reference:
        return
    prefix = f"{where}: " if where else ""
    raise InvalidInputError(
        f"{prefix}{field} {day.isoformat()} is after the reference date {reference.isoformat()}"
        f"; {hint or 'a decision cannot be dated in the future.'}",
        [{"table": "", "record": where, "debtor_id": "", "column": field, "value": "",
          "reason": "future_date", "message": f"{field} is after the reference date"}])


def as_of_day(as_of: Any) -> int:
    """``as_of`` as a day number (days since 1970-01-01), time and time zone dropped.

    Raises
    ------
    InvalidInputError
        ``as_of`` is missing (None, NaN, NaT) or not a date (:func:`parse_date`).

    Examples
    --------
    >>> import pandas as pd
    >>> as_of_day("1970-01-02"), as_of_day(pd.Timestamp("2024-12-31 15:00", tz="UTC"))
    (1, 20088)
    """
    if as_of is None:
        raise InvalidInputError(
            "as_of is required: the date at which features and decisions are computed "
            "(e.g. '2024-12-31'); riskengine never reads the clock in its core.")
    return (parse_date(as_of) - dt.date(1970, 1, 1)).days


def as_of_text(as_of: Any) -> str:
    """``as_of`` as ``YYYY-MM-DD`` (same parsing and errors as :func:`as_of_day`)."""
    if as_of is None:
        as_of_day(as_of)
    return parse_date(as_of).isoformat()


def batch_as_of(option: Any, extract: Any, *, allow_after_extract: bool = False,
                option_name: str = "--as-of") -> dt.date:
    """The as-of date of a batch over a portfolio extract (``features``, ``rerate``, ``report``).

    Parameters
    ----------
    option : str or None
        The ``--as-of`` given; None: the extract date.
    extract : str or None
        The portfolio's extract date (its manifest's ``as_of``); None when unknown.
    allow_after_extract : bool, default False
        Accept an ``--as-of`` after the extract date (``--allow-as-of-after-extract``).

    Returns
    -------
    datetime.date
        ``option``, else the extract date. Without an extract date, ``option``
        is taken as given: nothing to check it against.

    Raises
    ------
    InvalidInputError
        Neither date is given; a date is not ``YYYY-MM-DD``; or ``option`` is
        after the extract date:
        the extract knows nothing after its date, so open invoices would age
        past their due dates unseen and debtors would silently turn to default.
        An earlier ``--as-of`` is a point-in-time run and is allowed.

    Examples
    --------
    >>> batch_as_of(None, "2026-06-30"), batch_as_of("2026-03-31", "2026-06-30")
    (datetime.date(2026, 6, 30), datetime.date(2026, 3, 31))
    >>> batch_as_of("2026-10-01", "2026-06-30", allow_after_extract=True)
    datetime.date(2026, 10, 1)
    """
    ext = None if extract is None else parse_date(extract, "as_of", where="manifest.json")
    if option is None:
        if ext is None:
            raise InvalidInputError(f"No {option_name} date and the portfolio manifest has "
                                    f"none; give {option_name} YYYY-MM-DD.")
        return ext
    day = parse_date(option, option_name)
    if ext is not None and day > ext and not allow_after_extract:
        raise InvalidInputError(
            f"{option_name} {day.isoformat()} is after the portfolio's extract date "
            f"{ext.isoformat()} (manifest.json as_of): open invoices would age past their "
            "due dates unseen and debtors turn to default. Give a date on or before the "
            "extract date, or --allow-as-of-after-extract.",
            [{"table": "", "record": "", "debtor_id": "", "column": option_name, "value": "",
              "reason": "after_extract", "message": f"{option_name} is after the extract date"}])
    return day
