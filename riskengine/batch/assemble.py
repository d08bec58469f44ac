"""The tail of a rerate run: the chunks' checkpoints read as they finish
(:class:`_Assembler`), the reconciliation (debtors in = decided + errored, checked
before any output is written), then the errors, migration, limit actions and the
summary figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.batch import migration as mig
from riskengine.batch.book import apply_book_caps
from riskengine.batch.checkpoints import _Checkpoints, cents, write_parquet
from riskengine.batch.chunk import _conform, _distinct_ids, _unify, errors_table
from riskengine.batch.dataset import publish
from riskengine.batch.migration.herfindahl import _runs_over
from riskengine.batch.migration.matrix import _strictly_increasing
from riskengine.batch.options import RerateOptions
from riskengine.batch.plan import ChunkPlan, _not_in_portfolio
from riskengine.contracts.arrowtext import large_text, text_member
from riskengine.errors import RerateError
from riskengine.policy.insurer import insurer_requests
from riskengine.validation.columns import _blank


def _book(debtors: pd.DataFrame) -> pd.DataFrame:
    from riskengine.features.concentration import nace_section

    book = debtors[[c for c in ("debtor_id", "group_id", "country", "nace")
                    if c in debtors.columns]]  # fmt: skip
    if "debtor_id" in book.columns:
        if not _strictly_increasing(book["debtor_id"]):  # not distinct and sorted already
            book = book.drop_duplicates("debtor_id")
    if "nace" in book.columns:
        codes = book["nace"].astype("str")
        enc = pc.dictionary_encode(large_text(codes))
        sections: list[str] = []
        for code in enc.dictionary.to_pylist():
            try:
                sections.append(nace_section(str(code)))
            except ValueError:
                sections.append("unknown")
        sector = pc.take(pa.array(sections, pa.large_string()), enc.indices)
        book = book.assign(sector=pd.Series(pd.array(sector, dtype="str"), index=book.index)
                           ).drop(columns="nace")
    return book


def _summary_table(summary: Mapping[str, Any]) -> pa.Table:
    names: list[str] = []
    values: list[float | None] = []
    texts: list[str | None] = []

    def walk(prefix: str, x: Any) -> None:
        if isinstance(x, Mapping):
            for k in x:
                walk(f"{prefix}.{k}" if prefix else str(k), x[k])
        elif isinstance(x, bool):
            names.append(prefix)
            values.append(float(x))
            texts.append(None)
        elif isinstance(x, (int, float)):
            names.append(prefix)
            values.append(float(x))
            texts.append(None)
        elif x is None:
            names.append(prefix)
            values.append(None)
            texts.append(None)
        else:
            names.append(prefix)
            values.append(None)
            texts.append(str(x))

    walk("", summary)
    return pa.table({"figure": pa.array(names, pa.string()),
                     "value": pa.array(values, pa.float64()),
                     "text": pa.array(texts, pa.string())})  # fmt: skip


class _Assembler:
    """Reads each chunk's summary columns and error rows, in chunk order, as soon as its
    checkpoint is done (while later chunks are being decided); at the end the book's
    caps (:func:`riskengine.batch.book.apply_book_caps`, which writes the parts on
    threads while the other outputs are made) and the move of the parts into
    ``OUT/decisions`` follow in :func:`_reconciled`."""

    def __init__(self, out: Path, ckpt: _Checkpoints, n_chunks: int) -> None:
        self.out, self.ckpt, self.n_chunks = out, ckpt, n_chunks
        self.next = 0
        self.rows = 0
        self.ratings: list[pa.Table] = []
        self.pairs: list[pa.Table] = []
        self.errors: list[pa.Table] = []
        #: rows of the debtors table without a debtor id (:func:`_unidentified`)
        self.unidentified: np.ndarray = np.zeros(0, dtype=np.int64)
        #: the pairs after the book's caps and the run's policy (set by the assembly)
        self.final_pairs: pd.DataFrame | None = None
        self.debtors: pd.DataFrame | None = None  # the book's debtors (sectors, countries)
        self.policy: Any = None
        #: the run's requests to the insurer (riskengine.policy.insurer.insurer_requests)
        self.requests: pd.DataFrame | None = None

    def feed(self) -> None:
        """Read every chunk, from the next one on, whose checkpoint is done."""
        while self.next < self.n_chunks and self.ckpt.is_done(self.next):
            _, ratings, pairs, err = self.ckpt.read(self.next)
            self.rows += self.ckpt.counts(self.next)["decision_rows"]
            self.ratings.append(ratings)
            self.pairs.append(pairs)
            self.errors.append(err)
            self.next += 1

    def ratings_frame(self) -> pd.DataFrame:
        """One row per decided debtor: ``grade`` and ``pd``, indexed by ``debtor_id``."""
        t = pa.concat_tables(self.ratings) if self.ratings else pa.table(
            {"debtor_id": pa.array([], pa.large_string()),
             "grade": pa.array([], pa.large_string()), "pd": pa.array([], pa.float64())})
        return t.to_pandas(split_blocks=True)

    def pairs_frame(self) -> pd.DataFrame:
        """The pair rows' :data:`riskengine.batch.checkpoints._PAIR_SUMMARY` columns and
        ``knockout``, in file order."""
        return pa.concat_tables(self.pairs).to_pandas(split_blocks=True)


def _among(ids: pa.Array, among: pa.Array, inside: bool) -> pa.Array:
    """The ``ids`` that are (``inside``) or are not in ``among`` (no lookup table is
    built for no ids)."""
    if not len(ids):
        return ids
    found = pc.is_in(ids, value_set=among)
    return ids.filter(found if inside else pc.invert(found))


def _assemble(opts: RerateOptions, out: Path, ckpt: _Checkpoints, plan: ChunkPlan,
              debtors_in: pd.Index, unknown: list[str], previous: pd.DataFrame | None,
              scope: list[str] | None, as_of: str, engine: Any,
              frames: Mapping[str, pd.DataFrame], asm: _Assembler) -> tuple[dict[str, Any], int]:
    """Reconcile, then write decisions, errors, migration and limit actions."""
    chunks = range(plan.n_chunks)
    missing = [k for k in chunks if not ckpt.is_done(k)]
    if missing:
        raise RerateError(f"Chunks {missing[:5]} have no checkpoint after the run; run again.")
    asm.feed()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="rerate-hhi") as pool:
        pairs = asm.pairs_frame()
        return _reconciled(opts, out, ckpt, plan, debtors_in, unknown, previous, scope, as_of,
                           engine, asm, pairs, pool, frames)


def _unidentified(debtors: pd.DataFrame, plan: ChunkPlan) -> np.ndarray:
    """Positions of the debtors rows without a debtor id (missing or blank): each is a
    debtor in, errored by its ``missing_value`` row. All are in chunk 0 unless an
    id of other white space sorts after the first bound; then -1 (no row numbers)."""
    if "debtor_id" not in debtors.columns or not len(debtors):
        return np.zeros(0, dtype=np.int64)
    ids = debtors["debtor_id"]
    rows = np.flatnonzero(_blank(ids))
    if rows.size and plan.chunk_of(ids.iloc[rows].reset_index(drop=True)).any():
        return np.full(rows.size, -1, dtype=np.int64)
    return rows


def _label_unidentified(errors: pa.Table, rows: np.ndarray) -> tuple[pa.Table, int]:
    """The error rows of debtors rows without a debtor id, and their number.

    The engine names such a row ``row N`` by its position in its chunk; these rows
    are all in chunk 0, in file order, so the k-th is at ``rows[k]`` of the file:
    its record is relabelled so (when the counts agree and the positions are known).
    """
    if not errors.num_rows or "record" not in errors.column_names:
        return errors, 0
    mask = pc.and_(pc.and_(pc.equal(errors["table"], "debtors"),
                           pc.equal(errors["column"], "debtor_id")),
                   pc.and_(pc.equal(errors["reason"], "missing_value"),
                           pc.is_null(errors["debtor_id"])))
    hits = np.flatnonzero(np.asarray(mask.combine_chunks().fill_null(False), dtype=bool))
    if hits.size == 0 or hits.size != rows.size or (rows < 0).any():
        return errors, int(hits.size)
    record = np.asarray(errors["record"].to_pylist(), dtype=object)
    record[hits] = [f"row {r}" for r in rows.tolist()]
    i = errors.column_names.index("record")
    column = pa.array(record.tolist(), errors.schema.field(i).type)
    return errors.set_column(i, errors.schema.field(i), column), int(hits.size)


def _limits_in_force(pairs: pd.DataFrame) -> pd.DataFrame:
    """The pairs' limits before a first run (``current_limit``, from
    ``exposures.approved_limit``) as a previous run's pair rows: the first re-rating of
    an existing book measures its limit actions against them (a pair without a limit
    in force is a new pair)."""
    limit = pairs["current_limit"].to_numpy(dtype=np.float64, na_value=0.0)
    held = limit > 0
    return pd.DataFrame({"debtor_id": pairs["debtor_id"][held].reset_index(drop=True),
                         "supplier_id": pairs["supplier_id"][held].reset_index(drop=True),
                         "approved_limit": limit[held]})  # ids stay Arrow text


def _concentration(pairs: pd.DataFrame, debtors: pd.DataFrame | None) -> dict[str, float]:
    """The run's HHIs (:func:`riskengine.batch.migration.concentration`) over the book of
    ``debtors``."""
    return mig.concentration(pairs, None if debtors is None else _book(debtors))


def _reconciled(opts: RerateOptions, out: Path, ckpt: _Checkpoints, plan: ChunkPlan,
                debtors_in: pd.Index, unknown: list[str], previous: pd.DataFrame | None,
                scope: list[str] | None, as_of: str, engine: Any, asm: _Assembler,
                pairs: pd.DataFrame, pool: Any,
                frames: Mapping[str, pd.DataFrame]) -> tuple[dict[str, Any], int]:
    """:func:`_assemble` once the pair rows are read (``pool``: a thread for the HHIs)."""
    chunks = range(plan.n_chunks)
    ratings = asm.ratings_frame()
    err_tables = list(asm.errors)
    extra = _not_in_portfolio(unknown)
    if len(extra):
        err_tables.append(errors_table(extra))
    err_schema = _unify([t.schema for t in err_tables])
    err_all = pa.concat_tables([_conform(t.replace_schema_metadata(None), err_schema)
                                for t in err_tables])
    ins = large_text(debtors_in.append(pd.Index(unknown, dtype="str")))
    rating_ids, pair_ids = large_text(ratings["debtor_id"]), large_text(pairs["debtor_id"])
    if _runs_over(pair_ids, rating_ids) is not None:
        decided = rating_ids  # one rating per debtor, in id order, the pairs' debtors
    else:
        decided = pc.unique(pa.chunked_array([rating_ids, pair_ids], pa.large_string())
                            .combine_chunks().drop_null())
    errored = _distinct_ids(err_all["debtor_id"]) if err_all.num_rows else \
        pa.array([], pa.large_string())
    err_all, unidentified_errored = _label_unidentified(err_all, asm.unidentified)
    rec = mig.reconcile(ins, decided, errored, unidentified=len(asm.unidentified),
                        unidentified_errored=unidentified_errored)
    if not rec.ok:
        raise RerateError(f"The run does not reconcile: {rec.message()}. Nothing was written to "
                          f"{str(out)!r}; the checkpoints are kept for inspection.")
    policy = getattr(engine, "policy", None)
    if policy is None:
        from riskengine.config import load_policy

        policy = load_policy(opts.policy_path)
    policy = policy.with_factor_capital(opts.factor_capital)  # --factor-capital wins
    rest = None
    if scope is not None and previous is not None:  # a partial run: the rest of the book
        prev = mig.pair_rows(previous)
        rest = prev[~text_member(prev["debtor_id"], list(scope))]
    book_debtors = frames.get("book_debtors")
    book = apply_book_caps(pairs, [t.num_rows for t in asm.pairs],
                           [ckpt.paths(k)[0] for k in chunks],
                           book_debtors if book_debtors is not None else frames.get("debtors"),
                           policy, rest)
    # the HHIs of the book after its caps read only the pairs and the debtors: figured on
    # a thread meanwhile (Arrow's hashing and numpy's passes release the interpreter lock)
    hhis: Future[dict[str, float]] = pool.submit(_concentration, book.pairs,
                                                 frames.get("debtors"))
    pairs = book.pairs
    asm.final_pairs, asm.policy = pairs, policy  # the register reads them (rerate --store)
    asm.debtors = book_debtors if book_debtors is not None else frames.get("debtors")
    n = asm.rows
    write_parquet(err_all, out / "errors.parquet")
    errors = err_all.to_pandas()
    errored_only = _among(errored, decided, False)
    errored_ids = pd.Index(errored_only.to_pylist(), dtype="str")
    rated = mig.debtor_ratings(ratings.assign(supplier_id=None))
    nr = _among(errored_only, ins, True).to_pylist()
    current = pd.concat([rated["grade"], pd.Series("NR", index=pd.Index(nr, dtype="str"))])
    matrix = actions = prev_ratings = None
    if previous is not None:
        prev_ratings = mig.debtor_ratings(previous)
        matrix = mig.migration_matrix(prev_ratings["grade"], current, scope)
        actions = mig.limit_actions(previous, pairs, as_of, policy, scope=scope,
                                    errored=errored_ids)
    else:  # a first run: the limits in force are the exposures' approved limits
        matrix = mig.migration_matrix(pd.Series([], dtype="str"), current, scope)
        actions = mig.limit_actions(_limits_in_force(pairs), pairs, as_of, policy,
                                    errored=errored_ids)
    write_parquet(pa.Table.from_pandas(matrix.to_long(), preserve_index=False)
                  .replace_schema_metadata(None), out / "migration.parquet")
    write_parquet(cents(pa.Table.from_pandas(actions, preserve_index=False)
                        .replace_schema_metadata(None)), out / "limit_actions.parquet")
    requests = insurer_requests(pairs, policy)  # the request loop (issue 16)
    asm.requests = requests
    write_parquet(cents(_requests_table(requests)), out / "insurer_requests.parquet")
    summary = mig.run_summary(pairs, errors, rec, previous=previous, migration=matrix,
                              actions=actions, ratings=rated, decision_rows=n,
                              hhis=hhis.result(), previous_ratings=prev_ratings,
                              currency=policy.book.currency)  # fmt: skip
    counts = [ckpt.counts(k) for k in chunks]
    for name in ("pairs_in", "pairs_decided", "pairs_rejected"):
        summary[name] = int(sum(c.get(name, 0) for c in counts))
    # data quality: pairs rated without their size features (no rate into the model's
    # money unit, note size_not_converted: docs/TRAINING.md "Money unit")
    summary["pairs_size_not_converted"] = int(sum(
        pc.sum(t["size_not_converted"]).as_py() or 0 for t in asm.pairs
        if "size_not_converted" in t.column_names))
    summary["previous_run"] = previous is not None
    summary["book"] = book.figures
    summary["insurance"] = _insurance_figures(pairs, requests, policy.book.currency)
    # the parts were written on threads meanwhile (riskengine.batch.book.finish_parts)
    publish(book.parts, out)
    return summary, n


def _requests_table(requests: pd.DataFrame) -> pa.Table:
    """``insurer_requests.parquet``: text columns as strings (null where not known)."""
    from riskengine.policy.insurer import REQUEST_COLUMNS

    money = ("approved_limit", "insured_limit", "insured_amount", "amount_requested")
    return pa.table({c: pa.array(requests[c].to_numpy(dtype=np.float64), pa.float64())
                     if c in money else pa.array(requests[c].astype(object).tolist(),
                                                 pa.string()) for c in REQUEST_COLUMNS})


def _insurance_figures(pairs: pd.DataFrame, requests: pd.DataFrame, currency: str
                       ) -> dict[str, Any]:
    """The run's cover by basis and its requests to the insurer (summary ``insurance``),
    the money in the reporting ``currency``: each pair's amounts times its ``fx_rate``
    (units of the reporting currency per unit, on the run's date), a request's at the
    rate of its currency among the pairs'."""
    basis = pairs["cover_basis"].astype(str)
    fx = pairs["fx_rate"].to_numpy(dtype=np.float64, na_value=np.nan) \
        if "fx_rate" in pairs.columns else np.ones(len(pairs))
    approved = pairs["approved_limit"].to_numpy(dtype=np.float64, na_value=0.0) * fx
    insured = pairs["insured_amount"].to_numpy(dtype=np.float64, na_value=0.0) * fx
    out: dict[str, Any] = {"currency": currency}
    for b in ("insurer_limit", "discretionary", "none"):
        at = (basis == b).to_numpy()
        out[f"pairs_{b}"] = int(at.sum())
        out[f"approved_{b}"] = float(approved[at].sum())
        out[f"insured_amount_{b}"] = float(insured[at].sum())
    out["requests"] = int(len(requests))
    amount = 0.0
    if len(requests):
        rate = pd.Series(fx, index=pairs["currency"].astype(str).to_numpy()).groupby(
            level=0).first() if "currency" in pairs.columns else pd.Series(dtype=np.float64)
        r = requests["currency"].astype(str).map(rate).to_numpy(dtype=np.float64,
                                                                na_value=np.nan)
        amount = float((requests["amount_requested"].to_numpy(dtype=np.float64)
                        * np.where(requests["currency"].astype(str).to_numpy() == currency,
                                   1.0, r)).sum())
    out["amount_requested"] = amount
    return out
