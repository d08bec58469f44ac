"""Concentration of a run's approved limits: Herfindahl-Hirschman indices (HHI) by debtor
name, group, sector and country."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.batch.migration.matrix import pair_rows
from riskengine.contracts.arrowtext import large_text, strictly_increasing
from riskengine.policy.portfolio import hhi


def concentration(decisions: pd.DataFrame, book: pd.DataFrame | None = None
                  ) -> dict[str, float]:
    """HHI of the pair rows' approved limits (missing: 0) by debtor name, and with a
    ``book`` (see :func:`run_summary`) by group, sector and country. The limits are in
    the reporting currency (``approved_limit_base``) when the decisions carry it.

    Examples
    --------
    >>> d = pd.DataFrame({"debtor_id": ["a", "a", "b"], "supplier_id": ["s", "t", "s"],
    ...                   "approved_limit": [30.0, 20.0, 50.0]})
    >>> concentration(d)
    {'name': 0.5}
    """
    pairs = pair_rows(decisions)
    col = "approved_limit_base" if "approved_limit_base" in pairs.columns else "approved_limit"
    limits = pairs[col].fillna(0.0).to_numpy(dtype=np.float64) if len(pairs) else (
        np.zeros(0))
    return _hhis(pairs, book, limits)


def _hhis(pairs: pd.DataFrame, book: pd.DataFrame | None, limits: np.ndarray
          ) -> dict[str, float]:
    """HHI of the approved limits by debtor name, and by group, sector and country.

    A missing group is the debtor itself; a pair with a missing sector or country is
    left out of that dimension (as missing text keys are). The keys are passed to :func:`~riskengine.policy.portfolio.hhi` as
    integer codes in order of first appearance: the same groups, summed in the
    same order, as the text keys, without hashing a million Python strings.
    """
    ids = large_text(pairs["debtor_id"])
    book_ids = large_text(book["debtor_id"]) if book is not None and "debtor_id" in book.columns \
        else None
    runs = _runs_over(ids, book_ids)
    if runs is not None and book is not None:
        # pairs sorted by debtor, every book debtor has pairs, in book order: a pair's
        # book row is its run number, and a key's code (order of first appearance) is
        # the code of its book row
        hhis = {"name": hhi(runs, limits)}
        for dim, col in (("group", "group_id"), ("sector", "sector"), ("country", "country")):
            if col in book.columns:
                keys = large_text(book[col])
                codes = _group_codes(keys, book_ids) if dim == "group" else _codes(keys)
                hhis[dim] = hhi(codes[runs], limits)
        return hhis
    hhis = {"name": hhi(_codes(ids), limits)}
    if book is None or not len(pairs):
        return hhis
    pos = None
    if book_ids is not None and book_ids.null_count == 0 and \
            len(pc.unique(book_ids)) == len(book_ids):
        pos = pc.index_in(ids, value_set=book_ids)
    if pos is None or pos.null_count:  # a debtor outside the book, or a book with duplicates
        return _hhis_merge(pairs, book, limits, hhis)
    for dim, col in (("group", "group_id"), ("sector", "sector"), ("country", "country")):
        if col in book.columns:
            keys = large_text(book[col]).take(pos)
            if dim == "group":
                keys = pc.coalesce(keys, ids)
            hhis[dim] = hhi(_codes(keys), limits)
    return hhis


def _runs_over(ids: pa.Array, book_ids: pa.Array | None) -> np.ndarray | None:
    """Run number of each id when ``ids`` are sorted and their distinct values are
    exactly ``book_ids`` in the same order (int64), else None."""
    n = len(ids)
    if book_ids is None or n == 0 or ids.null_count or book_ids.null_count:
        return None
    starts = np.flatnonzero(np.concatenate((
        [True], np.asarray(pc.not_equal(ids.slice(1), ids.slice(0, n - 1))))))
    firsts = ids.take(pa.array(starts))
    if len(firsts) != len(book_ids) or not bool(pc.all(pc.equal(firsts, book_ids)).as_py()):
        return None
    if not strictly_increasing(firsts):
        return None  # an id that comes back later: not sorted
    lengths = np.diff(np.append(starts, n))
    return np.repeat(np.arange(len(starts), dtype=np.int64), lengths)


def _hhis_merge(pairs: pd.DataFrame, book: pd.DataFrame, limits: np.ndarray,
                hhis: dict[str, float]) -> dict[str, float]:
    joined = pairs[["debtor_id"]].merge(book, on="debtor_id", how="left")
    for dim, col in (("group", "group_id"), ("sector", "sector"), ("country", "country")):
        if col in joined.columns:
            keys = joined[col].astype(object)
            if dim == "group":
                keys = keys.where(keys.notna(), joined["debtor_id"].astype(object))
            hhis[dim] = hhi(keys.astype(str).to_numpy(), limits)
    return hhis


def _codes(keys: pa.Array) -> np.ndarray:
    """Code of each key in order of first appearance; NaN for a missing key (which
    :func:`~riskengine.policy.portfolio.hhi` leaves out, as it leaves out missing text)."""
    enc = pc.dictionary_encode(keys)
    codes = enc.indices.cast(pa.float64()).fill_null(np.nan) if enc.null_count else \
        enc.indices
    return np.asarray(codes, dtype=np.float64 if enc.null_count else np.int64)


def _group_codes(groups: pa.Array, ids: pa.Array) -> np.ndarray:
    """``_codes(pc.coalesce(groups, ids))`` for distinct, present ``ids`` (a debtor
    without a group is its own group).

    Only the groups are hashed (a few, mostly missing), not a million debtor ids: each
    debtor without a group opens a key of its own unless its id is also a group's.
    """
    enc = pc.dictionary_encode(groups)
    own = pc.is_null(groups)
    if enc.null_count == 0 or len(enc.dictionary) == 0 or bool(pc.any(pc.is_in(
            ids.filter(own), value_set=enc.dictionary)).as_py()):
        return _codes(pc.coalesce(groups, ids))
    group = np.asarray(enc.indices.fill_null(-1), dtype=np.int64)
    # the groups' codes count in order of first appearance: a row whose group code
    # passes every code before it is that group's first row
    highest = np.maximum.accumulate(group)
    opens = group > np.concatenate(([-1], highest[:-1]))
    opens |= group < 0
    code = np.cumsum(opens, dtype=np.int64) - 1  # a key's code, on the row that opens it
    return np.where(group < 0, code, code[opens & (group >= 0)][np.maximum(group, 0)])
