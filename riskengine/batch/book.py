"""The book's caps in a rerate run: connected groups, sectors and countries over every
chunk at once (shell: reads and writes the run's parts).

The chunks decide each debtor alone (its capacity shared among its suppliers, in the
core). A group's members, a sector or a country span chunks, so their caps wait for
the whole book: once every chunk is checkpointed, :func:`apply_book_caps` reads the
pair rows' summaries, shares each cap by :func:`riskengine.policy.book.book_caps`
(approved outstanding first, then pro rata), and writes each chunk's Parquet part
from its checkpointed decisions (Arrow IPC), the pairs it cut rewritten
(:func:`finish_parts`). The checkpoints stay as the chunks wrote them, so a run
resumed after a crash computes the same caps from the same parts (the pass is a
function of the checkpoints, never of its own output).

The caps add amounts up, so they work in the reporting currency (the policy's ``[book]
currency``): each pair's ``approved_limit_base`` (its limit times its ``fx_rate``, the
rate in force on the run's date); a pair's cut amount is converted back into its own
currency and rounded down there. A pair without a rate (a decision of an engine that
gives none) in another currency than the book's stays out of the totals and keeps its
decision, with the note ``book_currency_mismatch``.

A pair cut by a cap gets the cap as its binding constraint, a new decision type and
new cover figures, through the policy's own functions
(:func:`riskengine.policy.cover.insurance_cover` with the pair's earlier covered part as
what can be covered, at the pair's cover percentage: the cover of a smaller limit is
never more).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from riskengine.batch.checkpoints import _decisions_writer_options, read_arrow, write_decisions
from riskengine.contracts.arrowtext import large_text, strictly_increasing
from riskengine.errors import RerateError
from riskengine.policy.book import BOOK_CAPS, book_caps, book_sector, caps_on
from riskengine.policy.cover import insurance_cover
from riskengine.policy.credit_policy import CreditPolicy

__all__ = ["BookPass", "apply_book_caps", "book_invariants", "finish_parts"]

_EPS = 1e-9
#: Decision columns a cap rewrites.
_REWRITTEN = ("approved_limit", "decision_type", "binding_constraints", "insured_limit",
              "insured_amount", "retained_exposure", "expected_loss", "expected_loss_uninsured",
              "limit_before_insurer", "approved_limit_base")
#: Rates set to 0 on a pair a cap refuses: no advance, no fees (as the engine prices a
#: refused pair, riskengine.policy.pricing).
_UNFINANCED = ("advance_rate", "service_commission_rate", "discount_rate")


@dataclass
class BookPass:
    """What the book's caps did: the parts to publish (chunk order; being written on
    threads, :attr:`parts` waits for them), the pair summaries after the caps, and the
    figures of the run summary."""

    writing: list[Future[Path]]
    pairs: pd.DataFrame
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def parts(self) -> list[Path]:
        """The parts, once written (an error of a writer is raised here)."""
        return [f.result() for f in self.writing]


def _keys(pairs: pd.DataFrame, debtors: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """Codes of each pair's group (a debtor without one is a group of its own), NACE
    section and country, from the debtors table."""
    # codes in order of first appearance (as pandas.factorize numbers them), by Arrow's
    # dictionary encoding: no Python string per row
    ids = large_text(pairs["debtor_id"])
    if ids.null_count:
        dcodes = pd.factorize(pairs["debtor_id"].astype(str))[0]
    else:
        dcodes = np.asarray(pc.dictionary_encode(ids).indices, dtype=np.int64)
    group = large_text(pairs["group_id"])
    blank = pc.or_(pc.equal(pc.binary_length(group), 0), pc.utf8_is_space(group))
    group = pc.if_else(blank, pa.scalar(None, pa.large_string()), group)  # no group
    genc = pc.dictionary_encode(group)
    gcodes = np.asarray(genc.indices.fill_null(-1), dtype=np.int64)
    out = {"group": np.where(gcodes >= 0, gcodes, len(genc.dictionary) + dcodes
                             ).astype(np.int64)}
    sector, country = sectors_and_countries(pairs, debtors)
    for name, values in (("sector", sector), ("country", country)):
        out[name] = pd.factorize(values)[0].astype(np.int64)
    return out


def sectors_and_countries(pairs: pd.DataFrame, debtors: pd.DataFrame | None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """Each pair's sector (its debtor's NACE section, :func:`book_sector`) and country,
    from the debtors table ("" for a debtor it does not hold)."""
    ids = pairs["debtor_id"].astype(str)
    sector = np.full(len(pairs), "", dtype=object)
    country = np.full(len(pairs), "", dtype=object)
    if debtors is not None and len(debtors) and "debtor_id" in debtors.columns:
        d = debtors if strictly_increasing(large_text(debtors["debtor_id"])) else \
            debtors.drop_duplicates("debtor_id")
        # each pair's debtor row: one Arrow hash lookup
        pos = np.asarray(pc.index_in(large_text(ids), value_set=large_text(
            d["debtor_id"].astype(str))).fill_null(-1), dtype=np.int64)
        known = pos >= 0
        if "nace" in d.columns:
            nace = d["nace"].astype(str)
            codes, uniq = pd.factorize(nace)
            sec = np.array([book_sector(u) for u in uniq], dtype=object)[codes]
            sector[known] = sec[pos[known]]
        if "country" in d.columns:
            country[known] = d["country"].astype(str).to_numpy(dtype=object)[pos[known]]
    return sector, country


def _rates(pairs: pd.DataFrame, currency: str) -> np.ndarray:
    """Units of the book's currency per one unit of each pair's currency: the decision's
    ``fx_rate``; without one, 1 in the book's currency and NaN in another."""
    same = pairs["currency"].astype(str).to_numpy() == currency
    given = pairs["fx_rate"].to_numpy(dtype=np.float64, na_value=np.nan) \
        if "fx_rate" in pairs.columns else np.full(len(pairs), np.nan)
    out: np.ndarray = np.where(np.isnan(given), np.where(same, 1.0, np.nan), given)
    return out


