"""riskengine.contracts.dates: the one parser of user dates (hand-computed day numbers)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from riskengine.contracts.dates import as_of_day, as_of_text, parse_date, refuse_after
from riskengine.errors import InvalidInputError


def test_day_numbers_by_hand() -> None:
    """1970-01-01 is day 0; 2024-12-31 is 54 years of 365 days + 13 leap days + 365 = 20088."""
    assert as_of_day("1970-01-01") == 0
    assert as_of_day("2024-12-31") == 54 * 365 + 13 + 365
    assert as_of_day(pd.Timestamp("2024-12-31 23:59", tz="Europe/Athens")) == 20088
    assert as_of_day(np.datetime64("2024-12-31")) == 20088
    assert as_of_day(dt.datetime(2024, 12, 31, 10, 0)) == 20088
    assert as_of_text(dt.date(2024, 12, 31)) == "2024-12-31"


@pytest.mark.parametrize(("value", "message"), [
    (None, "as_of is required"),
    ("yesterday", "as_of 'yesterday' is not a date in the form YYYY-MM-DD"),
    (float("nan"), "as_of is required"),
    (pd.NaT, "as_of is required"),
    (np.datetime64("NaT"), "as_of is required"),
])
def test_bad_as_of_is_named(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        as_of_day(value)


@pytest.mark.parametrize(("text", "reason"), [
    ("01/06/2026", "not a date in the form YYYY-MM-DD"),     # day-first or month-first?
    ("June 2026", "not a date in the form YYYY-MM-DD"),
    ("2026-13-01", "not a calendar date"),                     # month 13
    ("2026-02-30", "not a calendar date"),
    ("2026-6-30", "not a date in the form YYYY-MM-DD"),
    ("20260630", "not a date in the form YYYY-MM-DD"),
    ("2026-06-30T00:00:00Z", "not a date in the form YYYY-MM-DD"),  # as_of is a date
    (1782777600, "not a date in the form YYYY-MM-DD"),        # a Unix time is not a date
])
def test_only_iso_dates_are_read(text: object, reason: str) -> None:
    """Issue 13 point 3: refused with a message naming the field and the value."""
    with pytest.raises(InvalidInputError, match=reason) as err:
        parse_date(text, "--as-of")
    assert str(err.value).startswith(f"--as-of {text!r} is ")
    assert "\n" not in str(err.value)
    assert err.value.first["column"] == "--as-of" and err.value.first["reason"] == "not_a_date"


def test_timestamps_only_where_asked() -> None:
    assert parse_date("2026-06-30T23:30:00Z", "decided_at", timestamps=True) == dt.date(2026, 6, 30)
    assert parse_date("2026-06-30T10:00:00+02:00", "decided_at",
                      timestamps=True) == dt.date(2026, 6, 30)
    with pytest.raises(InvalidInputError, match="decided_at '30/06/2026 10:00' is not"):
        parse_date("30/06/2026 10:00", "decided_at", timestamps=True)


def test_refuse_after_the_reference_date() -> None:
    refuse_after(dt.date(2026, 6, 30), dt.date(2026, 6, 30))  # the same day is fine
    with pytest.raises(InvalidInputError, match="as_of 2026-07-01 is after the reference "
                       "date 2026-06-30") as err:
        refuse_after(dt.date(2026, 7, 1), dt.date(2026, 6, 30))
    assert err.value.first["reason"] == "future_date"
