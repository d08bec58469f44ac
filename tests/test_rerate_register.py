"""A rerate run writes the one limit register the service and the officer's pages read
(issue 15 points 3-5), on a SYNTHETIC portfolio; SQLite file and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from riskengine.api import load_engine
from riskengine.batch.dataset import DIRNAME
from riskengine.batch.options import RerateOptions
from riskengine.batch.rerate import run_rerate
from riskengine.config import load_policy
from riskengine.io.portfolio import write_portfolio
from riskengine.serve.api import create_app
from riskengine.store import DecisionStore
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED = 150, 9
TOKEN = "t" * 32


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("portfolio")
    write_portfolio(generate_portfolio(N, SEED, AS_OF), path,
                    manifest=synthetic_manifest(N, SEED, AS_OF))
    return path


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


def _run(portfolio: Path, out: Path, engine: Any, url: str, **kw: Any) -> dict[str, Any]:
    kw.setdefault("as_of", AS_OF)
    res = run_rerate(RerateOptions(portfolio=portfolio, out=out, tracking=False,
                                   progress=False, store_url=url, **kw), engine=engine)
    return res.summary


def test_a_first_run_seeds_the_register_and_its_cuts_wait_for_the_notice(
        portfolio: Path, engine: Any, url: str, tmp_path: Path) -> None:
    summary = _run(portfolio, tmp_path / "r1", engine, url)
    dec = pd.read_parquet(tmp_path / "r1" / DIRNAME)
    pairs = dec[dec["row_type"] == "pair"]
    held = pairs[pairs["current_limit"].fillna(0) > 0]
    reg = summary["register"]
    assert reg["applied"] == len(pairs) and reg["not_applied"] == 0
    assert reg["seeded"] == len(held) > 0
    notice = load_policy().limits.notice_days
    with DecisionStore(url) as store:
        cut = held[(held["approved_limit"] < held["current_limit"])
                   & (held["knockouts"].map(len) == 0)].iloc[0]
        before = store.current_limit(cut["supplier_id"], cut["debtor_id"], AS_OF)
        # the limit in force stays until the notice has run; the cut is pending
        assert before["limit"] == cut["current_limit"]
        assert before["pending"]["limit"] == cut["approved_limit"]
        due = (pd.Timestamp(AS_OF) + pd.Timedelta(days=notice)).date()
        assert before["pending"]["effective_date"] == due.isoformat()
        after = store.current_limit(cut["supplier_id"], cut["debtor_id"], due)
        assert after["limit"] == cut["approved_limit"]
        assert before["source"].startswith("rerate:")
        hist = store.history(cut["supplier_id"], cut["debtor_id"])
        # one row: the cut against the limit in force the run seeded the register with
        assert [h["source"].split(":")[0] for h in hist] == ["rerate"]
        assert hist[0]["old_limit"] == cut["current_limit"] and hist[0]["action"] == "decrease"
        assert "exposures.approved_limit" in hist[0]["reason"]
        # the register's terms are the run's decision: grade and product
        assert before["terms"]["grade"] == cut["grade"]
        assert before["terms"]["product"] == cut["product"]


def test_the_same_run_again_changes_nothing_and_an_older_one_is_not_applied(
        portfolio: Path, engine: Any, url: str, tmp_path: Path) -> None:
    _run(portfolio, tmp_path / "r1", engine, url)
    with DecisionStore(url) as store:
        n_hist = store.count("limit_history")
    again = _run(portfolio, tmp_path / "r2", engine, url)["register"]
    assert again["seeded"] == 0 and not any(k.startswith("history_") for k in again)
    with DecisionStore(url) as store:
        assert store.count("limit_history") == n_hist  # every limit confirmed: no change
    older = _run(portfolio, tmp_path / "r0", engine, url, as_of="2026-05-31")["register"]
    assert older["applied"] == 0 and older["not_applied"] == again["applied"]


def test_the_funding_check_answers_from_what_the_run_wrote(
        portfolio: Path, engine: Any, url: str, tmp_path: Path) -> None:
    """rerate's limits and grades reach /v1/invoices/check (they never did before)."""
    _run(portfolio, tmp_path / "r1", engine, url)
    dec = pd.read_parquet(tmp_path / "r1" / DIRNAME)
    pairs = dec[(dec["row_type"] == "pair") & (dec["approved_limit"] > 0)
                & (dec["approved_limit"] >= dec["current_limit"].fillna(0))]
    pair = pairs.iloc[0]
    with DecisionStore(url) as store:
        client = TestClient(create_app(engine, store, [TOKEN], ui=False))
        r = client.post("/v1/invoices/check", headers={"Authorization": f"Bearer {TOKEN}"},
                        json={"supplier_id": pair["supplier_id"], "debtor_id": pair["debtor_id"],
                              "invoice_id": "INV-1", "amount": 1_000.0,
                              "invoice_date": "2026-06-20", "due_date": "2026-08-20",
                              "as_of": AS_OF, "approved_outstanding": 0.0})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["limit"] == pair["approved_limit"] and body["limit_source"] == "limit_register"
        assert body["grade"] == pair["grade"] and body["product"] == pair["product"]


def test_a_register_row_the_run_cannot_reconcile_stops_the_write(
        portfolio: Path, engine: Any, tmp_path: Path) -> None:
    """The register holds a pair's limit in USD, the run decides the pair in EUR: the write
    stops naming the pair and the debtor, and nothing of the run reaches the register."""
    from riskengine.errors import RerateError

    url = f"sqlite:///{tmp_path / 'store.db'}"
    exposures = pd.read_parquet(portfolio / "exposures.parquet")
    pair = exposures.iloc[0]
    with DecisionStore(url) as store:
        store.set_limit(str(pair["supplier_id"]), str(pair["debtor_id"]), 10_000.0,
                        reason="legacy", changed_by="ops", currency="USD", as_of="2026-01-31")
        before = store.count("limit_history")
    with pytest.raises(RerateError, match=f"{pair['supplier_id']} / debtor "
                                          f"{pair['debtor_id']} holds its limit in USD"):
        _run(portfolio, tmp_path / "r", engine, url)
    with DecisionStore(url) as store:
        assert store.count("limit_history") == before
