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
Screenshots are written to the test's tmp dir and their paths printed.
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


def _shot(page: Any, tmp_path: Path, name: str, shots: list[Path]) -> None:
    path = tmp_path / f"{len(shots) + 1:02d}_{name}.png"
    page.screenshot(path=str(path), full_page=True)
    shots.append(path)
    print(f"screenshot: {path}")


def test_officer_scores_overrides_and_is_refused_in_chromium(
        service: str, browser: Any, tmp_path: Path) -> None:
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
        _shot(page, tmp_path, "login", shots)
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
        _shot(page, tmp_path, "decision", shots)

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
        _shot(page, tmp_path, "override_pending", shots)

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
            _shot(other, tmp_path, "override_approved", shots)
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
        _shot(page, tmp_path, "override_refused", shots)

        # two decision runs of a small book through /v1 give the portfolio its migrations
        example = json.loads(EXAMPLE_FILE.read_text())
        for run in (1, 2):
            r = httpx.post(f"{service}/v1/decisions", timeout=60,
                           json=[_book_payload(example, i, run) for i in range(24)],
                           headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 201, r.text

        # the search, the portfolio and the override report
        page.click("nav >> text=Debtors")
        page.fill("#q", "aegean")
        page.click("button:has-text('Search')")
        expect(page.get_by_test_id("results")).to_contain_text("GR-D-004711")
        page.click("nav >> text=Portfolio")
        expect(page.get_by_test_id("totals")).to_contain_text("25")  # debtors
        expect(page.get_by_test_id("migration").locator("table.heat")).to_be_visible()
        _shot(page, tmp_path, "portfolio", shots)
        page.click("nav >> text=Override report")
        expect(page.get_by_test_id("n-overrides")).to_have_text("1")
        expect(page.get_by_test_id("by-officer")).to_contain_text(OFFICER)
        _shot(page, tmp_path, "override_report", shots)

        # signing out ends the session
        page.click("button:has-text('Sign out')")
        page.goto("/ui/search")
        expect(page).to_have_url(f"{service}/ui/login?next=%2Fui%2Fsearch")
    finally:
        context.close()
    assert all(p.stat().st_size > 10_000 for p in shots)
    print(f"screenshot of the decision page (attached): {shots[1]}")
