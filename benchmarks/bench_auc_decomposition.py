"""Where the book-trained PD loses AUC to the generator's truth (issue 17; prints, asserts
nothing).

Usage::

    python benchmarks/bench_auc_decomposition.py --train BOOK --model MODEL_DIR --eval BOOK
    python benchmarks/bench_auc_decomposition.py --debtors 20000     # makes books 42 and 7

``BOOK`` are SYNTHETIC histories written by ``riskengine demo-data --years Y`` (with their
``truth/true_pd.parquet``); ``MODEL_DIR`` the directory ``riskengine train --portfolio``
wrote (made from ``--train`` when absent). The evaluation book is read point in time at
its last eligible year-end ``t`` (the bench's date), as ``bench_book_training.py`` does.

The truth's log odds (``riskengine.synthetic.history``, docstring 3) is the sum of
families, each recomputed here from the evaluation book's own records at ``t``
(:func:`riskengine.synthetic.history.truth_terms`, the generator's own function):

- ``statement``: ``2.5 lev - 5 margin - 1.0 growth + 0.3 no_accounts``;
- ``adverse``: ``0.8 log1p(recency-weighted count)``;
- ``payment``: ``0.6 log1p(mean days beyond terms)``;
- ``cycle``: ``0.3 c[sector, year]``, and ``firm``: ``f_i`` (recorded nowhere). The two
  are the residual ``logit(truth) - recorded``; the cycle is the residual's mean over
  the sector's debtors (a sector holds thousands: the firm effects average out), the
  firm effect what is left.

Printed: the AUC of each family alone and of the truth without it; the engine's
components (its statement component: the PD model or the basis prior; the overlay);
and hybrids that swap one engine component for the truth's family, so that each
difference to the recorded truth is the AUC that component loses.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _book(out: Path, n: int, seed: int, years: int) -> None:
    from riskengine.cli import main

    if not (out / "manifest.json").exists():
        main(["demo-data", "--debtors", str(n), "--seed", str(seed), "--years", str(years),
              "--out", str(out)])


def _evidence_of(clean: dict[str, pd.DataFrame], raw: dict[str, pd.DataFrame],
                 ids: pd.Index) -> Any:
    """The generator's evidence arrays rebuilt from a book's tables (debtor codes =
    positions in ``ids``)."""
    from riskengine.contracts.schemas import ADVERSE_SEVERITY_TIER
    from riskengine.synthetic.history import _Evidence

    def days(s: pd.Series) -> np.ndarray:
        v = s.to_numpy(dtype="datetime64[D]")
        out = v.astype(np.int64)
        out[np.isnat(v)] = np.iinfo(np.int64).max // 4
        return out

    st = raw["statements"].copy()
    st["_o"] = ids.get_indexer(st["debtor_id"].astype(str))
    st["_d"] = days(st["period_end"])
    st = st[st["_o"] >= 0].sort_values(["_o", "_d"], kind="stable")
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = (st["total_liabilities"] / st["total_assets"]).to_numpy(dtype=float)
        margin = (st["ebitda"] / st["revenue"]).to_numpy(dtype=float)
        log_rev = np.log(st["revenue"].to_numpy(dtype=float))
    adv = raw["adverse_records"]
    tier = adv["event_type"].astype(str).map(ADVERSE_SEVERITY_TIER).to_numpy(dtype=float)
    adv = adv[(tier >= 1) & (ids.get_indexer(adv["debtor_id"].astype(str)) >= 0)]
    inv = raw["invoices"]
    inv = inv[ids.get_indexer(inv["debtor_id"].astype(str)) >= 0]
    return _Evidence(
        st["_o"].to_numpy(np.int64), st["_d"].to_numpy(np.int64), lev, margin, log_rev,
        ids.get_indexer(adv["debtor_id"].astype(str)).astype(np.int64),
        days(adv["event_date"]),
        ids.get_indexer(inv["debtor_id"].astype(str)).astype(np.int64),
        days(inv["due_date"]), days(inv["issue_date"]), days(inv["paid_date"]))


def _sector_of(debtors: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    from riskengine.synthetic.calibration import _NACE

    code = {c: k for k, cs in enumerate(_NACE.values()) for c in cs}
    nace = debtors.set_index(debtors["debtor_id"].astype(str))["nace"].astype(str)
    return nace.reindex(ids).map(code).to_numpy(dtype=np.int64)


def decompose(book: Path, model_dir: Path) -> dict[str, Any]:
    """The truth's families and the engine's components on one book's last eligible
    year-end; returns the printed figures."""
    from bench_book_training import book_at_last_date

    from riskengine.api import load_engine
    from riskengine.model import metrics as mt
    from riskengine.model.calibration import logit
    from riskengine.modeldev.snapshots import book_snapshots
    from riskengine.scoring.core import _ratings
    from riskengine.synthetic.history import _A, truth_terms

    frames, clean, outcomes, t = book_at_last_date(book)
    engine = load_engine(model_dir)
    (snap,) = book_snapshots(engine, clean, outcomes, [t])
    deb = snap.inputs
    ids = pd.Index(deb.debtor_id.astype(str))
    truth = pd.read_parquet(book / "truth" / "true_pd.parquet")
    truth = truth[pd.to_datetime(truth["as_of"]) == pd.Timestamp(t)]
    tp = truth.set_index(truth["debtor_id"].astype(str))["pd_12m"].reindex(ids).to_numpy(float)
    have = np.isfinite(tp)

    day = int(np.datetime64(t, "D").astype(np.int64))
    terms = truth_terms(_evidence_of(clean, frames, ids), len(ids), day)
    recorded = sum(terms.values())
    resid = logit(np.clip(tp, 1e-12, 1 - 1e-12)) - recorded
    sector = _sector_of(clean["debtors"], ids)
    s_mean = np.zeros(len(ids))
    s_mean[have] = pd.Series(resid[have]).groupby(sector[have]).transform("mean").to_numpy()
    cycle = np.where(have, s_mean - s_mean[have].mean(), 0.0)  # the intercept is not the cycle
    firm = np.where(have, resid - s_mean, 0.0)
    fam = {"statement": terms["statement"], "adverse": terms["adverse"],
           "payment": terms["payment"], "cycle": cycle, "firm": firm}

    out = _ratings(engine, deb, engine._scorer)
    pd_model, contrib = np.asarray(out[0], float), np.asarray(out[2], float)
    eng_stmt = logit(pd_model)
    eng_ov = contrib.sum(axis=1)
    y = snap.label.astype(int)[have]

    def auc(score: np.ndarray, rows: np.ndarray | None = None) -> float:
        s, yy = score[have], y
        if rows is not None:
            s, yy = s[rows[have]], yy[rows[have]]
        return float(mt.auc(yy, s)) if 0 < yy.sum() < yy.size else float("nan")

    full = recorded + cycle + firm
    obs = recorded
    res: dict[str, Any] = {"as_of": t, "rows": int(have.sum()), "defaults": int(y.sum()),
                           "resid_sd_firm": float(firm[have].std()),
                           "cycle_sd": float(cycle[have].std())}
    res["truth"] = {"full (file)": auc(tp), "full (rebuilt)": auc(full),
                    "recorded (no cycle, no firm)": auc(obs),
                    "recorded + cycle": auc(obs + cycle)}
    res["alone"] = {k: auc(v) for k, v in fam.items()}
    res["without"] = {k: auc(full - v) for k, v in fam.items()}
    basis = deb.basis
    tax_stmt = (basis != 0) & (terms["statement"] != 0.3)
    # a swapped family enters at the truth's level (its intercept _A): the engine's
    # components are log odds of a PD, the truth's families terms without intercept
    t_stmt = fam["statement"] + _A
    res["engine"] = {
        "engine (statement + overlay)": auc(eng_stmt + eng_ov),
        "statement component alone": auc(eng_stmt),
        "overlay alone": auc(eng_ov),
        "truth statement + engine overlay": auc(fam["statement"] + eng_ov),
        "engine statement + truth adverse + payment": auc(eng_stmt + terms["adverse"]
                                                          + terms["payment"]),
        "engine, tax-return rows' statement part from the truth":
            auc(np.where(basis == 1, t_stmt, eng_stmt) + eng_ov),
        "engine, statement rows' statement part from the truth":
            auc(np.where(basis == 0, t_stmt, eng_stmt) + eng_ov),
        "engine + truth cycle": auc(eng_stmt + eng_ov + cycle),
    }
    res["basis"] = {}
    for b, name in enumerate(("statements", "tax_return", "no_financials")):
        rows = basis == b
        res["basis"][name] = {
            "rows": int((rows & have).sum()), "defaults": int(y[rows[have]].sum()),
            "truth": auc(tp, rows), "recorded": auc(obs, rows),
            "engine": auc(eng_stmt + eng_ov, rows),
            "truth stmt family alone": auc(fam["statement"], rows),
            "engine stmt comp alone": auc(eng_stmt, rows),
            "overlay alone": auc(eng_ov, rows),
            "truth adverse+payment": auc(terms["adverse"] + terms["payment"], rows)}
    res["tax_return_with_income"] = int((tax_stmt & have).sum())
    return res


def _print(r: dict[str, Any]) -> None:
    print(f"evaluation book at {r['as_of']}: {r['rows']:,} debtors, {r['defaults']:,} "
          f"defaults; sd of the cycle term {r['cycle_sd']:.3f}, of the firm effect "
          f"{r['resid_sd_firm']:.3f}")
    for k, v in r["truth"].items():
        print(f"  truth {k:44s} AUC {v:.4f}")
    print("  family              alone   truth without it")
    for k in r["alone"]:
        print(f"  {k:16s}   {r['alone'][k]:.4f}   {r['without'][k]:.4f}")
    for k, v in r["engine"].items():
        print(f"  {k:56s} AUC {v:.4f}")
    for b, d in r["basis"].items():
        print(f"  basis {b:13s} " + ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v:,}" for k, v in d.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, default=None)
    ap.add_argument("--eval", type=Path, default=None)
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--debtors", type=int, default=20_000)
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--eval-seed", type=int, default=7)
    a = ap.parse_args()
    from riskengine.modeldev.book_training import train_on_book

    with tempfile.TemporaryDirectory(prefix="bench-auc-") as tmp:
        root = Path(tmp)
        train = a.train or root / "book42"
        ev = a.eval or root / f"book{a.eval_seed}"
        model = a.model or root / "model42"
        if a.train is None:
            _book(train, a.debtors, 42, a.years)
        if a.eval is None:
            _book(ev, a.debtors, a.eval_seed, a.years)
        if not (model / "pd_model.skops").exists():
            train_on_book(train, model, log_run=False, n_boot=50)
        _print(decompose(ev, model))


if __name__ == "__main__":
    main()
