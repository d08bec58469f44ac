"""The book's caps in a rerate run (issue 15): one capacity per debtor, connected groups
against the factor's capital, sectors against the book, on a SYNTHETIC portfolio whose
groups span chunks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.batch.book import book_invariants
from riskengine.batch.dataset import DIRNAME
from riskengine.batch.options import RerateOptions
from riskengine.batch.rerate import run_rerate
from riskengine.config import load_policy
from riskengine.io.portfolio import write_portfolio
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED = 400, 5
CAPITAL = 2_000_000.0  # small: the group cap is 500,000


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("portfolio")
    write_portfolio(generate_portfolio(N, SEED, AS_OF), path,
                    manifest=synthetic_manifest(N, SEED, AS_OF))
    return path


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _run(portfolio: Path, out: Path, engine: Any, **kw: Any) -> pd.DataFrame:
    opts = RerateOptions(portfolio=portfolio, out=out, as_of=AS_OF, tracking=False,
                         progress=False, **kw)
    run_rerate(opts, engine=engine)
    return pd.read_parquet(out / DIRNAME)


def test_small_capital_caps_groups_and_debtors_across_chunks(
        portfolio: Path, engine: Any, tmp_path: Path) -> None:
    """With a capital of 2M no group (members in several chunks of 25 debtors) gets more
    than 500,000, no debtor's pairs more than its capacity, and the summary counts the
    pairs each cap bound."""
    dec = _run(portfolio, tmp_path / "small", engine, chunk_size=25, factor_capital=CAPITAL)
    policy = load_policy().with_factor_capital(CAPITAL)
    inv = book_invariants(dec, policy)
    assert inv["debtors_over_capacity"] == 0 and inv["groups_over_cap"] == 0
    assert inv["pairs_bound_group_cap"] > 0  # the small capital does bind
    assert inv["debtors_sharing_capacity"] > 0  # some debtors have several suppliers
    import json

    summary = json.loads((tmp_path / "small" / "summary.json").read_text())
    assert summary["book"]["factor_capital"] == CAPITAL
    # the summary counts the pairs the book's pass cut (a pair above the cap on its own
    # is already bound in its chunk)
    assert 0 < summary["book"]["pairs_cut_group_cap"] <= inv["pairs_bound_group_cap"]
    # a cut pair names the cap as its binding constraint and its cover shrinks with it
    pairs = dec[dec["row_type"] == "pair"]
    cut = pairs[pairs["binding_constraints"].map(lambda b: "group_cap" in b)]
    assert (cut["insured_limit"] <= cut["approved_limit"] + 1e-9).all()
    assert set(cut["decision_type"]) <= {"partial", "refused"}
    # a pair a cap refuses is not financed: no advance and no fees, as the engine prices
    # a refused pair (policy.pricing), in the decisions and in the register's terms
    refused = pairs[pairs["decision_type"] == "refused"]
    capped = refused[refused["binding_constraints"].map(
        lambda b: bool({"group_cap", "sector_cap"} & set(b)))]
    assert len(capped)
    for rate in ("advance_rate", "service_commission_rate", "discount_rate"):
        assert (refused[rate].fillna(0.0) == 0.0).all(), rate


def test_caps_do_not_depend_on_the_chunking(portfolio: Path, engine: Any,
                                            tmp_path: Path) -> None:
    """The whole book is allocated at once: 25 or 1,000 debtors per chunk decide alike."""
    a = _run(portfolio, tmp_path / "a", engine, chunk_size=25, factor_capital=CAPITAL)
    b = _run(portfolio, tmp_path / "b", engine, chunk_size=1000, factor_capital=CAPITAL)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_without_a_group_cap_nothing_is_cut_by_groups(portfolio: Path, engine: Any,
                                                      tmp_path: Path) -> None:
    """A capital so large that 25 % of it exceeds the book: no pair is bound by the group
    cap, and each debtor's capacity still holds."""
    dec = _run(portfolio, tmp_path / "big", engine, chunk_size=100, factor_capital=1e12)
    inv = book_invariants(dec, load_policy())
    assert inv["pairs_bound_group_cap"] == 0 and inv["debtors_over_capacity"] == 0


def test_a_first_run_measures_its_limit_actions_against_the_limits_in_force(
        portfolio: Path, engine: Any, tmp_path: Path) -> None:
    """No --previous: the exposures' approved limits are the limits in force; every
    change is a limit action with its notice, and the protected outstanding is what was
    delivered (approved_outstanding), not the old limit."""
    out = tmp_path / "first"
    dec = _run(portfolio, out, engine, chunk_size=100)
    exposures = pd.read_parquet(portfolio / "exposures.parquet")
    held = int((exposures["approved_limit"] > 0).sum())
    assert held > 0
    actions = pd.read_parquet(out / "limit_actions.parquet")
    pairs = dec[dec["row_type"] == "pair"].set_index(["debtor_id", "supplier_id"])
    changed = pairs[(pairs["current_limit"].fillna(0) != pairs["approved_limit"])]
    assert len(actions) == len(changed) > 0
    a = actions.set_index(["debtor_id", "supplier_id"]).join(
        pairs[["current_limit", "approved_outstanding"]])
    assert (a["previous_limit"] == a["current_limit"].fillna(0.0)).all()
    cuts = a[(a["action"] != "increase") & ~a["knockout"]]
    notice = pd.Timedelta(days=load_policy().limits.notice_days)
    assert (cuts["effective_date"] == pd.Timestamp(AS_OF) + notice).all()
    expect = a["approved_outstanding"].clip(upper=a[["previous_limit", "new_limit"]].max(axis=1))
    assert (a["protected_outstanding"] == expect).all()


def test_a_partial_run_counts_the_rest_of_the_book(portfolio: Path, engine: Any,
                                                   tmp_path: Path) -> None:
    """--debtors re-rates part of the book: the previous run's pairs of the other debtors
    keep their limits and count in the group totals, so no group goes over its cap when
    the two are put together."""
    full = _run(portfolio, tmp_path / "full", engine, chunk_size=50, factor_capital=CAPITAL)
    pairs = full[full["row_type"] == "pair"]
    grouped = pairs[pairs["group_id"].notna()]
    group = grouped.groupby("group_id")["debtor_id"].nunique().idxmax()  # spans debtors
    members = sorted(set(grouped.loc[grouped["group_id"] == group, "debtor_id"]))
    part = _run(portfolio, tmp_path / "part", engine, chunk_size=50, factor_capital=CAPITAL,
                previous=tmp_path / "full", debtors=tuple(members[:1]))
    rest = full[~full["debtor_id"].isin(members[:1])]
    book = pd.concat([part, rest], ignore_index=True)
    inv = book_invariants(book, load_policy().with_factor_capital(CAPITAL))
    assert inv["groups_over_cap"] == 0 and inv["debtors_over_capacity"] == 0
