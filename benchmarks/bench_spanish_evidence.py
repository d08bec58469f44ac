"""Odds factors of adverse evidence on the Spanish data (issue 17 point 3; prints, asserts nothing).

Run: ``.venv/bin/python benchmarks/bench_spanish_evidence.py [--n-boot 1000]``

Prints, on ``../shared/data/spanish/Bankruptcy_Spain_98-03.arff`` (real data, read in
place):

- the figures of ``riskengine evidence --spanish`` (fit 1998-2002, test 2003): each
  estimate with its Wald 95 % CI, n_obs, n_events, the overlay term it informs with the
  committee weight in force, and the out-of-time AUCs of the evidence and ratios-only
  models with bootstrap CIs; and the wall time of the fit;
- the same with the cut at 2002 (fit 1998-2001, 16 failures; test 2002-2003), the
  sensitivity of the estimates to the split;
- a check by hand of the largest estimate: the crude odds ratio of "any judicial
  incidence" in the fit years (2x2 table, Woolf 95 % CI), without controls.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from riskengine.api import load_overlay
from riskengine.io.datasets import load_spanish
from riskengine.modeldev.spanish import TEST_FROM, format_evidence, spanish_evidence


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-boot", type=int, default=1000)
    a = ap.parse_args()
    X, y = load_spanish()
    weights = {t.feature: t.weight for t in load_overlay().terms}
    for cut in (TEST_FROM, TEST_FROM - 1):
        t = time.perf_counter()
        res = spanish_evidence(X, y, test_from=cut, n_boot=a.n_boot)
        wall = time.perf_counter() - t
        print(f"=== test from {cut} ===")
        print(format_evidence(res, weights))
        print(f"fits and {a.n_boot} bootstrap draws: {wall:.2f} s\n")

    fit = X["YEAR"].to_numpy() < TEST_FROM
    any_ji = X["NUMBER_JUDICIAL_INCIDENCES_TOTAL"].to_numpy()[fit] > 0
    yy = y.to_numpy()[fit]
    a1, b1 = int((any_ji & (yy == 1)).sum()), int((any_ji & (yy == 0)).sum())
    c1, d1 = int((~any_ji & (yy == 1)).sum()), int((~any_ji & (yy == 0)).sum())
    lor = math.log(a1 * d1 / (b1 * c1))
    se = math.sqrt(1 / a1 + 1 / b1 + 1 / c1 + 1 / d1)
    print(f"crude, fit years < {TEST_FROM}: any judicial incidence {a1} failures / {b1} "
          f"survivors, none {c1} / {d1}: odds ratio {math.exp(lor):.1f} "
          f"[{math.exp(lor - 1.96 * se):.1f}, {math.exp(lor + 1.96 * se):.1f}] (Woolf); "
          f"failure rate {a1 / (a1 + b1):.1%} vs {c1 / (c1 + d1):.2%}")
    print(f"share of firm-years with a judicial incidence: {np.mean(any_ji):.1%} (fit years)")


if __name__ == "__main__":
    main()
