"""The decision memo (issue 7 §1): content for a golden debtor, escaping, sources.

Golden debtor: ``examples/debtor.json`` decided with the shipped engine (model,
policy, master scale and overlay in the repository). The memo must show what
the decision says: its grade, PD, approved limit, every reason code, every
statement year and the 2023 bounced cheque of the adverse register.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from riskengine.contracts.payload import payload_to_frames
from riskengine.errors import InvalidInputError
from riskengine.model.master_scale import GRADES
from riskengine.policy.overrides import apply_override
from riskengine.serve.memo.charts import sparkline_svg
from riskengine.serve.memo.context import memo_context
from riskengine.serve.memo.render import memo_from_store, render_memo
from riskengine.serve.memo.report import report_command
from riskengine.serve.memo.words import fmt_money, fmt_pd
from riskengine.store import DecisionStore

ROOT = Path(__file__).resolve().parents[1]
STAMP = "2026-06-30T12:00:00Z"


@pytest.fixture(scope="module")
def engine() -> Any:
    from riskengine.api import load_engine

    return load_engine()


@pytest.fixture(scope="module")
def payload() -> dict[str, Any]:
    out: dict[str, Any] = json.loads((ROOT / "examples" / "debtor.json").read_text())
    return out


@pytest.fixture(scope="module")
def decision(engine: Any, payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = engine.decide_one(payload, decided_at=STAMP)
    return out


@pytest.fixture(scope="module")
def html(engine: Any, payload: dict[str, Any], decision: dict[str, Any]) -> str:
    return render_memo(memo_context(engine, payload, decision, generated_at=STAMP))


def _section(html: str, title: str) -> str:
    """The HTML of one <section> by its <h2> title."""
    m = re.search(rf"<h2>{re.escape(title)}.*?</section>", html, flags=re.S)
    assert m is not None, f"section {title!r} missing"
    return m.group(0)


def test_golden_memo_shows_the_decision(html: str, decision: dict[str, Any]) -> None:
    box = _section(html, "Decision")
    assert f'<div class="g">{decision["grade"]}</div>' in box
    pd_text = f"{decision['pd'] * 100:.2f} %"  # the PD formatted by hand: 0.0211 -> "2.11 %"
    assert fmt_pd(decision["pd"]) == pd_text and f"PD {pd_text}" in box
    approved = f"{decision['approved_limit']:,.0f} EUR"  # e.g. "350,000 EUR"
    assert approved == fmt_money(decision["approved_limit"], "EUR")
    assert f"<strong>{approved}</strong>" in box
    assert f"{decision['requested_limit']:,.0f} EUR" in box
    assert "the amount the supplier asked for" in box  # binding constraint "requested"
    assert f"{decision['advance_rate'] * 100:.1f} %" in box
    assert f"{decision['insured_limit']:,.0f} EUR" in box


def test_golden_memo_lists_every_reason_code(html: str, decision: dict[str, Any]) -> None:
    why = _section(html, "Why this rating")
    assert decision["reason_codes"], "the golden debtor has reason codes"
    for rc in decision["reason_codes"]:
        assert str(escape(rc["text"])) in why
    assert "bounced cheques, payment orders or unpaid bills" in why


def test_golden_memo_ratio_table_has_every_statement_year(
        html: str, payload: dict[str, Any]) -> None:
    fin = _section(html, "Financial statements")
    years = [s["period_end"][:4] for s in payload["statements"]]
    assert years == ["2023", "2024", "2025"]
    for y in years:
        assert f">{y}<" in fin
    # revenue in thousands, from the statements: 18,450 / 19,820 / 21,160
    assert all(f">{v}<" in fin for v in ("18,450", "19,820", "21,160"))
    # current ratio 2025 = 7,910,000 / 5,190,000 = 1.52 (hand calculation)
    assert re.search(r"Current ratio</td>.*?>1\.52<", fin, flags=re.S)
    assert fin.count('class="spark"') >= 3


def test_golden_memo_adverse_timeline_and_payments(html: str) -> None:
    adv = _section(html, "Adverse records")
    row = re.search(r"<tr><td>2023-03-14</td><td>bounced cheque</td>.*?</tr>", adv, flags=re.S)
    assert row is not None, "the bounced cheque of 2023-03-14 is in the timeline"
    # 850 EUR is not above the policy's 1,000 significance threshold (seed 003)
    assert "850 EUR" in row.group(0) and "below threshold" in row.group(0)
    assert "settled 2023-04-02" in row.group(0)
    assert "mortgage pre-notation (not adverse)" in adv and "<svg" in adv
    pay = _section(html, "Payment behaviour")
    assert "<svg" in pay and "days beyond terms" in pay
    # 8 invoices issued before 2026-06-30 in examples/debtor.json
    assert re.search(r"Invoices in the look-back</td><td class=\"num\">8<", pay)


def test_golden_memo_versions_and_concentration(html: str, decision: dict[str, Any]) -> None:
    for key in ("model_version", "policy_version", "master_scale_version", "input_hash"):
        assert decision[key] in html
    conc = _section(html, "Concentration")
    assert "4,850,000 EUR" in conc  # the supplier's ledger
    assert "3.7 %" in conc  # outstanding 177,200 / ledger 4,850,000 = 3.65 %
    assert "sector percentiles need a portfolio" in _section(html, "Position in its sector")


def test_hostile_names_are_escaped(engine: Any, payload: dict[str, Any]) -> None:
    p = copy.deepcopy(payload)
    p["debtor"]["name"] = "<script>alert('x')</script> & Co"
    p["exposure"]["supplier"]["name"] = '<img src=x onerror="alert(1)">'
    d = engine.decide_one(p, decided_at=STAMP)
    out = render_memo(memo_context(engine, p, d))
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in out
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in out


def _peer(payload: dict[str, Any], debtor_id: str, nace: str, ratio: float) -> dict[str, Any]:
    p = copy.deepcopy(payload)
    p["debtor"].update(debtor_id=debtor_id, nace=nace)
    for s in p["statements"]:
        s["current_assets"] = ratio * s["current_liabilities"]
    return p


def test_sector_position_against_hand_built_peers(engine: Any, payload: dict[str, Any],
                                                  decision: dict[str, Any]) -> None:
    """Debtor's current ratio 7,910 / 5,190 = 1.524; section-G peers 1.0, 1.4, 1.6, 2.0.

    Two peers below -> percentile 2 / 4 = 50; higher is better, so better than 50 %.
    The section-C peer (NACE 10.51, ratio 0.5) is not a peer.
    """
    peers = payload_to_frames([payload] + [
        _peer(payload, f"P-{i}", "46.90", r) for i, r in enumerate((1.0, 1.4, 1.6, 2.0))]
        + [_peer(payload, "P-C", "10.51", 0.5)])
    ctx = memo_context(engine, payload, decision, peers=peers)
    sec = ctx["sector"]
    assert sec["available"] and "NACE section G" in sec["note"]
    row = next(r for r in sec["rows"] if r["label"] == "Current ratio")
    assert (row["n_peers"], row["percentile"], row["better_than"]) == (4, 50, 50)
    assert (row["value"], row["median"]) == ("1.52", "1.50")
    lev = next(r for r in sec["rows"] if r["label"] == "Liabilities / assets")
    assert lev["percentile"] == 50 and lev["better_than"] == 50  # ties: midrank
    html = render_memo(ctx)
    assert "50 % of peers" in _section(html, "Position in its sector")


def test_memo_from_store_uses_recorded_inputs_and_overrides(
        tmp_path: Path, engine: Any, payload: dict[str, Any], decision: dict[str, Any]) -> None:
    with DecisionStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        with pytest.raises(LookupError, match=r"no stored decision for debtor 'GR-D-004711'"):
            memo_from_store(engine, store, "GR-D-004711")
        store.record_decisions([decision])
        with pytest.raises(InvalidInputError, match=r"are not in the store; score the debtor"):
            memo_from_store(engine, store, "GR-D-004711")
        store.record_inputs(decision["input_hash"], payload)
        worse = GRADES[GRADES.index(decision["grade"]) + 1]  # one notch down: free
        apply_override(store, store.latest_decision("GR-D-004711"), new_grade=worse,
                       reason="Sector outlook for food wholesale deteriorated in Q2 <b>",
                       officer="officer.k")
        out = memo_from_store(engine, store, "GR-D-004711", generated_at=STAMP)
    ovr = _section(out, "Overrides")
    assert "officer.k" in ovr and f"{decision['grade']} → {worse}" in ovr and "&lt;b&gt;" in ovr
    assert "store, decision 1" in out and "decision #1" in out


def test_report_command_from_store_and_portfolio(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Any,
        payload: dict[str, Any], decision: dict[str, Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    import riskengine.api as api_module
    from riskengine.io.portfolio import write_portfolio
    from riskengine.synthetic import generate_portfolio, synthetic_manifest

    monkeypatch.setattr(api_module, "load_engine", lambda **kw: engine)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with DecisionStore(url) as store:
        store.record_decisions([decision])
        store.record_inputs(decision["input_hash"], payload)
    out = tmp_path / "memo.html"
    args = argparse.Namespace(debtor="GR-D-004711", supplier=None, portfolio=None, store=url,
                              as_of=None, out=str(out), model_dir=None, policy=None)
    assert report_command(args) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert "Aegean Food Wholesale S.A." in out.read_text()

    frames = generate_portfolio(60, 3, "2026-06-30")
    write_portfolio(frames, tmp_path / "book", manifest=synthetic_manifest(60, 3, "2026-06-30"))
    debtor = str(frames["exposures"]["debtor_id"].iloc[0])
    args.portfolio, args.store, args.debtor = str(tmp_path / "book"), None, debtor
    assert report_command(args) == 0
    text = out.read_text()
    assert debtor in text and "(SYNTHETIC)" in text and "Position in its sector" in text
    args.debtor = "NO-SUCH"
    with pytest.raises(InvalidInputError, match=r"debtor 'NO-SUCH' is not in the portfolio"):
        report_command(args)
    # issue 13 point 3: not after the extract date (2026-06-30), and only ISO dates
    args.debtor, args.as_of = debtor, "2026-09-30"
    out.unlink()
    with pytest.raises(InvalidInputError, match=r"--as-of 2026-09-30 is after the "
                       r"portfolio's extract date 2026-06-30"):
        report_command(args)
    args.as_of = "30/09/2026"
    with pytest.raises(InvalidInputError, match=r"--as-of '30/09/2026' is not a date"):
        report_command(args)
    assert not out.exists()


def test_sparkline_breaks_on_missing_values() -> None:
    svg = sparkline_svg([1.0, 2.0, None, 3.0, 4.0])
    assert svg.count("<polyline") == 2
    assert sparkline_svg([1.0]).count("<polyline") == 0


def test_stored_inputs_reproduce_the_decision(engine: Any, payload: dict[str, Any],
                                              decision: dict[str, Any]) -> None:
    """Traceability: the payload kept under a decision's input hash decides the same again."""
    from riskengine.contracts.payload import parse_payload

    with DecisionStore("sqlite://") as store:
        store.record_inputs(decision["input_hash"], parse_payload(payload).model_dump(mode="json"))
        again = engine.decide_one(store.inputs_for(decision["input_hash"]), decided_at=STAMP)
    assert again == decision


