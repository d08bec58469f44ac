"""Portfolio figures and seed 004's receivables arithmetic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskengine.config import load_policy
from riskengine.errors import InvalidInputError
from riskengine.policy.portfolio import (
    average_collection_period,
    capital_tied_in_receivables,
    doubtful_debt_reserve,
    hhi,
    net_realisable_value,
    portfolio_figures,
    top_concentrations,
)

POLICY = load_policy()


def test_capital_tied_in_receivables_seed_004() -> None:
    """Seed 004: credit sales 3,200 (thousand units), cost 75 % of price, 40 credit days,
    20 days' delay: 3,200 x 0.75 x (40 + 20) / 360 = 400."""
    assert capital_tied_in_receivables(3_200, 0.75, 40, 20) == pytest.approx(400.0)


def test_doubtful_debt_reserve_seed_004_definition() -> None:
    """Seed 004: reserve = sum over groups of receivables x doubtfulness coefficient;
    net realisable value = receivables - reserve. Hand calculation:
    1,000 x 2 % + 500 x 10 % + 200 x 50 % = 20 + 50 + 100 = 170; NRV = 1,700 - 170 = 1,530."""
    assert doubtful_debt_reserve([1_000, 500, 200], [0.02, 0.10, 0.50]) == pytest.approx(170)
    assert net_realisable_value([1_000, 500, 200], [0.02, 0.10, 0.50]) == pytest.approx(1_530)
    with pytest.raises(InvalidInputError, match="one coefficient per group"):
        doubtful_debt_reserve([1, 2], [0.1])
    with pytest.raises(InvalidInputError, match=r"fractions in \[0, 1\]"):
        doubtful_debt_reserve([1, 2], [0.1, 10])


def test_average_collection_period() -> None:
    """Seed 004: average receivables / one day's sales; 400 / (3,600 / 360) = 40 days."""
    assert average_collection_period(400, 3_600) == pytest.approx(40.0)
    with pytest.raises(InvalidInputError, match="positive sales"):
        average_collection_period(400, 0)


def test_hhi_bounds_and_hand_value() -> None:
    """HHI = sum share^2 (DOMAIN.md §4): 4 equal names -> 0.25; one name -> 1;
    shares 50/30/20 -> 0.25 + 0.09 + 0.04 = 0.38."""
    assert hhi(list("abcd"), [5, 5, 5, 5]) == pytest.approx(0.25)
    assert hhi(["a", "a"], [1, 2]) == pytest.approx(1.0)
    assert hhi(["a", "b", "a", "c"], [30, 20, 20, 30]) == pytest.approx(0.38)
    assert hhi([], []) == 0.0


def test_top_concentrations_ordering() -> None:
    keys = [f"d{i}" for i in range(30)]
    top = top_concentrations(keys, np.arange(30, dtype=float))
    assert len(top) == 20 and top["key"].iloc[0] == "d29"
    assert top["share"].is_monotonic_decreasing
    assert top["cumulative_share"].iloc[-1] == pytest.approx(top["share"].sum())


def test_portfolio_figures_hand_calculation() -> None:
    """Book of three debtors, LGD 40 %, indemnity 90 % (shipped policy).

    Retained: a 30,000 insured -> 3,000; b uninsured 10,000; c 20,000 with 10,000
    insured -> 10,000 + 1,000 = 11,000. Total 24,000.
    EL without cover: 0.4 x (0.01 x 30k + 0.05 x 10k + 0.02 x 20k) = 0.4 x 1,200 = 480.
    EL with cover: 0.4 x (0.01 x 3k + 0.05 x 10k + 0.02 x 11k) = 0.4 x 750 = 300.
    HHI by group: a and b in G1 (40k), c alone (20k): (2/3)^2 + (1/3)^2 = 5/9.
    """
    book = pd.DataFrame({
        "debtor_id": ["a", "b", "c"], "limit": [30_000.0, 10_000.0, 20_000.0],
        "insured": [30_000.0, 0.0, 10_000.0], "pd": [0.01, 0.05, 0.02],
        "group_id": ["G1", "G1", None], "sector": ["food", "steel", "food"],
        "country": ["GR", "GR", "GR"],
    })
    f = portfolio_figures(book, POLICY)
    assert f.n_debtors == 3 and f.total_limit == 60_000 and f.total_insured == 40_000
    assert f.total_retained == pytest.approx(24_000)
    assert f.expected_loss_uninsured == pytest.approx(480)
    assert f.expected_loss_insured == pytest.approx(300)
    assert f.hhi["group"] == pytest.approx(5 / 9)
    assert f.hhi["sector"] == pytest.approx((50 / 60) ** 2 + (10 / 60) ** 2)
    assert f.hhi["country"] == pytest.approx(1.0)
    assert f.top["group"]["key"].tolist() == ["G1", "c"]


def test_portfolio_without_pd_has_no_expected_loss() -> None:
    f = portfolio_figures(pd.DataFrame({"debtor_id": ["a"], "limit": [1.0]}), POLICY)
    assert np.isnan(f.expected_loss_uninsured) and f.total_retained == 1.0
    with pytest.raises(InvalidInputError, match="'limit' is missing"):
        portfolio_figures(pd.DataFrame({"debtor_id": ["a"]}), POLICY)


def test_portfolio_figures_add_money_in_the_reporting_currency() -> None:
    """a: 30,000 EUR; b: 10,000 GBP at 1.25 EUR = 12,500 EUR: total limit 42,500 EUR (not
    40,000 "units"), HHI by name (30/42.5)^2 + (12.5/42.5)^2 (hand calculation); without
    fx_rate the amounts are taken as given (one currency)."""
    book = pd.DataFrame({"debtor_id": ["a", "b"], "limit": [30_000.0, 10_000.0],
                         "currency": ["EUR", "GBP"], "fx_rate": [1.0, 1.25]})
    f = portfolio_figures(book, POLICY)
    assert f.total_limit == 42_500.0 and f.total_retained == 42_500.0
    assert f.hhi["name"] == pytest.approx((30 / 42.5) ** 2 + (12.5 / 42.5) ** 2)
    assert portfolio_figures(book.drop(columns="fx_rate"), POLICY).total_limit == 40_000.0
    with pytest.raises(InvalidInputError, match="fx_rate must be a finite number"):
        portfolio_figures(book.assign(fx_rate=[1.0, 0.0]), POLICY)
