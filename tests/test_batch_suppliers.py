"""The rerate run's supplier book (riskengine.batch.suppliers, issue 16), on a SYNTHETIC
portfolio whose suppliers are assessed and some of them debtors of the book, in chunks
other than their pairs'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskengine.api import load_engine
from riskengine.batch.dataset import DIRNAME
from riskengine.batch.options import RerateOptions
from riskengine.batch.rerate import run_rerate
from riskengine.batch.suppliers import supplier_book
from riskengine.features.fx import FxRates
from riskengine.io.portfolio import write_portfolio
from riskengine.policy.supplier import debtor_hhi
from riskengine.synthetic import generate_portfolio, synthetic_manifest

AS_OF = "2026-06-30"
N, SEED = 400, 11
KEYS = ["debtor_id", "supplier_id"]


def _book_with_supplier_debtors(foreign: bool = False) -> dict[str, pd.DataFrame]:
    """A generated book whose suppliers carry an assessment and whose first 4 suppliers
    are also debtors: each takes the records of one generated debtor (renamed; with
    ``foreign``, debtors whose statements are in another currency than EUR) and one
    exposure to another supplier."""
    fr = generate_portfolio(N, SEED, AS_OF)
    rng = np.random.default_rng(4)
    sup = fr["suppliers"].copy()
    n = len(sup)
    sup["sector_outlook"] = pd.array(rng.choice(["positive", "stable", "negative"], n),
                                     dtype="str")
    sup["goods_or_services"] = pd.array(rng.choice(["goods", "services", "mixed"], n),
                                        dtype="str")
    sup["perishable"] = pd.array(rng.random(n) < 0.3, dtype="boolean")
    sup["credit_note_share"] = np.round(rng.random(n) * 0.1, 3)
    sup["consignment_share"] = np.where(rng.random(n) < 0.5, np.nan, 0.2)
    out = {**fr, "suppliers": sup}
    deb = fr["debtors"]
    twins = deb.iloc[:4]["debtor_id"].tolist()
    if foreign:
        st = fr["statements"]
        twins = st.loc[st["currency"] != "EUR", "debtor_id"].unique()[:4].tolist()
    names = dict(zip(twins, sup["supplier_id"].iloc[:4].tolist(), strict=True))
    for table in ("debtors", "statements", "adverse_records"):
        f = fr[table]
        copied = f[f["debtor_id"].isin(twins)].copy()
        copied["debtor_id"] = copied["debtor_id"].map(names).astype(f["debtor_id"].dtype)
        if table == "adverse_records":
            copied["record_id"] = ("S" + copied["record_id"].astype(str)).astype(
                f["record_id"].dtype)
        out[table] = pd.concat([f, copied], ignore_index=True)
    ex = fr["exposures"]
    own = ex[ex["debtor_id"].isin(twins)].drop_duplicates("debtor_id").copy()
    own["debtor_id"] = own["debtor_id"].map(names).astype(ex["debtor_id"].dtype)
    own["supplier_id"] = sup["supplier_id"].iloc[-1]  # sold to by the last supplier
    out["exposures"] = pd.concat([ex, own], ignore_index=True)
    return out


@pytest.fixture(scope="module")
def book() -> dict[str, pd.DataFrame]:
    return _book_with_supplier_debtors()


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory, book: dict[str, pd.DataFrame]
              ) -> Path:
    path = tmp_path_factory.mktemp("portfolio")
    write_portfolio(book, path, manifest=synthetic_manifest(N, SEED, AS_OF))
    return path


@pytest.fixture(scope="module")
def engine() -> Any:
    return load_engine()


def _plain(s: pd.Series) -> list[Any]:
    """Values with every missing one as None (Parquet reads NaN, the frame holds None)."""
    return [None if pd.isna(v) else v for v in s.tolist()]


def _run(portfolio: Path, out: Path, engine: Any, chunk_size: int) -> pd.DataFrame:
    opts = RerateOptions(portfolio=portfolio, out=out, as_of=AS_OF, tracking=False,
                         progress=False, chunk_size=chunk_size, store_url=None)
    run_rerate(opts, engine=engine)
    dec = pd.read_parquet(out / DIRNAME)
    return dec[dec["row_type"] == "pair"].sort_values(KEYS).reset_index(drop=True)


def test_the_book_holds_every_suppliers_dispersion_and_the_debtors_ratings(
        book: dict[str, pd.DataFrame], engine: Any) -> None:
    """The dispersion is the HHI of each supplier's limits over its debtors, each limit
    in EUR at the book's rate in force on the decision date (issue 16 point 3); the 4
    suppliers that are debtors carry their grade as debtors."""
    ex = book["exposures"].copy()
    ex["currency"] = ex["currency"].where(np.arange(len(ex)) % 3 != 0, "GBP")  # a third
    mixed = {**book, "exposures": ex}
    got = supplier_book(Path("/nonexistent"), mixed, {}, engine, AS_OF).set_index(
        "supplier_id")
    sup = book["suppliers"].set_index("supplier_id")
    rates = FxRates.from_frame(book["fx_rates"], "EUR").mapping_at(AS_OF)
    in_eur = ex["approved_limit"] * ex["currency"].astype(str).map(rates).astype(float)
    want = debtor_hhi(ex["supplier_id"], ex["debtor_id"], in_eur).dropna()
    assert rates["GBP"] != 1.0 and len(want) == len(sup)
    pd.testing.assert_series_equal(got["debtor_hhi"].reindex(want.index), want,
                                   check_names=False)
    grades = engine.rate(book, AS_OF)
    twins = sup.index[:4]
    assert got.loc[twins, "rating"].tolist() == grades.reindex(twins).tolist()
    assert got.loc[sup.index[4:], "rating"].isna().all()


def test_pairs_decide_alike_in_any_chunking_and_as_the_whole_book(
        portfolio: Path, engine: Any, tmp_path: Path, book: dict[str, pd.DataFrame]) -> None:
    """Chunks of 25 or 1,000 debtors (the supplier-debtors sort after every debtor, so
    with 25 they sit in other chunks than their pairs) decide alike, and as
    Engine.decide on the whole book: the suppliers' grades, notes, advance rates and
    input hashes (which hold the dispersion and the supplier's rating). Before the run
    had a supplier book, a chunk of 25 knew neither the dispersion over the book nor the
    rating of a supplier whose records sit in another chunk."""
    a = _run(portfolio, tmp_path / "a", engine, 25)
    b = _run(portfolio, tmp_path / "b", engine, 1000)
    pd.testing.assert_frame_equal(a, b)
    whole = engine.decide(book, AS_OF, decided_at=f"{AS_OF}T00:00:00Z").decisions
    whole = whole.sort_values(KEYS).reset_index(drop=True)
    # (approved limits differ: the run caps sectors and groups over the book afterwards,
    # and a pair a cap refuses is not financed: no advance there)
    for col in ("supplier_grade", "input_hash", "requested_limit"):
        assert _plain(a[col]) == _plain(whole[col]), col
    capped = (a["decision_type"] == "refused") & a["binding_constraints"].map(
        lambda b: bool({"group_cap", "sector_cap", "country_cap"} & set(b)))
    assert _plain(a.loc[~capped, "advance_rate"]) == _plain(whole.loc[~capped, "advance_rate"])
    assert (a.loc[capped, "advance_rate"] == 0.0).all()
    assert a["limit_notes"].map(tuple).tolist() == whole["limit_notes"].map(tuple).tolist()
    rated = a["supplier_id"].isin(book["suppliers"]["supplier_id"].iloc[:4])
    assert a.loc[rated, "supplier_grade"].notna().all() and rated.sum() > 20
    assert a.loc[~rated, "supplier_grade"].isna().all()
    notes = a["limit_notes"].map(lambda n: any(x.startswith("supplier_") for x in n))
    assert notes.any()


def test_suppliers_rated_from_statements_in_another_currency(tmp_path: Path,
                                                             engine: Any) -> None:
    """A supplier that is a debtor with statements in BGN or RON is rated at the book's
    rates (its fx_rates), as Engine.decide rates it on the whole book: whether the
    driver holds the rates (pandas) or only the portfolio directory does (Spark).
    Without the rates the supplier's own rating was refused (missing_fx_rate) and the
    supplier went unrated in the run."""
    book = _book_with_supplier_debtors(foreign=True)
    sup_ids = book["suppliers"]["supplier_id"].iloc[:4]
    own = book["statements"][book["statements"]["debtor_id"].isin(sup_ids)]
    assert (own["currency"] != "EUR").any()
    assert "fx_rates" in book
    whole = engine.rate(book, AS_OF).reindex(sup_ids)
    assert whole.notna().all() and (whole != "NR").all()
    held = supplier_book(Path("/nonexistent"), book, {}, engine, AS_OF).set_index(
        "supplier_id")
    assert held.loc[sup_ids, "rating"].tolist() == whole.tolist()
    path = tmp_path / "portfolio"
    write_portfolio(book, path, manifest=synthetic_manifest(N, SEED, AS_OF))
    without = {k: v for k, v in book.items() if k != "fx_rates"}
    read = supplier_book(path, without, {}, engine, AS_OF).set_index("supplier_id")
    assert read.loc[sup_ids, "rating"].tolist() == whole.tolist()
