"""The as-of date every core function takes: parsed once, one way, with one error.

A core function never reads the clock; it is given ``as_of`` (the date its
result is "as of") and turns it into a day number here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.errors import InvalidInputError

__all__ = ["as_of_day", "as_of_text"]


def as_of_day(as_of: Any) -> int:
    """``as_of`` as a day number (days since 1970-01-01), time and time zone dropped.

    Raises
    ------
    InvalidInputError
        ``as_of`` is missing (None, NaN, NaT) or not a date; the message names it.

    Examples
    --------
    >>> as_of_day("1970-01-02"), as_of_day(pd.Timestamp("2024-12-31 15:00", tz="UTC"))
    (1, 20088)
    """
    if as_of is None:
        raise InvalidInputError(
            "as_of is required: the date at which features and decisions are computed "
            "(e.g. '2024-12-31'); riskengine never reads the clock in its core.")
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"as_of {as_of!r} is not a date. Pass a date such as '2024-12-31'.") from exc
    if pd.isna(ts):
        raise InvalidInputError(f"as_of {as_of!r} is missing. Pass a date such as '2024-12-31'.")
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


def as_of_text(as_of: Any) -> str:
    """``as_of`` as ``YYYY-MM-DD`` (same parsing and errors as :func:`as_of_day`)."""
    return str(np.datetime64(as_of_day(as_of), "D"))
