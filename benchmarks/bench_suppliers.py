"""The supplier's effect on a book (issue 16; prints figures, asserts nothing).

Usage::

    python benchmarks/bench_suppliers.py [--debtors 20000] [--seed 42]

Generates the demo's SYNTHETIC book (seed 42; not real data) and decides every pair with
the engine over the whole book (``Engine.decide_table``, the batch job's path) four
ways: as generated (non-recourse, suppliers not rated: they are not debtors of the book;
since the merge of main the generator writes its own supplier assessment, which moves
only the advance rates here); every pair recourse; recourse with a SYNTHETIC assessment of
every supplier (seeded, by NACE: food perishable, services, outlook, consignment and
credit-note shares); and recourse with that assessment and a SYNTHETIC rating of each
supplier drawn from the book's own debtor grades. For each it prints the pairs, the
refused share by cause (the first knock-out, else the binding constraints), the pairs
bound by the supplier, the approved total, the mean advance rate and the supplier
notes; then the seconds of the supplier book (:func:`riskengine.batch.suppliers.supplier_book`).
The assessment and the ratings are this script's inventions: the figures show what the
rule does, not what a real book would give.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def _assessed(suppliers: pd.DataFrame, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    s = suppliers.copy()
    n = len(s)
    two = s["nace"].str[:2]
    food = two.isin(["01", "03", "10", "11"]).to_numpy()
    services = (two.astype(int) >= 49).to_numpy()
    s["sector_outlook"] = pd.array(rng.choice(["positive", "stable", "negative"], n,
                                              p=[0.25, 0.6, 0.15]), dtype="str")
    s["goods_or_services"] = pd.array(np.where(services, "services", np.where(
        rng.random(n) < 0.1, "mixed", "goods")), dtype="str")
    s["perishable"] = pd.array(np.where(services, None, food & (rng.random(n) < 0.7)),
                               dtype="boolean")
    s["standardised_goods"] = pd.array(np.where(services, None, ~food & (rng.random(n) < 0.8)),
                                       dtype="boolean")
    s["consignment_share"] = np.where(rng.random(n) < 0.2, np.round(rng.random(n) * 0.3, 3), 0.0)
    s["credit_note_share"] = np.round(np.exp(rng.normal(np.log(0.025), 0.6, n)).clip(0, 1), 4)
    return s


def _cause(row: Any) -> str:
    ko = list(row["knockouts"])
    if ko:
        return "knockout " + ko[0]
    b = list(row["binding_constraints"])
    return "binding " + "+".join(b) if b else "other"


def _report(name: str, d: pd.DataFrame) -> None:
    n = len(d)
    refused = d[d["decision_type"] == "refused"]
    bound = int(d["binding_constraints"].map(lambda b: "supplier" in list(b)).sum())
    print(f"{name}: {n:,} pairs, refused {len(refused):,} ({len(refused) / n:.2%}), bound by "
          f"the supplier {bound:,}, approved {d['approved_limit'].sum():,.0f}, mean advance "
          f"{d['advance_rate'].astype(float).mean():.4f}")
    for cause, k in refused.apply(_cause, axis=1).value_counts().items():
        print(f"    {cause:42s} {k:7,d}  {k / n:6.2%} of pairs")
    notes = d["limit_notes"].map(list).explode().value_counts()
    print("    supplier notes:", {str(k): int(v) for k, v in notes.items()
                                  if str(k).startswith("supplier")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--debtors", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    from riskengine.api import load_engine
    from riskengine.batch.suppliers import supplier_book
    from riskengine.synthetic import DEFAULT_AS_OF, generate_portfolio

    frames = generate_portfolio(a.debtors, a.seed, DEFAULT_AS_OF)
    eng = load_engine()
    ex = frames["exposures"]
    recourse = pd.DataFrame({"supplier_id": ex["supplier_id"].astype("str"),
                             "debtor_id": ex["debtor_id"].astype("str"),
                             "product": "recourse", "insurer_limit": np.nan})
    assessed = {**frames, "suppliers": _assessed(frames["suppliers"], 16)}
    tick = time.perf_counter()
    book = supplier_book(Path("."), assessed, {}, eng, DEFAULT_AS_OF)
    book_s = time.perf_counter() - tick
    grades = eng.rate(frames, DEFAULT_AS_OF)
    dist = grades[grades != "NR"].value_counts(normalize=True).sort_index()
    rng = np.random.default_rng(17)
    rated = book.assign(rating=rng.choice(dist.index.to_numpy(dtype=object), len(book),
                                          p=dist.to_numpy()))
    runs = {"as generated (non-recourse)": frames,
            "recourse": {**frames, "pair_terms": recourse},
            "recourse, assessed": {**assessed, "pair_terms": recourse},
            "recourse, assessed and rated": {**assessed, "pair_terms": recourse,
                                             "supplier_book": rated}}
    for name, f in runs.items():
        tick = time.perf_counter()
        t = eng.decide_table(f, DEFAULT_AS_OF, decided_at=f"{DEFAULT_AS_OF}T00:00:00Z").table
        seconds = time.perf_counter() - tick
        _report(f"{name} ({seconds:.1f} s)", t.to_pandas())
    print(f"supplier book of {len(book):,} suppliers over {len(ex):,} pairs: {book_s:.2f} s")


if __name__ == "__main__":
    main()