def _foreign(pairs: pd.DataFrame, rate: np.ndarray) -> np.ndarray:
    """Pairs with a limit and no rate into the book's currency: the caps add amounts
    up, so they stay out of the book's totals and keep their own decision, with the
    note ``book_currency_mismatch``."""
    live = pairs["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0) > 0
    out: np.ndarray = live & np.isnan(rate)
    return out


def apply_book_caps(pairs: pd.DataFrame, counts: Sequence[int], parts: Sequence[Path],
                    debtors: pd.DataFrame | None, policy: CreditPolicy,
                    rest: pd.DataFrame | None = None) -> BookPass:
    """Cap the book's groups, sectors and countries (module docstring).

    Parameters
    ----------
    pairs : pandas.DataFrame
        The pair rows' summaries of every chunk, in chunk order
        (:data:`riskengine.batch.checkpoints._PAIR_SUMMARY`).
    counts : sequence of int
        Pair rows per chunk (their rows of ``pairs``, in order).
    parts : sequence of Path
        Each chunk's checkpointed decisions (Arrow IPC; not modified).
    debtors : pandas.DataFrame or None
        The debtors table (``nace``, ``country``).
    policy : CreditPolicy
    rest : pandas.DataFrame, optional
        The rest of the book in a partial run (``--debtors``, ``--changed-since``): the
        previous run's pair rows of the debtors not re-rated (``debtor_id``,
        ``supplier_id``, ``approved_limit``, ``currency``, ``group_id``, and
        ``approved_limit_base`` when it has it). They keep their limits and count in the
        totals (in the book's currency); only the run's pairs are cut.

    Returns
    -------
    BookPass
        With the chunks' Parquet parts (:func:`finish_parts`).
    """
    book = policy.book
    parts = list(parts)
    off = not caps_on(book)
    figures: dict[str, Any] = {"book_currency": book.currency,
                               "factor_capital": book.factor_capital}
    if off or not len(pairs):
        figures.update({f"pairs_cut_{c}": 0 for c in BOOK_CAPS})
        return BookPass(finish_parts(parts), pairs, figures)
    rate = _rates(pairs, book.currency)
    foreign = _foreign(pairs, rate)
    ok = np.where(np.isnan(rate), 1.0, rate)
    before = pairs["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    caps = _caps(pairs, np.where(foreign, 0.0, before * ok), ok, debtors, rest, book)
    unit = policy.limits.rounding_unit
    cut = np.zeros(len(pairs), dtype=bool)
    for name in BOOK_CAPS:
        cut |= caps.bound[name]
    back = np.where(ok == 1.0, caps.approved, caps.approved / ok)  # the pair's currency
    after = np.where(cut, np.floor(back / unit + _EPS) * unit, before)
    figures.update({f"pairs_cut_{c}": int(caps.bound[c].sum()) for c in BOOK_CAPS})
    figures.update({f"{c}_amount": v for c, v in caps.caps.items()})
    figures["pairs_outside_book_currency"] = int(foreign.sum())
    if not (cut | foreign).any():
        return BookPass(finish_parts(parts), pairs, figures)
    new = _rewritten(pairs, after, cut, caps.bound, policy)
    base = pairs["approved_limit_base"].to_numpy(dtype=np.float64, na_value=np.nan) \
        if "approved_limit_base" in pairs.columns else before * rate
    new["approved_limit_base"] = np.where(cut, after * ok, base)
    new["_note"] = foreign
    out = pairs.copy()
    for col in ("approved_limit", "decision_type", "insured_limit", "insured_amount",
                "retained_exposure", "expected_loss", "limit_before_insurer",
                "approved_limit_base"):
        out[col] = new[col]
    if "advance_rate" in out.columns:  # the register's terms: nothing advanced on a refusal
        out["advance_rate"] = np.where(cut & (after <= 0), 0.0,
                                       out["advance_rate"].to_numpy(dtype=np.float64,
                                                                    na_value=np.nan))
    bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    touched = cut | foreign
    changes: list[Mapping[str, Any] | None] = [
        {c: v[bounds[k]:bounds[k + 1]] for c, v in new.items()}
        if touched[bounds[k]:bounds[k + 1]].any() else None for k in range(len(parts))]
    return BookPass(finish_parts(parts, changes), out, figures)


def finish_parts(parts: Sequence[Path],
                 changes: Sequence[Mapping[str, Any] | None] | None = None
                 ) -> list[Future[Path]]:
    """Each chunk's Parquet part (:func:`riskengine.batch.checkpoints.write_decisions`)
    from its checkpointed decisions (Arrow IPC), beside it: as the chunk decided it, or
    with the cut pairs of ``changes[k]`` rewritten (:func:`_rewrite_part`). The parts
    are written on threads (Arrow's Parquet writer releases the interpreter lock), each
    alone, so their bytes do not depend on the threads; the caller goes on meanwhile
    (the run's other outputs) and takes each part's path from its future."""
    todo = list(range(len(parts)))
    if not todo:
        return []
    change = list(changes) if changes is not None else [None] * len(parts)

    def finish(k: int) -> Path:
        c = change[k]
        if c is not None:
            return _rewrite_part(parts[k], c)
        dest = parts[k].with_name(parts[k].name.replace(".decisions.arrow",
                                                        ".decisions.parquet"))
        write_decisions(read_arrow(parts[k]), dest)
        return dest

    pool = ThreadPoolExecutor(max(1, min(len(todo), os.cpu_count() or 1)),
                              thread_name_prefix="rerate-book")
    try:
        return [pool.submit(finish, k) for k in todo]
    finally:
        pool.shutdown(wait=False)  # its threads finish the parts submitted


def _caps(pairs: pd.DataFrame, amount: np.ndarray, rate: np.ndarray,
          debtors: pd.DataFrame | None, rest: pd.DataFrame | None, book: Any) -> Any:
    """:func:`riskengine.policy.book.book_caps` on the run's pairs (``amount`` and their
    approved outstanding in the book's currency: ``rate``), with the rest of the book as
    fixed rows after them (the result: the run's rows only)."""
    n = len(pairs)
    frame = pairs[["debtor_id", "group_id"]]
    protected = pairs["approved_outstanding"].to_numpy(dtype=np.float64, na_value=0.0) * rate
    fixed = np.zeros(n, dtype=bool)
    if rest is not None and len(rest):
        r = rest.assign(group_id=rest["group_id"] if "group_id" in rest.columns else None)
        limit = r["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0)
        in_book = (r["currency"].astype(str) == book.currency).to_numpy() if \
            "currency" in r.columns else np.ones(len(r), dtype=bool)
        base = r["approved_limit_base"].to_numpy(dtype=np.float64, na_value=np.nan) if \
            "approved_limit_base" in r.columns else np.full(len(r), np.nan)
        base = np.where(np.isnan(base), np.where(in_book, limit, np.nan), base)
        keep = ~np.isnan(base)  # a row of an older run in another currency: no rate
        r = r[keep]
        frame = pd.concat([frame, r[["debtor_id", "group_id"]]], ignore_index=True)
        amount = np.concatenate([amount, base[keep]])
        protected = np.concatenate([protected, np.zeros(len(r))])
        fixed = np.concatenate([fixed, np.ones(len(r), dtype=bool)])
    caps = book_caps({"approved": amount, "protected": protected, "fixed": fixed,
                      **_keys(frame, debtors)}, book)
    return type(caps)(caps.approved[:n], {k: v[:n] for k, v in caps.bound.items()}, caps.caps)


def _rewritten(pairs: pd.DataFrame, after: np.ndarray, cut: np.ndarray,
               bound: Mapping[str, np.ndarray], policy: CreditPolicy) -> dict[str, Any]:
    """The rewritten columns of every pair (unchanged where not cut)."""
    n = len(pairs)
    idx = np.flatnonzero(cut)
    insured = pairs["insured_limit"].to_numpy(dtype=np.float64, na_value=0.0).copy()
    amount = pairs["insured_amount"].to_numpy(dtype=np.float64, na_value=0.0).copy() \
        if "insured_amount" in pairs.columns else np.zeros(n)
    pct = np.divide(amount, insured, out=np.zeros(n), where=insured > 0)
    retained = pairs["retained_exposure"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    el = pairs["expected_loss"].to_numpy(dtype=np.float64, na_value=np.nan).copy()
    el_un = np.full(n, np.nan)
    cov = insurance_cover(pairs["grade"].to_numpy(dtype=object)[idx], after[idx],
                          pairs["pd"].to_numpy(dtype=np.float64)[idx], policy,
                          covered=insured[idx], cover_pct=np.minimum(pct[idx], 1.0),
                          product=pairs["product"].to_numpy(dtype=object)[idx])
    insured[idx], retained[idx] = cov.insured_limit, cov.retained
    amount[idx] = cov.insured_amount
    el[idx], el_un[idx] = cov.expected_loss_insured, cov.expected_loss_uninsured
    unit = policy.limits.rounding_unit
    req = pairs["requested_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    full = np.floor(req / unit + _EPS) * unit
    decision = pairs["decision_type"].to_numpy(dtype=object).copy()
    decision[idx] = np.where(after[idx] <= 0, "refused",
                             np.where(after[idx] >= full[idx], "full", "partial"))
    binding = np.empty(n, dtype=object)  # read at the cut rows only
    # each cut pair's caps as a bit mask (cap j: bit j); its list, one per mask
    mask = np.zeros(idx.size, dtype=np.int64)
    for j, c in enumerate(BOOK_CAPS):
        mask |= bound[c][idx].astype(np.int64) << j
    lists = np.empty(1 << len(BOOK_CAPS), dtype=object)
    for m in range(lists.size):
        lists[m] = [c for j, c in enumerate(BOOK_CAPS) if m >> j & 1]
    binding[idx] = lists[mask]
    return {"approved_limit": after, "decision_type": decision, "binding_constraints": binding,
            # what the book allows is what to ask the insurer for (the cap binds first)
            "limit_before_insurer": np.where(cut, after, pairs["limit_before_insurer"].to_numpy(
                dtype=np.float64, na_value=np.nan) if "limit_before_insurer" in pairs.columns
                else after),
            "insured_limit": insured, "insured_amount": amount,
            "retained_exposure": retained, "expected_loss": el,
            "expected_loss_uninsured": el_un, "_cut": cut}


def _replaced(column: Any, rows: np.ndarray, values: np.ndarray, kind: Any) -> Any:
    """``column`` with ``values`` at ``rows`` (any Arrow type: one take over the column
    followed by the new values)."""
    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    index = np.arange(len(col), dtype=np.int64)
    index[rows] = len(col) + np.arange(rows.size, dtype=np.int64)
    new = pa.array(list(values) if values.dtype == object else values, kind,
                   from_pandas=True)  # NaN -> null, as the engine writes
    return pa.concat_arrays([col, new]).take(pa.array(index))


@functools.cache
def _parquet_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` as Arrow reads it back from a decisions part (its lists' items named
    ``element``): the schema of the parts a cap rewrites, as they were when the pass
    read them back from Parquet (the same bytes since)."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, **_decisions_writer_options(schema)):
        pass
    return pq.read_schema(pa.BufferReader(sink.getvalue()))


def _rewrite_part(part: Path, new: Mapping[str, Any]) -> Path:
    """The Parquet part of checkpoint ``part`` with its cut pair rows rewritten, beside it."""
    table = read_arrow(part)
    table = table.cast(_parquet_schema(table.schema))
    rows = np.flatnonzero(np.asarray(pc.equal(table["row_type"], "pair").to_numpy(
        zero_copy_only=False), dtype=bool))
    cut = np.asarray(new["_cut"], dtype=bool)
    if rows.size != cut.size:
        raise RerateError(f"{part.name}: {rows.size} pair rows, the summary has {cut.size}; "
                          "the checkpoints are inconsistent: run again into a new --out.")
    note = np.asarray(new["_note"], dtype=bool)
    if note.any():  # the note on the pairs left out of the book's totals
        i = table.schema.get_field_index("limit_notes")
        at = rows[note]
        old = table.column(i).take(pa.array(at)).to_pylist()
        table = table.set_column(i, table.schema.field(i), _replaced(
            table.column(i), at, np.array([[*(o or []), "book_currency_mismatch"] for o in old]
                                          + [None], dtype=object)[:-1],
            table.schema.field(i).type))
    at = rows[cut]
    src = np.flatnonzero(cut)
    for name in _REWRITTEN:
        i = table.schema.get_field_index(name)
        f = table.schema.field(i)
        values = np.asarray(new[name], dtype=object if name == "binding_constraints"
                            or name == "decision_type" else np.float64)[src]
        table = table.set_column(i, f, _replaced(table.column(i), at, values, f.type))
    refused = at[np.asarray(new["approved_limit"], dtype=np.float64)[src] <= 0]
    for name in _UNFINANCED:  # a pair a cap refuses is not financed (policy.pricing)
        i = table.schema.get_field_index(name)
        f = table.schema.field(i)
        table = table.set_column(i, f, _replaced(table.column(i), refused,
                                                 np.zeros(refused.size), f.type))
    dest = part.with_name(part.name.replace(".decisions.arrow", ".book.parquet"))
    write_decisions(table, dest)
    return dest


def book_invariants(decisions: pd.DataFrame, policy: CreditPolicy) -> dict[str, Any]:
    """The book's invariants on a run's decisions (pair rows): debtors whose pairs exceed
    the debtor's capacity, groups above their share of the capital, and the pairs each
    cap binds (``benchmarks/bench_book.py`` prints them; the tests assert them).

    A debtor's pairs are compared in the book's currency (its capacity is one amount
    for all its pairs: ``debtor_capacity x fx_rate``); a pair without a rate counts in
    its currency alone. A debtor without a group is a group of its own; amounts within
    one rounding unit of a cap count as under it.
    """
    d = decisions[decisions["row_type"] == "pair"] if "row_type" in decisions else decisions
    tol = 1e-6
    book = policy.book
    rate = _rates(d, book.currency)
    has = ~np.isnan(rate)
    approved = d["approved_limit"].fillna(0.0)
    in_base = approved * np.where(has, rate, 1.0)
    per_debtor = pd.DataFrame({
        "debtor": d["debtor_id"],
        "currency": np.where(has, book.currency, d["currency"].astype(str).to_numpy()),
        "approved": in_base,
        "capacity": d["debtor_capacity"].to_numpy(dtype=np.float64, na_value=np.nan)
        * np.where(has, rate, 1.0)})
    g = per_debtor.groupby(["debtor", "currency"], sort=False).agg(
        approved=("approved", "sum"), capacity=("capacity", "max"))
    over_capacity = int((g["approved"] > g["capacity"].fillna(0.0) * (1 + tol) + tol).sum())
    groups_over = 0
    if book.factor_capital is not None and book.group_capital_share < 1:
        group = d["group_id"].where(d["group_id"].notna(), "debtor:" + d["debtor_id"])
        totals = in_base[has].groupby(group[has].to_numpy()).sum()
        cap = book.group_capital_share * book.factor_capital
        groups_over = int((totals > cap * (1 + tol)).sum())
    bound = d["binding_constraints"].map(lambda b: tuple(b) if b is not None else ())
    return {"pairs": int(len(d)), "debtors_over_capacity": over_capacity,
            "groups_over_cap": groups_over,
            **{f"pairs_bound_{c}": int(bound.map(lambda b, c=c: c in b).sum())
               for c in ("capacity", *BOOK_CAPS)},
            "debtors_sharing_capacity": int((per_debtor.groupby("debtor").size() > 1).sum())}
