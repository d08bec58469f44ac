"""The credit officer's web page in a real headless Chromium, against the real service.

Sources: issue 7 §2 (log in, score a debtor from a JSON upload, see its
decision, record an override with a reason, upgrades beyond the policy bound
refused and upgrades flagged; a screenshot in the test output) and §3 (the
audit trail, the portfolio page, the override report); issue 18 points 1 and 2
(officers' own accounts made with ``riskengine users add``; a flagged override
pending until a second account with the approver role approves it).

`riskengine serve` runs in a subprocess on a free loopback port with a token
file and a temporary SQLite store; Playwright for Python drives Debian's
Chromium (``scripts/install_browser.sh``; ``$RISKENGINE_CHROMIUM`` overrides
the path). Playwright's own browser download is never used. Without Chromium
or Playwright the test is skipped with the reason, and fails when ``CI`` is set.
Screenshots of every page (login, decision and memo, score form with two statements,
pending and approved override, search, portfolio with a filter, alerts, the CSV export)
are written to ``browser-screenshots/`` under pytest's base temporary directory (or
``$RISKENGINE_SCREENSHOTS``), never into the repository; the directory is printed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_FILE = ROOT / "examples" / "debtor.json"
TOKEN = "browser-test-token-0123456789abcdef"
OFFICER = "maria.p"      # role officer
APPROVER = "ana.k"       # role approver
PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
GRADES = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "D")


def _chromium() -> str | None:
    for candidate in (os.environ.get("RISKENGINE_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: run scripts/install_browser.sh and install the "
                    "dev extras)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`riskengine serve` on loopback with the shipped engine; yields its base URL."""
    tmp = tmp_path_factory.mktemp("service")
    token_file = tmp / "tokens"
    token_file.write_text(f"# browser test\n{TOKEN}\n")
    token_file.chmod(0o600)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "RISKENGINE_API_TOKEN"}
    store_url = f"sqlite:///{tmp / 'store.db'}"
    for user, role in ((OFFICER, "officer"), (APPROVER, "approver")):  # the accounts
        subprocess.run([sys.executable, "-m", "riskengine.cli", "users", "add", user,
                        "--role", role, "--password-stdin", "--store", store_url],
                       input=PASSWORD + "\n", text=True, check=True, env=env, cwd=str(ROOT),
                       capture_output=True)
    log = (tmp / "service.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskengine.cli", "serve", "--port", str(port),
         "--token-file", str(token_file), "--store", store_url],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"{base}/ready", timeout=2).json().get("status")
            except (httpx.TransportError, ValueError):
                status = None
            if status in ("ready", "failed"):
                break
            time.sleep(0.2)
        if status != "ready":
            log.flush()
            raise AssertionError(f"the service did not get ready ({status!r}): "
                                 f"{(tmp / 'service.log').read_text()[-2000:]}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        _missing("no Chromium found (scripts/install_browser.sh installs Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def _book_payload(example: dict[str, Any], i: int, run: int) -> dict[str, Any]:
    """Debtor ``i`` of a small made-up book (the example with other margins, equity and
    adverse records) in decision run 1 (as of 2026-03-31) or 2 (as of 2026-06-30)."""
    p = copy.deepcopy(example)
    did = f"GR-D-9{i:05d}"
    p["debtor"].update(debtor_id=did, name=f"Debtor {i} S.A.")
    for r in p["adverse_records"]:
        r["record_id"] = f"{did}-{r['record_id']}"
    for v in p["invoices"]:
        v["invoice_id"] = f"{did}-{v['invoice_id']}"
    p["exposure"]["supplier_id"] = f"GR-S-{i % 5:06d}"
    margin = 1.8 - 0.22 * ((i * 7) % 10)
    for s in p["statements"]:
        s["ebitda"] = round(s["ebitda"] * margin)
        s["ebit"] = s["ebitda"] - s["depreciation_amortization"]
        s["net_income"] = round(max(s["ebit"] - s["interest_expense"], 0) * 0.7)
        s["equity"] = round(s["equity"] * (0.5 + 0.15 * ((i * 3) % 7)))
        s["total_liabilities"] = s["total_assets"] - s["equity"]
        s["long_term_debt"] = max(0.0, min(s["long_term_debt"],
                                           s["total_liabilities"] - s["current_liabilities"]))
    def adverse(kind: str, day: str, amount: float) -> dict[str, Any]:
        return {"record_id": f"{did}-{kind}", "event_type": kind, "event_date": day,
                "amount": amount, "currency": "EUR", "status": "open", "settlement_date": None}

    if i % 5 == 2:
        p["adverse_records"].append(adverse("tax_debt", "2025-11-02", 40_000.0))
    if run == 2 and i % 3 == 0:
        p["adverse_records"].append(adverse("payment_order", "2026-05-02", 12_000.0 + 1000 * i))
    if run == 2 and i % 4 == 1:
        p["adverse_records"] = [r for r in p["adverse_records"]
                                if r["event_type"] != "bounced_cheque"]
    p["as_of"] = "2026-03-31" if run == 1 else "2026-06-30"
    return p


def sign_in(page: Any, user: str, password: str = PASSWORD) -> None:
    """Fill and send the login form (the page shows it)."""
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")


@pytest.fixture(scope="module")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``$RISKENGINE_SCREENSHOTS``, else
    ``browser-screenshots/`` under pytest's base temporary directory."""
    chosen = os.environ.get("RISKENGINE_SCREENSHOTS")
    out = Path(chosen) if chosen else tmp_path_factory.getbasetemp() / "browser-screenshots"
    out.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {out}")
    return out


def _shot(page: Any, tmp_path: Path, name: str, shots: list[Path]) -> None:
    path = tmp_path / f"{len(shots) + 1:02d}_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shots.append(path)
    print(f"screenshot: {path}")


#: The score form's fields: the example's debtor under another id, and its last two
#: statements (examples/debtor.json, 2025 and 2024).
FORM_DEBTOR = {"debtor_id": "GR-D-007007", "name": "Thessaloniki Fresh Foods S.A.",
               "country": "GR", "nace": "46.39", "as_of": "2026-06-30",
               "supplier_id": "GR-S-000318", "supplier_name": "Thessaly Dairy Products S.A.",
               "supplier_country": "GR", "supplier_nace": "10.51",
               "supplier_ledger_total": "4850000", "requested_limit": "200000"}
FORM_STATEMENTS = (
    {"period_end": "2025-12-31", "revenue": "21160000", "ebitda": "1310000", "ebit": "970000",
     "net_income": "574000", "interest_expense": "214000", "cash": "690000",
     "receivables": "4460000", "current_assets": "7910000", "total_assets": "11640000",
     "current_liabilities": "5190000", "total_liabilities": "7020000", "equity": "4620000"},
    {"period_end": "2024-12-31", "revenue": "19820000", "ebitda": "1250000", "ebit": "925000",
     "net_income": "551000", "interest_expense": "198000", "cash": "710000",
     "receivables": "4120000", "current_assets": "7420000", "total_assets": "11010000",
     "current_liabilities": "4880000", "total_liabilities": "6740000", "equity": "4270000"})


def test_officer_scores_overrides_and_is_refused_in_chromium(
        service: str, browser: Any, shots_dir: Path) -> None:
    """Log in, upload examples/debtor.json, see grade and limit, a flagged 1-notch upgrade in
    the audit trail, a refused 3-notch upgrade; portfolio and override report pages render.

    The grade and limit shown are the ones the service answers on ``/v1`` for the same
    stored decision (the shipped model gives grade 5 and 350,000 EUR: docs/SERVICE.md).
    """
    from playwright.sync_api import expect

    shots: list[Path] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  base_url=service, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        # every /ui page asks for a login first
        page.goto("/ui/portfolio")
        expect(page).to_have_url(f"{service}/ui/login?next=%2Fui%2Fportfolio")
        sign_in(page, OFFICER, TOKEN)  # an API token is not an officer's password
        expect(page.get_by_role("alert")).to_contain_text("name or password is wrong")
        page.fill("#username", OFFICER)
        page.fill("#password", PASSWORD)
        _shot(page, shots_dir, "login", shots)
        page.click("button:has-text('Sign in')")
        expect(page).to_have_url(f"{service}/ui/portfolio")
        expect(page.get_by_test_id("officer")).to_have_text(OFFICER)
        cookies = {c["name"]: c for c in context.cookies()}
        session = cookies["riskengine_session"]
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert PASSWORD not in json.dumps(context.cookies()) and PASSWORD not in page.url

        # score the example payload from a file upload
        page.click("nav >> text=Score a debtor")
        page.set_input_files("#payload_file", str(EXAMPLE_FILE))
        page.click("button:has-text('Score the file')")
        expect(page.get_by_test_id("notice")).to_contain_text("Decision 1 recorded")
        api = httpx.get(f"{service}/v1/debtors/GR-D-004711/decision",
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
        grade = api["grade"]
        expect(page.get_by_test_id("grade")).to_have_text(grade)
        expect(page.get_by_test_id("limit")).to_have_text(f"{api['approved_limit']:,.0f} EUR")
        expect(page.locator("h1")).to_have_text("Aegean Food Wholesale S.A.")
        memo = page.frame_locator("iframe[data-testid=memo]")
        expect(memo.locator("body")).to_contain_text("Aegean Food Wholesale")
        _shot(page, shots_dir, "decision", shots)
        # the memo on its own: both directions of the reasons, in officers' words
        page.goto("/ui/debtor/memo?id=GR-D-004711")
        expect(page.get_by_test_id("reasons-raise")).to_contain_text("bounced cheques")
        expect(page.get_by_test_id("reasons-lower")).to_contain_text("than typical")
        expect(page.locator("body")).not_to_contain_text("overlay")
        _shot(page, shots_dir, "memo", shots)
        page.goto("/ui/debtor?id=GR-D-004711")

        # a 1-notch upgrade: recorded, flagged and pending a second approver
        index = GRADES.index(grade)
        assert index >= 3, "the example's grade leaves no room for a 3-notch upgrade"
        page.select_option("#new_grade", GRADES[index - 1])
        page.fill("#reason", "Audited H1 2026 accounts show margins recovering and a new "
                             "equity injection by the shareholders.")
        page.click("button:has-text('Record override')")
        expect(page.get_by_test_id("notice")).to_contain_text("pending until a second approver")
        trail = page.get_by_test_id("audit")
        first = trail.locator("tbody tr").first
        expect(first).to_contain_text("Upgrade")
        expect(first).to_contain_text(f"grade {grade} → {GRADES[index - 1]} (1 notch)")
        expect(first).to_contain_text("pending a second approver")
        expect(first).to_contain_text(OFFICER)
        expect(page.get_by_test_id("pending")).to_contain_text("another approver must review it")
        expect(page.get_by_test_id("effective")).to_have_count(0)
        _shot(page, shots_dir, "override_pending", shots)

        # a second account with the approver role approves it
        second = browser.new_context(viewport={"width": 1280, "height": 900},
                                     base_url=service, locale="en-GB")
        try:
            other = second.new_page()
            other.set_default_timeout(30_000)
            other.goto("/ui/debtor?id=GR-D-004711")
            sign_in(other, APPROVER)
            expect(other.get_by_test_id("officer")).to_have_text(APPROVER)
            expect(other.get_by_test_id("pending")).to_contain_text(OFFICER)
            other.click("button:has-text('Approve')")
            expect(other.get_by_test_id("notice")).to_contain_text("Override 1 approved")
            expect(other.get_by_test_id("effective")).to_contain_text(
                f"After override by {OFFICER}, approved by {APPROVER}: grade "
                f"{GRADES[index - 1]}")
            _shot(other, shots_dir, "override_approved", shots)
        finally:
            second.close()
        page.reload()
        expect(page.get_by_test_id("effective")).to_contain_text(f"approved by {APPROVER}")
        memo_head = page.frame_locator("iframe[data-testid=memo]").get_by_test_id(
            "memo-override")
        expect(memo_head).to_contain_text(f"Overridden to grade {GRADES[index - 1]}")
        expect(memo_head).to_contain_text(f"approved by {APPROVER}")

        # a 3-notch upgrade: refused with the policy's message, nothing recorded
        page.select_option("#new_grade", GRADES[index - 3])
        page.fill("#reason", "The group's parent company guarantees all of the debtor's "
                             "trade payables.")
        page.click("button:has-text('Record override')")
        expect(page.get_by_test_id("override-error")).to_contain_text(
            "Upgrade of 3 notches exceeds the policy bound of 2 notches")
        expect(page.get_by_test_id("overrides").locator("tbody tr")).to_have_count(1)
        expect(page.locator("#reason")).to_have_value(
            "The group's parent company guarantees all of the debtor's trade payables.")
        _shot(page, shots_dir, "override_refused", shots)

        # two decision runs of a small book through /v1 give the portfolio its migrations
        example = json.loads(EXAMPLE_FILE.read_text())
        for run in (1, 2):
            r = httpx.post(f"{service}/v1/decisions", timeout=60,
                           json=[_book_payload(example, i, run) for i in range(24)],
                           headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 201, r.text

        # the score form with two statements (the product defaults to non-recourse)
        page.click("nav >> text=Score a debtor")
        expect(page.locator("#product")).to_have_value("non_recourse")
        for name, value in FORM_DEBTOR.items():
            page.fill(f"#{name}", value)
        for i, statement in enumerate(FORM_STATEMENTS):
            for name, value in statement.items():
                page.fill(f"#statements-{i}-{name}", value)
        page.click("button[data-testid=more-adverse]")  # a second adverse group; kept values
        expect(page.get_by_test_id("adverse-2")).to_be_visible()
        expect(page.locator("#statements-1-revenue")).to_have_value("19820000")
        page.select_option("#adverse-0-event_type", "bounced_cheque")
        page.fill("#adverse-0-event_date", "2025-03-14")
        page.fill("#adverse-0-amount", "850")
        _shot(page, shots_dir, "score_form_two_statements", shots)
        page.click("[data-testid=fields-form] button.primary")
        expect(page.get_by_test_id("score-errors")).to_have_count(0)
        expect(page.locator("h1")).to_have_text(FORM_DEBTOR["name"])
        expect(page.get_by_test_id("notice")).to_contain_text("recorded")
        kept = httpx.get(f"{service}/v1/debtors/GR-D-007007/decision", timeout=10,
                         headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert kept["debtor_id"] == "GR-D-007007" and kept["product"] == "non_recourse"

        # the search, the portfolio with a filter, the alerts and the export
        page.click("nav >> text=Debtors")
        page.fill("#q", "aegean")
        page.click("button:has-text('Search')")
        expect(page.get_by_test_id("results")).to_contain_text("GR-D-004711")
        expect(page.get_by_test_id("count")).to_contain_text("of 1")
        _shot(page, shots_dir, "search", shots)
        page.click("nav >> text=Portfolio")
        expect(page.get_by_test_id("totals")).to_contain_text("26")  # debtors
        expect(page.get_by_test_id("migration").locator("table.heat")).to_be_visible()
        page.select_option("#f-grade", grade)
        page.click("button:has-text('Filter')")
        expect(page).to_have_url(f"{service}/ui/portfolio?grade={grade}&migration=&action="
                                 "&sector=&country=&insurer=")
        rows = page.get_by_test_id("results").locator("tbody tr")
        expect(rows.first).to_be_visible()
        for k in range(rows.count()):
            expect(rows.nth(k).locator("td").nth(3)).to_have_text(grade)
        _shot(page, shots_dir, "portfolio_filtered", shots)
        page.click("nav >> text=Alerts")
        alerts = page.get_by_test_id("alerts")
        expect(alerts).to_be_visible()  # run 2's payment orders cut limits and grades
        expect(alerts).to_contain_text("effective")
        _shot(page, shots_dir, "alerts", shots)
        # run 2's payment orders are new adverse records of debtors decided in run 1
        page.select_option("#kind", "new_adverse")
        page.click("button:has-text('Show')")
        expect(page).to_have_url(f"{service}/ui/alerts?kind=new_adverse&since=&until=")
        rows = page.get_by_test_id("alerts").locator("tbody tr")
        expect(rows.first).to_contain_text("dated 2026-05-02")
        for k in range(rows.count()):
            expect(rows.nth(k)).to_contain_text("New adverse record: payment order")
        _shot(page, shots_dir, "alerts_new_adverse", shots)
        page.click("nav >> text=Portfolio")
        page.select_option("#f-grade", grade)
        page.click("button:has-text('Filter')")
        total = int(page.get_by_test_id("count").locator("strong").inner_text())
        with page.expect_download() as info:
            page.click("a[data-testid=export]")
        csv_path = shots_dir / "export_book.csv"
        info.value.save_as(str(csv_path))
        lines = csv_path.read_text().splitlines()
        assert lines[0].startswith("debtor_id,supplier_id,grade,")
        assert len(lines) == 1 + total and all(f",{grade}," in ln for ln in lines[1:])
        page.set_content("<h1>Export of the filtered book</h1><pre id=csv></pre>")
        page.locator("#csv").evaluate("(e, t) => { e.textContent = t; }", csv_path.read_text())
        _shot(page, shots_dir, "export", shots)
        page.goto("/ui/portfolio")
        page.click("nav >> text=Override report")
        expect(page.get_by_test_id("n-overrides")).to_have_text("1")
        expect(page.get_by_test_id("by-officer")).to_contain_text(OFFICER)
        _shot(page, shots_dir, "override_report", shots)

        # signing out ends the session
        page.click("button:has-text('Sign out')")
        page.goto("/ui/search")
        expect(page).to_have_url(f"{service}/ui/login?next=%2Fui%2Fsearch")
    finally:
        context.close()
    assert all(p.stat().st_size > 10_000 for p in shots)
    print(f"screenshots of every page ({len(shots)}): {shots_dir}")
