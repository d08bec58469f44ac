"""riskengine.dates: the one parser of as_of (hand-computed day numbers)."""

from __future__ import annotations

import pandas as pd
import pytest

from riskengine.dates import as_of_day, as_of_text
from riskengine.errors import InvalidInputError


def test_day_numbers_by_hand() -> None:
    """1970-01-01 is day 0; 2024-12-31 is 54 years of 365 days + 13 leap days + 365 = 20088."""
    assert as_of_day("1970-01-01") == 0
    assert as_of_day("2024-12-31") == 54 * 365 + 13 + 365
    assert as_of_day(pd.Timestamp("2024-12-31 23:59", tz="Europe/Athens")) == 20088
    assert as_of_text("2024-12-31T10:00:00") == "2024-12-31"


@pytest.mark.parametrize(("value", "message"), [
    (None, "as_of is required"),
    ("yesterday", "as_of 'yesterday' is not a date"),
    (float("nan"), "as_of nan is missing"),
])
def test_bad_as_of_is_named(value: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        as_of_day(value)
