"""A rerate run with insurer limits (issue 16): its decisions never insure above the limit
that applies, it writes ``insurer_requests.parquet`` (what to ask the insurer for) and,
with a store, the requests and the insurer limits the service then decides with; on a
SYNTHETIC portfolio with the generator's insurer limits (:mod:`riskengine.synthetic.insurers`:
granted, partial, refused, reduced and cancelled on notice, unanswered); SQLite file and
PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.batch.dataset import DIRNAME
from riskengine.batch.insurance import insurance_invariants
from riskengine.batch.options import RerateOptions
from riskengine.batch.rerate import run_rerate
from riskengine.config import load_policy
from riskengine.io.portfolio import read_portfolio, write_portfolio
from riskengine.policy.insurer import REQUEST_COLUMNS, insurer_requests
from riskengine.store import DecisionStore
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED = 300, 21


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return generate_portfolio(N, SEED, AS_OF)


@pytest.fixture(scope="module")
def limits(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return frames["insurer_limits"]


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory,
              frames: dict[str, pd.DataFrame]) -> Path:
    path = tmp_path_factory.mktemp("portfolio")
    write_portfolio(frames, path, manifest=synthetic_manifest(N, SEED, AS_OF))
    return path


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _run(portfolio: Path, out: Path, engine: Any, url: str | None, **kw: Any) -> dict[str, Any]:
    res = run_rerate(RerateOptions(portfolio=portfolio, out=out, tracking=False, as_of=AS_OF,
                                   progress=False, store_url=url, chunk_size=100, **kw),
                     engine=engine)
    return res.summary


def test_a_run_never_insures_above_the_limit_and_lists_the_requests(
        portfolio: Path, limits: pd.DataFrame, engine: Any, tmp_path: Path) -> None:
    summary = _run(portfolio, tmp_path / "r", engine, None)
    dec = pd.read_parquet(tmp_path / "r" / DIRNAME)
    pairs = dec[dec["row_type"] == "pair"]
    assert set(limits["status"]) == {"requested", "granted", "partial", "pending", "refused",
                                     "reduced", "cancelled"}
    inv = insurance_invariants(dec, limits, load_policy())
    assert inv["pairs_with_insurer_limit"] > 100
    assert inv["pairs_insured_above_approved"] == 0
    assert inv["pairs_insured_above_min_approved_granted"] == 0
    assert inv["limits_exceeded"] == 0
    assert inv["pairs_above_discretionary_cap"] == inv["debtors_above_discretionary_cap"] == 0
    assert set(pairs["cover_basis"]) == {"insurer_limit", "discretionary", "none"}
    # the requests are those of the decisions (after the book's caps), in their columns
    req = pd.read_parquet(tmp_path / "r" / "insurer_requests.parquet")
    assert tuple(req.columns) == REQUEST_COLUMNS
    want = insurer_requests(pairs.reset_index(drop=True), load_policy())
    pd.testing.assert_frame_equal(req, want, check_dtype=False)
    assert (req["amount_requested"] > req["insured_limit"]).all()
    assert {"above_granted", "no_insurer_limit", "refused"} <= set(req["reason"])
    ins = summary["insurance"]
    assert ins["requests"] == len(req)
    assert ins["pairs_insurer_limit"] == int((pairs["cover_basis"] == "insurer_limit").sum())
    on_limit = pairs[pairs["cover_basis"] == "insurer_limit"]
    assert ins["currency"] == "EUR"  # money added over pairs: in the reporting currency
    assert ins["insured_amount_insurer_limit"] == pytest.approx(
        (on_limit["insured_amount"] * on_limit["fx_rate"]).sum())
    rate = pairs.groupby("currency")["fx_rate"].first()
    assert ins["amount_requested"] == pytest.approx(
        (req["amount_requested"] * req["currency"].map(rate).astype(float)).sum())


def test_a_portfolio_without_the_table_reads_as_no_insurer_data(
        portfolio: Path, engine: Any, tmp_path: Path) -> None:
    """An older portfolio has no insurer_limits file: it is still read, and decided with
    no insurer limit (discretionary cover at most)."""
    old = tmp_path / "old"
    frames, manifest = read_portfolio(portfolio)
    meta = {k: v for k, v in manifest.items() if k not in ("tables", "format")}
    write_portfolio({k: v for k, v in frames.items() if k != "insurer_limits"}, old,
                    manifest=meta)
    assert not (old / "insurer_limits.parquet").exists()
    _run(old, tmp_path / "r", engine, None)
    dec = pd.read_parquet(tmp_path / "r" / DIRNAME)
    pairs = dec[dec["row_type"] == "pair"]
    assert set(pairs["cover_basis"]) <= {"discretionary", "none"}
    assert pairs["insurer_status"].isna().all()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_a_run_writes_its_requests_and_insurer_limits_into_the_store(
        portfolio: Path, limits: pd.DataFrame, engine: Any, tmp_path: Path, url: str) -> None:
    summary = _run(portfolio, tmp_path / "r1", engine, url)
    req = pd.read_parquet(tmp_path / "r1" / "insurer_requests.parquet")
    reg = summary["register"]
    assert reg["insurer_requests"] == len(req) > 0
    dec = pd.read_parquet(tmp_path / "r1" / DIRNAME)
    decided = set(dec["debtor_id"])
    assert reg["insurer_limits_recorded"] == int(limits["debtor_id"].isin(decided).sum())
    with DecisionStore(url) as store:
        rows = store.insurer_requests()
        assert len(rows) == len(req) and rows[0]["source"].startswith("rerate:")
        one = req.iloc[0]
        got = store.insurer_requests(one["debtor_id"])
        assert {(r["supplier_id"], r["amount_requested"]) for r in got} == {
            (s, a) for s, a in req.loc[req["debtor_id"] == one["debtor_id"],
                                       ["supplier_id", "amount_requested"]].values.tolist()}
        state = store.insurer_limits_of(limits["debtor_id"].head(5))
        assert len(state) == int(limits["debtor_id"].isin(limits["debtor_id"].head(5)).sum())
    # the same run again: no new insurer limit state; requests replaced, not added
    again = _run(portfolio, tmp_path / "r2", engine, url)
    assert again["register"]["insurer_limits_recorded"] == 0
    with DecisionStore(url) as store:
        assert len(store.insurer_requests()) == len(req)
    assert json.loads((tmp_path / "r2" / "summary.json").read_text())["insurance"] == \
        summary["insurance"]


def test_the_summarys_insurance_money_is_in_the_reporting_currency() -> None:
    """Two pairs, 100 EUR and 100 GBP insured (1 GBP = 1.25 EUR): 225 EUR insured, not
    200 "units"; a request of 40 GBP is 50 EUR (hand calculation)."""
    from riskengine.batch.assemble import _insurance_figures

    pairs = pd.DataFrame({"cover_basis": ["insurer_limit", "insurer_limit"],
                          "approved_limit": [200.0, 200.0], "insured_amount": [100.0, 100.0],
                          "currency": ["EUR", "GBP"], "fx_rate": [1.0, 1.25]})
    req = pd.DataFrame({"currency": ["GBP"], "amount_requested": [40.0]})
    got = _insurance_figures(pairs, req, "EUR")
    assert (got["currency"], got["insured_amount_insurer_limit"], got["approved_insurer_limit"],
            got["amount_requested"]) == ("EUR", 225.0, 450.0, 50.0)
