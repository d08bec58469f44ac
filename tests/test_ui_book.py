"""The book on the officer's desk (issue 18, point 3): the register's pairs paged and
filtered on the search and portfolio pages, the alerts page, and their CSV exports.

The book is laid into the store directly (register rows, history rows and insurer
answers as a rerate run and the insurer loader would write them) so that every filter
has a known answer; the expected rows are counted by hand from the book built in
:func:`_book`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from riskengine.serve.accounts import hash_password
from riskengine.serve.api import create_app
from riskengine.serve.ui.book import csv_cell, csv_lines
from riskengine.store import DecisionStore
from riskengine.store.desk import AlertFilter, BookFilter, alerts_page, book_chunks, book_page
from riskengine.store.tables import insurer_limits, limit_history, limit_register

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
DAY = dt.date(2026, 6, 30)


class _NoEngine:
    """The pages here read the store only; the service needs an engine object."""

    versions = {"model_version": "none", "policy_version": "none"}


def _row(i: int, **kw: Any) -> dict[str, Any]:
    """Register row of pair S-1 / D-<i> (defaults: grade 5 unchanged, 100,000 EUR held)."""
    base = {"supplier_id": "S-1", "debtor_id": f"D-{i:03d}", "limit_amount": 100_000.0,
            "previous_limit": 100_000.0, "effective_date": DAY, "currency": "EUR",
            "updated_at": "2026-06-30T00:00:00Z", "status": "active",
            "source": "rerate:r1", "as_of": DAY, "grade": "5", "previous_grade": "5",
            "pd": 0.012, "product": "non_recourse", "rating_as_of": DAY,
            "sector": "C", "country": "DE", "pending_limit": None,
            "pending_effective_date": None}
    return {**base, **kw}


def _book(store: DecisionStore) -> None:
    """120 pairs: D-000..D-119 of supplier S-1.

    - D-000..D-009: downgraded 5 -> 7, sector G, country GR, limit cut 100,000 -> 60,000
      pending from 2026-08-29 (60 days' notice), a history row ``decrease`` each;
    - D-010..D-014: upgraded 5 -> 4, limit raised 100,000 -> 150,000;
    - D-015: new pair (no grade before), limit 0 -> 80,000; its name starts with ``=``;
    - D-016: cancelled (limit 0 from 100,000), grade D, history ``cancel``;
    - the rest: grade 5, unchanged.
    Insurer answers: D-000 ``reduced`` 90,000 -> 50,000 by INS-1 (every supplier),
    D-001 ``granted`` then ``cancelled`` for S-1 (the latest counts).
    """
    rows = []
    for i in range(120):
        kw: dict[str, Any] = {}
        if i < 10:
            kw = {"grade": "7", "sector": "G", "country": "GR", "pending_limit": 60_000.0,
                  "pending_effective_date": dt.date(2026, 8, 29)}
        elif i < 15:
            kw = {"grade": "4", "limit_amount": 150_000.0}
        elif i == 15:
            kw = {"previous_grade": None, "previous_limit": 0.0, "limit_amount": 80_000.0,
                  "supplier_id": "=cmd|' /C calc'!A0"}
        elif i == 16:
            kw = {"grade": "D", "limit_amount": 0.0, "status": "cancelled"}
        rows.append(_row(i, **kw))
    hist = [{"supplier_id": "S-1", "debtor_id": f"D-{i:03d}", "action": "decrease",
             "old_limit": 100_000.0, "new_limit": 60_000.0,
             "effective_date": dt.date(2026, 8, 29), "reason": "re-rating r1",
             "changed_by": "engine", "changed_at": "2026-06-30T00:00:00Z", "source": "rerate:r1",
             "as_of": DAY} for i in range(10)]
    hist.append({**hist[0], "debtor_id": "D-016", "action": "cancel", "new_limit": 0.0,
                 "effective_date": dt.date(2026, 6, 30)})
    ins = [{"insurer_id": "INS-1", "policy_id": "P-1", "debtor_id": "D-000",
            "supplier_id": None, "currency": "EUR", "granted_amount": 50_000.0,
            "previous_granted_amount": 90_000.0, "cover_pct": 0.9, "status": "reduced",
            "decision_date": dt.date(2026, 6, 1), "effective_date": dt.date(2026, 7, 1),
            "source": "test", "recorded_at": "2026-06-01T00:00:00Z"},
           {"insurer_id": "INS-1", "policy_id": "P-1", "debtor_id": "D-001",
            "supplier_id": "S-1", "currency": "EUR", "granted_amount": 90_000.0,
            "previous_granted_amount": None, "cover_pct": 0.9, "status": "granted",
            "decision_date": dt.date(2026, 1, 1), "effective_date": None, "source": "test",
            "recorded_at": "2026-01-01T00:00:00Z"}]
    ins.append({**ins[1], "status": "cancelled", "granted_amount": 0.0,
                "previous_granted_amount": 90_000.0, "decision_date": dt.date(2026, 5, 2),
                "effective_date": None})
    with store._write() as conn:
        conn.execute(limit_register.insert(), rows)
        conn.execute(limit_history.insert(), hist)
        conn.execute(insurer_limits.insert(), ins)


@pytest.fixture(scope="module")
def _hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def store(_hash: str) -> Iterator[DecisionStore]:
    s = DecisionStore("sqlite://")
    s.add_user("maria.p", "officer", _hash)
    _book(s)
    yield s
    s.close()


@pytest.fixture
def client(store: DecisionStore) -> TestClient:
    c = TestClient(create_app(_NoEngine(), store, ["t" * 32]), base_url="http://testserver")
    page = c.get("/ui/login")
    nonce = re.search(r'name="nonce" value="([^"]*)"', page.text)
    assert nonce
    r = c.post("/ui/login", follow_redirects=False, data={
        "nonce": nonce.group(1), "username": "maria.p", "password": PASSWORD})
    assert r.status_code == 303
    return c


# --- the store's reads -----------------------------------------------------------------


CASES = [
    (BookFilter(), 120),
    (BookFilter(grade="7"), 10),
    (BookFilter(migration="downgrade"), 11),      # D-000..009 (5 -> 7) and D-016 (5 -> D)
    (BookFilter(migration="upgrade"), 5),
    (BookFilter(migration="new"), 1),
    (BookFilter(migration="unchanged"), 103),     # 120 - 11 - 5 - 1
    (BookFilter(action="decrease"), 10),          # the pending cuts
    (BookFilter(action="increase"), 5),
    (BookFilter(action="new"), 1),
    (BookFilter(action="cancel"), 1),
    (BookFilter(action="unchanged"), 103),
    (BookFilter(sector="G"), 10),
    (BookFilter(country="gr"), 10),               # country codes in any case
    (BookFilter(insurer="reduced"), 1),           # D-000: the debtor-wide answer
    (BookFilter(insurer="cancelled"), 1),         # D-001: its latest answer
    (BookFilter(insurer="granted"), 0),           # superseded by the cancellation
    (BookFilter(insurer="none"), 118),
    (BookFilter(grade="7", insurer="reduced"), 1),
    (BookFilter(q="d-01"), 10),                   # D-010..D-019
    (BookFilter(q="calc"), 1),                    # by supplier id
    (BookFilter(q="100%_"), 0),                   # LIKE's wildcards are literal
]


@pytest.mark.parametrize(("f", "expected"), CASES)
def test_book_filters_count_the_rows_in_sql(store: DecisionStore, f: BookFilter,
                                            expected: int) -> None:
    rows, total = book_page(store, f, page=1, size=200)
    assert total == expected == len(rows)


def test_book_pages_cover_the_book_once_in_order(store: DecisionStore) -> None:
    seen = []
    for page in (1, 2, 3):
        rows, total = book_page(store, BookFilter(), page=page, size=50)
        assert total == 120
        seen += [r["debtor_id"] for r in rows]
    assert len(seen) == 120 and seen == sorted(seen) and len(set(seen)) == 120
    assert book_page(store, BookFilter(), page=4, size=50)[0] == []
    chunks = list(book_chunks(store, BookFilter(), chunk=33))
    assert [len(c) for c in chunks] == [33, 33, 33, 21]
    assert [r["debtor_id"] for c in chunks for r in c] == seen


def test_a_book_row_carries_the_pair_s_migration_action_and_insurer(
        store: DecisionStore) -> None:
    (row,), _ = book_page(store, BookFilter(q="D-000"), size=25)
    assert (row["grade"], row["previous_grade"], row["migration"]) == ("7", "5", "downgrade")
    assert (row["action"], row["pending_limit"]) == ("decrease", 60_000.0)
    assert row["pending_effective_date"] == dt.date(2026, 8, 29)
    assert (row["sector"], row["country"], row["insurer_status"]) == ("G", "GR", "reduced")


def test_unknown_filter_values_are_named_not_echoed() -> None:
    assert BookFilter(grade="<b>11</b>", insurer="maybe").problems() == [
        "filter grade: not one of its choices", "filter insurer: not one of its choices"]


def test_alerts_list_cuts_downgrades_and_insurer_reductions(store: DecisionStore) -> None:
    rows, total = alerts_page(store, AlertFilter(), size=200)
    kinds = [r["kind"] for r in rows]
    # 10 decreases + 1 cancel; 11 downgrades; D-000 reduced and D-001 cancelled
    assert (kinds.count("limit_cut"), kinds.count("downgrade"),
            kinds.count("insurer_reduction"), total) == (11, 11, 2, 24)
    days = [r["day"] for r in rows]
    assert days == sorted(days, reverse=True)  # newest first
    assert rows[0]["day"] == dt.date(2026, 8, 29) and rows[0]["kind"] == "limit_cut"
    ins = [r for r in rows if r["kind"] == "insurer_reduction"]
    assert [(r["debtor_id"], r["insurer_id"], r["detail"], r["day"]) for r in ins] == [
        ("D-000", "INS-1", "reduced", dt.date(2026, 7, 1)),
        ("D-001", "INS-1", "cancelled", dt.date(2026, 5, 2))]


def test_alerts_filter_by_kind_and_period(store: DecisionStore) -> None:
    assert alerts_page(store, AlertFilter(kind="downgrade"))[1] == 11
    # the period of June 2026: the cancellation (06-30) and the downgrades (rated 06-30)
    rows, total = alerts_page(store, AlertFilter(since=dt.date(2026, 6, 1),
                                                 until=dt.date(2026, 6, 30)))
    assert total == 12 and {r["kind"] for r in rows} == {"limit_cut", "downgrade"}
    rows, total = alerts_page(store, AlertFilter(kind="limit_cut", since=dt.date(2026, 8, 1)),
                              page=2, size=4)
    assert total == 10 and len(rows) == 4
    assert AlertFilter(kind="everything").problems() == ["filter kind: not one of its choices"]


# --- CSV ------------------------------------------------------------------------------


def test_csv_cells_round_money_and_defuse_formulas() -> None:
    assert csv_cell(1234.5678, money=True) == "1234.57"
    assert csv_cell(0.1 + 0.2, money=True) == "0.30"
    assert csv_cell(0.0125) == "0.0125"                # a PD keeps its digits
    for text in ("=SUM(A1)", "+1", "-1+2", "@cmd", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell("D-1") == "D-1" and csv_cell(None) == ""
    assert csv_cell(float("nan"), money=True) == ""
    assert csv_cell(dt.date(2026, 8, 29)) == "2026-08-29"


def test_csv_lines_stream_in_pieces() -> None:
    rows = ({"a": f"x{i}", "b": 1.005 * i} for i in range(2500))
    pieces = list(csv_lines(("a", "b"), rows, batch=1000))
    assert len(pieces) == 3  # after 1000 and 2000 rows, then the rest
    table = list(csv.reader(io.StringIO("".join(pieces))))
    assert table[0] == ["a", "b"] and len(table) == 2501


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_holds_every_filtered_row_of_every_page(client: TestClient) -> None:
    r = client.get("/ui/export/book.csv?migration=unchanged")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _csv(r.text)
    assert len(rows) == 103 and {x["migration"] for x in rows} == {"unchanged"}
    everything = _csv(client.get("/ui/export/book.csv").text)
    assert len(everything) == 120
    cut = next(x for x in everything if x["debtor_id"] == "D-003")
    assert (cut["limit_amount"], cut["pending_limit"], cut["pending_effective_date"]) == (
        "100000.00", "60000.00", "2026-08-29")
    evil = next(x for x in everything if x["debtor_id"] == "D-015")
    assert evil["supplier_id"] == "'=cmd|' /C calc'!A0"


def test_a_bad_export_filter_is_refused(client: TestClient) -> None:
    r = client.get("/ui/export/book.csv?grade=<x>")
    assert r.status_code == 422 and "&lt;x&gt;" not in r.text and "grade" in r.text


def test_the_alerts_export_follows_the_filter(client: TestClient) -> None:
    rows = _csv(client.get("/ui/export/alerts.csv?kind=insurer_reduction").text)
    assert [(x["debtor_id"], x["insurer_id"], x["before"], x["after"]) for x in rows] == [
        ("D-000", "INS-1", "90000.00", "50000.00"), ("D-001", "INS-1", "90000.00", "0.00")]


# --- pages ------------------------------------------------------------------------------


def test_the_search_page_pages_and_keeps_filters_in_its_links(client: TestClient) -> None:
    page = client.get("/ui/search?migration=unchanged&size=25&page=2").text
    assert "Pairs 26–50 of <strong>103</strong>" in page
    assert "Page 2 of 5" in page
    assert 'href="/ui/search?migration=unchanged&amp;size=25&amp;page=1"' in page
    assert 'href="/ui/search?migration=unchanged&amp;size=25&amp;page=3"' in page
    assert 'href="/ui/export/book.csv?migration=unchanged"' in page
    assert page.count("<tr>") == 26  # the header and 25 rows


def test_a_page_past_the_end_shows_the_last_page(client: TestClient) -> None:
    page = client.get("/ui/search?page=99&size=25").text
    assert "Pairs 101–120 of <strong>120</strong>" in page and "Page 5 of 5" in page
    page = client.get("/ui/alerts?page=9").text
    assert "Alerts 1–24 of <strong>24</strong>" in page


def test_the_portfolio_page_filters_the_book(client: TestClient) -> None:
    page = client.get("/ui/portfolio?grade=7&sector=G").text
    assert "Pairs 1–10 of <strong>10</strong>" in page
    assert "downgrade from 5" in page
    assert 'href="/ui/export/book.csv?grade=7&amp;sector=G"' in page


def test_bad_paging_or_filters_answer_422_with_the_names(client: TestClient) -> None:
    r = client.get("/ui/search?size=7&page=x&insurer=%3Cscript%3E")
    assert r.status_code == 422
    assert "filter insurer: not one of its choices" in r.text and "<script>" not in r.text


def test_the_alerts_page_shows_what_happened_with_dates(client: TestClient) -> None:
    page = client.get("/ui/alerts?kind=limit_cut").text
    assert "Alerts 1–11 of <strong>11</strong>" in page
    assert "Limit cut: 100,000 → 60,000, effective 2026-08-29" in page
    assert "Limit cancelled: 100,000 → 0.00, effective 2026-06-30" in page
    page = client.get("/ui/alerts?kind=insurer_reduction").text
    assert "Insurer INS-1 reduced its limit: 90,000 EUR → 50,000 EUR" in page
    r = client.get("/ui/alerts?since=2026-07-01&until=2026-06-01")
    assert r.status_code == 422 and "The period starts after it ends." in r.text


def test_an_empty_register_says_so(_hash: str) -> None:
    s = DecisionStore("sqlite://")
    try:
        with s.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(limit_register)
                                ).scalar_one() == 0
        assert book_page(s, BookFilter()) == ([], 0)
        assert alerts_page(s, AlertFilter()) == ([], 0)
    finally:
        s.close()


# --- the register's previous grade, written by both paths, read on both backends ----------


def _decision(grade: str, limit: float, as_of: str) -> dict[str, Any]:
    return {"debtor_id": "D-1", "supplier_id": "S-1", "as_of": as_of,
            "decided_at": f"{as_of}T10:00:00Z", "pd": 0.01, "grade": grade,
            "approved_limit": limit, "requested_limit": 100_000.0, "currency": "EUR",
            "decision_type": "full", "model_version": "m", "policy_version": "p",
            "input_hash": f"h{as_of}", "product": "non_recourse", "knockouts": []}


def test_service_decisions_keep_the_previous_grade(store_url: str) -> None:
    """Decided 5 then 7 with a limit cut 100,000 -> 60,000: a downgrade, a pending
    decrease 30 days after 2026-06-30 (the shipped policy's notice), two alerts."""
    store = DecisionStore(store_url)
    try:
        book = [{"sector": "G", "country": "GR", "approved_outstanding": 0.0}]
        store.store_decisions([_decision("5", 100_000.0, "2026-03-31")], exposures=book)
        (row,), _ = book_page(store, BookFilter())
        assert (row["grade"], row["previous_grade"], row["migration"]) == ("5", None, "new")
        store.store_decisions([_decision("7", 60_000.0, "2026-06-30")], exposures=book)
        (row,), total = book_page(store, BookFilter(migration="downgrade", action="decrease",
                                                    sector="G", country="GR",
                                                    insurer="none"))
        assert total == 1 and (row["previous_grade"], row["grade"]) == ("5", "7")
        assert (row["pending_limit"], row["pending_effective_date"]) == (
            60_000.0, dt.date(2026, 7, 30))
        rows, total = alerts_page(store, AlertFilter())
        assert total == 2
        assert [(r["kind"], r["day"]) for r in rows] == [
            ("limit_cut", dt.date(2026, 7, 30)), ("downgrade", dt.date(2026, 6, 30))]
        assert [len(c) for c in book_chunks(store, BookFilter(), chunk=1)] == [1]
    finally:
        store.close()


def test_rerate_runs_keep_the_previous_grade(store_url: str) -> None:
    import pandas as pd

    from riskengine.config import load_policy
    from riskengine.store.runs import apply_run

    def pairs(grades: list[str]) -> pd.DataFrame:
        n = len(grades)
        return pd.DataFrame({
            "supplier_id": ["S-1"] * n, "debtor_id": [f"D-{i}" for i in range(n)],
            "approved_limit": [50_000.0] * n, "knockout": [False] * n,
            "approved_outstanding": [0.0] * n, "current_limit": [0.0] * n,
            "currency": ["EUR"] * n, "grade": grades, "pd": [0.01] * n,
            "advance_rate": [0.8] * n, "sector": ["C"] * n, "country": ["DE"] * n})

    store = DecisionStore(store_url)
    try:
        policy = load_policy()
        apply_run(store, pairs(["4", "5", "6"]), as_of="2026-03-31", run="r1", policy=policy)
        apply_run(store, pairs(["3", "5", "8"]), as_of="2026-06-30", run="r2", policy=policy)
        rows, _ = book_page(store, BookFilter())
        assert [(r["previous_grade"], r["grade"], r["migration"]) for r in rows] == [
            ("4", "3", "upgrade"), ("5", "5", "unchanged"), ("6", "8", "downgrade")]
        assert [r["debtor_id"] for r in alerts_page(store, AlertFilter(kind="downgrade"))[0]
                ] == ["D-2"]
    finally:
        store.close()


def test_the_book_reads_the_same_on_both_backends(store_url: str) -> None:
    store = DecisionStore(store_url)
    try:
        _book(store)
        assert [book_page(store, f, size=25)[1] for f, _ in CASES] == [n for _, n in CASES]
        rows, _ = book_page(store, BookFilter(), page=2, size=50)
        assert (rows[0]["debtor_id"], rows[-1]["debtor_id"]) == ("D-050", "D-099")
        assert [len(c) for c in book_chunks(store, BookFilter(), chunk=50)] == [50, 50, 20]
        rows, total = alerts_page(store, AlertFilter(), size=200)
        assert total == 24 and [r["day"] for r in rows] == sorted(
            (r["day"] for r in rows), reverse=True)
        assert alerts_page(store, AlertFilter(since=dt.date(2026, 6, 1),
                                              until=dt.date(2026, 6, 30)))[1] == 12
    finally:
        store.close()


def test_the_portfolio_reads_the_last_two_decisions_per_pair_in_sql(store_url: str) -> None:
    from riskengine.serve.ui.portfolio import decision_runs

    store = DecisionStore(store_url)
    try:
        for grade, as_of in (("4", "2026-01-31"), ("5", "2026-03-31"), ("7", "2026-06-30")):
            store.store_decisions([_decision(grade, 100_000.0, as_of)])
        other = {**_decision("3", 50_000.0, "2026-06-30"), "debtor_id": "D-2"}
        store.store_decisions([other])
        current, previous = decision_runs(store)
        assert sorted(zip(current["debtor_id"], current["grade"], strict=True)) == [
            ("D-1", "7"), ("D-2", "3")]
        assert list(zip(previous["debtor_id"], previous["grade"], strict=True)) == [("D-1", "5")]
        assert list(current["decision_id"]) == [3, 4]
    finally:
        store.close()


def test_the_score_form_shows_the_groups_asked_for(client: TestClient) -> None:
    def groups(query: str) -> tuple[int, int]:
        page = client.get(f"/ui/score{query}").text
        return (len(re.findall(r'data-testid="statement-\d+"', page)),
                len(re.findall(r'data-testid="adverse-\d+"', page)))

    assert groups("") == (2, 1)                        # the defaults
    assert groups("?statements=4&adverse=0") == (4, 1)  # at least one of each
    assert groups("?statements=99&adverse=3") == (10, 3)  # at most 10
    assert groups("?statements=x") == (2, 1)