def test_report_default_name_is_a_sanitised_file_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    import riskengine.api as api_module
    import riskengine.serve.memo.report as memo_report
    from riskengine.cli import main

    monkeypatch.setattr(api_module, "load_engine", lambda **kw: engine)
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("RISKENGINE_STORE_URL", raising=False)
    # no store: one line, exit 2, and no riskengine.db appears
    assert main(["report", "--debtor", "a/../../x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "No decision store at" in err and "riskengine.db" in err
    assert not list(cwd.iterdir())
    url = f"sqlite:///{tmp_path / 'r.db'}"
    DecisionStore(url).close()
    monkeypatch.setattr(memo_report, "memo_from_store", lambda *a, **kw: "<html>memo</html>")
    assert main(["report", "--debtor", "a/../../x", "--store", url]) == 0
    assert capsys.readouterr().out.strip() == "memo-a_.._.._x.html"
    assert [p.name for p in cwd.iterdir()] == ["memo-a_.._.._x.html"]
    assert not (tmp_path / "x.html").exists() and not (cwd / "memo-a").exists()


def test_the_memo_header_names_the_override_in_force_and_its_approver() -> None:
    """Issue 18 point 2: the memo header shows the overridden grade and who approved it;
    a pending or rejected override is not in force."""
    from riskengine.serve.memo.context import _override_in_force

    d = {"decision_id": 7, "grade": "6", "currency": "EUR"}
    base = {"decision_id": 7, "new_grade": "5", "new_limit": 400_000.0, "officer": "maria.p",
            "currency": "EUR", "terms": {"advance_rate": 0.84, "insured_limit": 400_000.0}}
    assert _override_in_force([{**base, "id": 1, "status": "pending"}], d) is None
    assert _override_in_force([{**base, "id": 1, "status": "rejected"}], d) is None
    got = _override_in_force([{**base, "id": 1, "status": "approved", "approver": "ana.k"},
                              {**base, "id": 2, "status": "pending", "new_grade": "4"}], d)
    assert got is not None
    assert (got["grade"], got["officer"], got["approver"], got["advance"]) == (
        "5", "maria.p", "ana.k", 0.84)
    assert got["limit"] == "400,000 EUR"


# --- issue 18: reasons both ways, a cut flagged, a refused pair, words for officers -------------


def test_the_memo_says_what_raises_and_what_lowers_the_pd(
        engine: Any, payload: dict[str, Any], decision: dict[str, Any], html: str) -> None:
    """The lowering reasons are the ratios whose reference substitution lowers the model's
    score (negative contribution); the golden debtor has some (its EBITDA to liabilities
    0.1866 is above the typical value)."""
    from riskengine.features.statements import statement_features
    from riskengine.model.explain import contributions

    ctx = memo_context(engine, payload, decision)
    lower = ctx["reasons_lower"]
    assert 1 <= len(lower) <= 3
    frames = payload_to_frames([payload])
    own = statement_features(frames["statements"], decision["as_of"])
    names = [str(n) for n in engine.pd_model.feature_names_in_]
    _, logit, _ = contributions(engine.pd_model, own.loc[[payload["debtor"]["debtor_id"]], names])
    for r in lower:
        assert logit[0, names.index(r["feature"])] < 0
    assert {r["feature"] for r in lower}.isdisjoint(
        rc["feature"] for rc in decision["reason_codes"])
    why = _section(html, "Why this rating")
    assert "What raises the PD" in why and "What lowers the PD" in why
    assert "ebitda to liabilities higher than typical (0.1866)" in why


def test_a_cut_against_the_limit_in_force_is_flagged(engine: Any, payload: dict[str, Any],
                                                      decision: dict[str, Any]) -> None:
    assert 'data-testid="memo-decrease"' not in render_memo(
        memo_context(engine, payload, decision))  # 350,000 granted over 250,000 in force
    cut = {**decision, "approved_limit": 100_000.0, "current_limit": 250_000.0}
    html = render_memo(memo_context(engine, payload, cut))
    # 250,000 - 100,000 = 150,000, 60.0 % of the limit in force
    assert ("Decrease: the approved limit 100,000 EUR is 150,000 EUR (60.0 %) below the "
            "limit in force, 250,000 EUR.") in html


def test_a_refused_pair_shows_no_advance_and_no_fees(engine: Any, payload: dict[str, Any],
                                                     decision: dict[str, Any]) -> None:
    refused = {**decision, "decision_type": "refused", "approved_limit": 0.0}
    box = _section(render_memo(memo_context(engine, payload, refused)), "Decision")
    assert "none: no limit is granted on this pair" in box
    assert "Advance rate" not in box and "of invoice" not in box
    full = _section(render_memo(memo_context(engine, payload, decision)), "Decision")
    assert "Advance rate" in full and "of invoice" in full


def test_the_memo_has_no_internal_words_or_commands(html: str) -> None:
    text = re.sub(r"<[^>]+>", " ", html.split("<body>", 1)[1])
    for word in ("overlay", "riskengine", "--portfolio", "seed", "st_", "adv_", "NaN",
                 "payload", ".parquet"):
        assert word not in text, word
