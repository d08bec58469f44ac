"""The Engine: records in, decisions out, for one debtor or a whole book.

Composition (data flows one way)::

    validated frames -> features (statements, adverse, payments)
      -> PD model on the statement features (or the rating basis prior)
      -> monotone overlay for adverse records and payment behaviour
      -> default flags (insolvency, 90+ days past due on a material amount) -> grade D
      -> master-scale grade -> reason codes
      -> policy: knock-outs, capacity (latest statement), ledger cap, insurer cover,
         limit rounding -> cover, expected loss, advance rate, fee schedule
      -> one Decision per supplier-debtor pair (exposure)

:meth:`Engine.decide` takes portfolio frames; :meth:`Engine.decide_one`,
:meth:`Engine.decide_payload` and :meth:`Engine.score_payloads` take JSON payloads (:mod:`riskengine.contracts.payload`).
Every path ends in the same array core (:func:`riskengine.scoring.core._decide_core`;
the batch job's Arrow table, :mod:`riskengine.scoring.table`): the batch path
builds its inputs with the feature pipelines (the latest financials, rating basis
and past-due default of :mod:`riskengine.scoring.financials`, the input hash's
records of :mod:`riskengine.scoring.records`) and scores with the fitted
scikit-learn model; the single-debtor path builds the same inputs from the
payload's arrays (:mod:`riskengine.scoring.fastpath`, the same statement kernel) and
scores with the flattened tree ensemble. ``tests/test_engine.py`` proves that
both give identical decisions on hundreds of debtors.

The rating basis is described in :mod:`riskengine.scoring.financials`, the overlay
in :mod:`riskengine.scoring.overlay`.

This module does no I/O: loading the shipped artifacts and configuration
(:func:`riskengine.api.load_engine`, :func:`riskengine.api.score`) is the shell's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts import schemas
from riskengine.contracts.dates import as_of_text, parse_date, refuse_after
from riskengine.contracts.decision import DECISION_FIELDS, Decision
from riskengine.contracts.payload import DebtorPayload, parse_payload, payload_to_frames
from riskengine.errors import InvalidInputError, ModelArtifactError, PolicyError
from riskengine.features.fx import FxRates, missing_codes, pair_rates
from riskengine.features.units import MoneyUnit
from riskengine.model.master_scale import MasterScale
from riskengine.policy import credit_policy as _cp
from riskengine.policy.book import BookRest
from riskengine.policy.limits import requested_limit
from riskengine.scoring import records
from riskengine.scoring.core import Scorer, SklearnScorer, _decide_core, _lookup
from riskengine.scoring.debtor_inputs import debtor_inputs
from riskengine.scoring.financials import (
    LATEST_ROWS,
    _past_due_kernel,
    financial_inputs,
)
from riskengine.scoring.frames import _positions, insurer_inputs
from riskengine.scoring.inputs import DebtorInputs, Grades, PairInputs, SupplierInputs
from riskengine.scoring.overlay import Overlay, _OverlayStatic
from riskengine.scoring.reason_rows import _exps, _top_codes
from riskengine.scoring.reasons import ReasonWords, decision_of
from riskengine.scoring.records import pair_terms
from riskengine.scoring.suppliers import SupplierBook, book_dispersion, supplier_inputs
from riskengine.scoring.table import _decide_table

__all__ = [
    "SupplierBook",
    "DecisionBatch",
    "DecisionTable",
    "warm_up",
    "Engine",
]

CreditPolicy = _cp.CreditPolicy


def warm_up() -> None:
    """Compile (or load from the disk cache) the batch path's kernels now.

    The batch job calls it before it forks its workers, so that each worker
    does not load them again.
    """
    records.warm_up()
    z = np.zeros(1, dtype=np.int64)
    _past_due_kernel()(z, z, z, z, np.zeros(1), 0, 0, 1, 1, np.ones(1))
    financial_inputs(np.zeros((len(LATEST_ROWS), 1)), 0)
    _top_codes(np.zeros(1, dtype=np.intp), np.ones(1), 1, 1)
    _exps(np.zeros(1))
    from riskengine.features import adverse, payments, statements  # the record kernels

    adverse.warm_up()
    payments.warm_up()
    statements.warm_up()


@dataclass(frozen=True)
class DecisionBatch:
    """Decisions for a batch and the input problems.

    Attributes
    ----------
    decisions : pandas.DataFrame
        One row per decided supplier-debtor pair, columns
        :data:`~riskengine.contracts.decision.DECISION_FIELDS` (tuples for list fields; the
        reason codes as dicts of :data:`~riskengine.scoring.reasons.REASON_FIELDS`, no text).
    errors : pandas.DataFrame
        Error rows (:data:`~riskengine.contracts.schemas.ERROR_COLUMNS`): invalid records,
        ``debtor_rejected`` summaries and undecidable pairs.
    pairs_in : int
        Exposures given. ``pairs_in == len(decisions) + pairs_rejected``.
    pairs_rejected : int
        Exposures not decided (their debtor was rejected, or the pair is invalid).
    debtors_in, debtors_rejected : int
    reason_words : ReasonWords or None
        The overlay's words of the reason codes (:meth:`to_decisions` writes the
        reason texts with them); None for a batch with no decision.
    """

    decisions: pd.DataFrame
    errors: pd.DataFrame
    pairs_in: int = 0
    pairs_rejected: int = 0
    debtors_in: int = 0
    debtors_rejected: int = 0
    reason_words: ReasonWords | None = None

    def to_decisions(self) -> list[Decision]:
        """The decisions as :class:`~riskengine.contracts.decision.Decision` objects, their
        reason codes in words (:func:`~riskengine.scoring.reasons.reason_text`)."""
        recs = _records(self.decisions)
        if recs and self.reason_words is None:
            raise ValueError("DecisionBatch.to_decisions: the batch has no reason_words to "
                             "write its reason codes in words with.")
        return [decision_of(rec, self.reason_words) for rec in recs]  # type: ignore[arg-type]

    def to_dicts(self) -> list[dict[str, Any]]:
        """The decisions as JSON-safe dicts (:meth:`Decision.to_dict`)."""
        return [d.to_dict() for d in self.to_decisions()]

    def summary(self) -> dict[str, int]:
        """Counts that reconcile: pairs in = decided + rejected."""
        return {"pairs_in": self.pairs_in, "decided": len(self.decisions),
                "pairs_rejected": self.pairs_rejected, "debtors_in": self.debtors_in,
                "debtors_rejected": self.debtors_rejected, "error_rows": len(self.errors)}


@dataclass(frozen=True)
class DecisionTable:
    """:class:`DecisionBatch` with the decisions as an Arrow table.

    Attributes
    ----------
    table : pyarrow.Table
        One row per decided pair, :func:`~riskengine.scoring.table.decision_schema` (the
        rows and values of :attr:`DecisionBatch.decisions`).
    errors : pandas.DataFrame
    pairs_in, pairs_rejected, debtors_in, debtors_rejected : int
        As in :class:`DecisionBatch`.
    """

    table: Any
    errors: pd.DataFrame
    pairs_in: int = 0
    pairs_rejected: int = 0
    debtors_in: int = 0
    debtors_rejected: int = 0


@dataclass(frozen=True)
class _Prepared:
    day: str
    debtors: DebtorInputs
    pairs: PairInputs
    errors: pd.DataFrame
    pairs_in: int
    debtors_in: int
    debtors_rejected: int


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    cols = {c: frame[c].tolist() for c in DECISION_FIELDS}
    out = []
    for k in range(len(frame)):
        rec = {c: cols[c][k] for c in DECISION_FIELDS}
        for c in DECISION_FIELDS:
            v = rec[c]
            if isinstance(v, float) and not math.isfinite(v):
                rec[c] = None
        out.append(rec)
    return out


def _columns_frame(col: Mapping[str, list[Any]]) -> pd.DataFrame:
    data = {}
    for f in DECISION_FIELDS:
        values = col[f]
        if f in ("reason_codes", "binding_constraints", "knockouts", "limit_notes") or \
                any(v is None for v in values):
            s = pd.Series(values, dtype=object)
        else:
            s = pd.Series(values)
        data[f] = s
    return pd.DataFrame(data, columns=list(DECISION_FIELDS))


def _error_row(table: str, record: str, debtor_id: str, column: str, value: str,
               reason: str, message: str) -> dict[str, Any]:
    return dict(zip(schemas.ERROR_COLUMNS,
                    (table, record, debtor_id, column, value, reason, message), strict=True))


# --- the engine ------------------------------------------------------------------------


class Engine:
    """Features, PD model, overlay, master scale and credit policy, composed.

    Parameters
    ----------
    pd_model : PDModel
        The fitted statement PD model (:func:`riskengine.io.artifacts.load_champion`).
    master_scale : MasterScale
    policy : CreditPolicy
    overlay : Overlay
        Adverse/payment overlay, basis priors, default definition.
    model_version : str
        Recorded in every decision (e.g. ``"pd_model@<sha256[:12]>"``).
    default_product : str, default "non_recourse"
        Product of pairs that name none.
    factor_capital : float, optional
        The factor's eligible capital, replacing the policy's ``book.factor_capital``
        (``--factor-capital``). Here one pair alone never exceeds the group cap; the
        caps over the whole book are the batch's (:mod:`riskengine.batch.book`).
    reason_top_k : int, default 3
        Statement-model reason codes per debtor.
    money_unit : MoneyUnit
        The unit the model learned its size features in (its metadata's ``money_unit``,
        :meth:`riskengine.features.units.MoneyUnit.from_metadata`); every path moves the
        debtors' size features into it (:func:`riskengine.features.units.size_in_unit`).

    Notes
    -----
    An engine is immutable after construction and holds no per-call state;
    one instance serves concurrent calls.
    """

    def __init__(
        self, pd_model: Any, master_scale: MasterScale, policy: CreditPolicy, *,
        overlay: Overlay, model_version: str, default_product: str = "non_recourse",
        factor_capital: float | None = None, reason_top_k: int = 3,
        money_unit: MoneyUnit,
    ) -> None:
        if default_product not in policy.product_names:
            raise PolicyError(f"default_product {default_product!r} is not a product of "
                              f"policy {policy.version} ({', '.join(policy.product_names)}).",
                              key="products")
        policy = policy.with_factor_capital(factor_capital)
        if not isinstance(money_unit, MoneyUnit):
            raise ModelArtifactError(
                f"Engine: money_unit must be a MoneyUnit (the model's metadata key "
                f"'money_unit'), got {type(money_unit).__name__}.")
        self.pd_model = pd_model
        self.money_unit = money_unit
        self.master_scale = master_scale
        self.policy = policy
        self.overlay = overlay
        self.model_version = model_version
        self.default_product = default_product
        book = policy.book  # the group cap of one pair alone (the book's caps: policy.book)
        self.factor_capital = book.factor_capital if book.group_capital_share < 1 else None
        self.reason_top_k = reason_top_k
        from riskengine.model.pd_model import PD_CEILING

        self.pd_ceiling = PD_CEILING
        self.product_codes = {name: i for i, name in enumerate(policy.product_names)}
        self.feature_names: tuple[str, ...] = tuple(str(c) for c in pd_model.feature_names_in_)
        from riskengine.scoring.fastpath import FastEngine

        self._fast = FastEngine(self, _decide_core)
        # the flattened ensemble when the model allows it (the same numbers as the
        # fitted model, tests/test_engine.py), else the fitted model itself
        self._scorer: Scorer = self._fast.scorer if self._fast.scorer is not None \
            else SklearnScorer(pd_model, reason_top_k)

    # --- versions ---------------------------------------------------------------

    @property
    def versions(self) -> dict[str, str]:
        """Model, policy, master scale and overlay versions."""
        return {"model_version": self.model_version, "policy_version": self.policy.version,
                "master_scale_version": self.master_scale.version,
                "overlay_version": self.overlay.version}

    @property
    def lookback_years(self) -> float:
        """Adverse look-back: the policy's knock-out recency window, in years."""
        return float(self.policy.knockouts.adverse_recent_days) / 365.25

    # --- batch ------------------------------------------------------------------

    def decide(self, frames: Mapping[str, pd.DataFrame], as_of: Any, *,
               decided_at: str | None = None, reference_date: Any = None,
               scorer: Scorer | None = None, book_rest: BookRest | None = None,
               fx: FxRates | None = None, grades: Grades = None) -> DecisionBatch:
        """Decide every supplier-debtor pair (exposure) of a portfolio.

        Parameters
        ----------
        frames : mapping of str to pandas.DataFrame
            Portfolio tables (:data:`riskengine.contracts.schemas.CONTRACTS`), plus the
            optional ``pair_terms`` (product and insurer limit per pair,
            :data:`riskengine.contracts.payload.PAIR_TERMS_COLUMNS`), ``fx_rates``
            (:data:`riskengine.contracts.schemas.FX_RATES`) and ``supplier_book`` (the
            suppliers' ratings and debtors' dispersion known beyond the frames,
            :data:`riskengine.scoring.suppliers.SUPPLIER_BOOK_COLUMNS`; without it the
            dispersion is counted over the frames' own exposures). Not modified.
        as_of : date-like
            Decision date; records dated after it are not used.
        decided_at : str, optional
            Timestamp recorded in each decision (the shell passes it).
        reference_date : date-like, optional
            Extraction date: records dated after it are invalid (``future_date``).
        scorer : callable, optional
            Statement-model scorer; default the fitted scikit-learn model.
        book_rest : BookRest, optional
            The rest of the book these debtors' pairs are capped against (connected
            groups, sectors, countries: :func:`riskengine.policy.book.cap_alone`), in the
            reporting currency; the service reads it from the limit register. None: no
            book caps here (a rerate caps the whole book at once after every chunk).
        fx : FxRates, optional
            The dated rates when ``frames`` has no ``fx_rates`` table (the service's
            store); without either, only the reporting currency has a rate.

        Returns
        -------
        DecisionBatch
            Invalid debtors become error rows (validated with
            :func:`riskengine.validation.validate_portfolio`); so does a debtor with a
            record in a currency without a rate on ``as_of`` (``missing_fx_rate``:
            :func:`riskengine.validation.fx.reject_missing_rates`); the rest are decided,
            amounts converted at the rates in force on ``as_of``.
        """
        p = self._prepare(frames, as_of, reference_date, fx)
        deb = p.debtors.with_grades(grades)  # an officer's grades: overrides re-run the policy
        if book_rest is not None:
            d = frames["debtors"].drop_duplicates("debtor_id")
            d = d.set_index(d["debtor_id"].astype(str))
            ids = pd.Index(deb.debtor_id.astype(str))
            deb = dataclasses.replace(deb, book_rest=book_rest.with_debtors(
                d["nace"].reindex(ids).fillna("").tolist(),
                d["country"].reindex(ids).fillna("").tolist()))
        col = _decide_core(self, deb, p.pairs, p.day, decided_at, scorer or self._scorer)
        decisions = _columns_frame(col)
        return DecisionBatch(decisions, p.errors, p.pairs_in, p.pairs_in - len(decisions),
                             p.debtors_in, p.debtors_rejected,
                             _OverlayStatic.of(self.overlay).words)

    def decide_table(self, frames: Mapping[str, pd.DataFrame], as_of: Any, *,
                     decided_at: str | None = None, reference_date: Any = None,
                     scorer: Scorer | None = None, fx: FxRates | None = None
                     ) -> DecisionTable:
        """:meth:`decide` with the decisions as one Arrow table (the batch job's path).

        The same decisions as :meth:`decide`, in the same order, as an Arrow table
        of :func:`~riskengine.scoring.table.decision_schema` built from the core's arrays
        (no Python object per decision or per reason code).

        Returns
        -------
        DecisionTable
        """
        p = self._prepare(frames, as_of, reference_date, fx)
        table = _decide_table(self, p.debtors, p.pairs, p.day, decided_at,
                              scorer or self._scorer)
        return DecisionTable(table, p.errors, p.pairs_in, p.pairs_in - table.num_rows,
                             p.debtors_in, p.debtors_rejected)

    def rate(self, frames: Mapping[str, pd.DataFrame], as_of: Any, *,
             scorer: Scorer | None = None) -> pd.Series:
        """The grade of every valid debtor of portfolio frames (no limit is decided).

        The same rating :meth:`decide` gives each debtor (steps 1 and 2 of the core); the
        batch job rates the suppliers that are debtors of its book with it first, so that
        every chunk knows their ratings (:mod:`riskengine.batch.suppliers`).

        Returns
        -------
        pandas.Series
            Grade text (``"1"`` ... ``"10"``, ``"D"``; ``"NR"`` when unrated) by debtor id;
            rejected debtors are absent.
        """
        from riskengine.scoring.core import _ratings

        p = self._prepare(frames, as_of, None)
        grade = _ratings(self, p.debtors, scorer or self._scorer)[-1]
        return pd.Series(np.asarray(grade, dtype=object),
                         index=pd.Index(p.debtors.debtor_id, dtype="str", name="debtor_id"),
                         name="grade")

    def _prepare(self, frames: Mapping[str, pd.DataFrame], as_of: Any,
                 reference_date: Any, fx: FxRates | None = None) -> _Prepared:
        """Validation, the rates and the core's inputs of :meth:`decide` and
        :meth:`decide_table`."""
        from riskengine.validation import validate_portfolio
        from riskengine.validation.fx import base_rate_rows, reject_missing_rates

        day = as_of_text(as_of)
        _refuse_future(day, reference_date, "as_of", "")
        core = {k: v for k, v in frames.items() if k not in ("pair_terms", "supplier_book")}
        vp = validate_portfolio(core, reference_date=reference_date)
        clean = dict(vp.frames)
        errors = [vp.errors]
        base = self.policy.book.currency
        fx_frame = clean.pop("fx_rates", None)
        if fx_frame is not None:  # the input's own rates win over the engine call's
            fx_frame, base_errors = base_rate_rows(fx_frame, base)
            errors.append(base_errors)
            fx = FxRates.from_frame(fx_frame, base)
        elif fx is None:
            fx = FxRates.empty(base)
        elif fx.base != base:
            raise ValueError(f"fx rates into {fx.base}, but the policy's reporting currency "
                             f"([book] currency) is {base}.")
        rates = self.rates_on(fx, day)
        clean, fx_errors, fx_rejected = reject_missing_rates(
            clean, rates, day, lookback_days=int(round(self.lookback_years * 365.25)),
            knockout_types=self.policy.knockouts.adverse_event_types)
        errors.append(fx_errors)
        exp_in = frames.get("exposures")
        pairs_in = 0 if exp_in is None else len(exp_in)
        book = frames.get("supplier_book")
        if book is None and "exposures" in frames and "suppliers" in frames:
            # the frames are the book: the dispersion of each supplier's debtors over it
            # (every well-formed exposure, as the batch job's first pass counts them)
            hhi = book_dispersion(frames["exposures"], frames["suppliers"], rates)
            book = pd.DataFrame({"supplier_id": pd.Series(hhi.index, dtype="str"),
                                 "debtor_hhi": hhi.to_numpy(dtype=np.float64)})
        deb_inputs, pair_inputs, pair_errors = self._batch_inputs(
            clean, frames.get("pair_terms"), day, rates, book)
        if pair_errors:
            errors.append(pd.DataFrame(pair_errors, columns=list(schemas.ERROR_COLUMNS)))
        err = pd.concat([e for e in errors if len(e)], ignore_index=True) if any(
            len(e) for e in errors) else vp.errors.iloc[0:0]
        # debtors rejected here (a refused insurer limit, riskengine.policy.insurer)
        later = sum(1 for e in pair_errors if e.get("reason") == "debtor_rejected")
        return _Prepared(day, deb_inputs, pair_inputs, err, pairs_in, vp.debtors_in,
                         len(vp.rejected_debtors) + vp.debtors_unidentified + len(fx_rejected)
                         + later)

    def rates_on(self, fx: FxRates, day: str) -> np.ndarray:
        """The rates in force on ``day`` (:meth:`FxRates.at`), refused when a currency of
        the policy's money figures (``capacity.currency``, ``knockouts.currency``,
        ``insurance.discretionary_currency``) has none: no decision could convert them."""
        rates = fx.at(day)
        pol = self.policy
        checks = [("capacity.currency", pol.capacity.currency),
                  ("knockouts.currency", pol.knockouts.currency)]
        if pol.insurance.discretionary_cap > 0:
            checks.append(("insurance.discretionary_currency",
                           pol.insurance.discretionary_currency))
        for key, cur in checks:
            if missing_codes(rates, [cur]):
                msg = (f"policy {key} is {cur}, and no {cur} rate is in force on {day} "
                       "(fx_rates); no decision can convert the policy's amounts. Add the "
                       "rate.")
                raise InvalidInputError(msg, [_error_row(
                    "fx_rates", cur, "", "currency", cur, "missing_fx_rate", msg)])
        return rates

    def _batch_inputs(self, clean: Mapping[str, pd.DataFrame], terms: pd.DataFrame | None,
                      day: str, rates: np.ndarray, book: pd.DataFrame | None = None
                      ) -> tuple[DebtorInputs, PairInputs, list[dict[str, Any]]]:
        deb, ids, fin_currency = debtor_inputs(self, clean, day, rates)
        pairs, errs = self._pairs_from_frames(clean, terms, ids, fin_currency, rates, book)
        return deb, pairs, errs

    def _pairs_from_frames(self, clean: Mapping[str, pd.DataFrame],
                           terms: pd.DataFrame | None, ids: pd.Index,
                           fin_currency: np.ndarray, rates: np.ndarray,
                           book: pd.DataFrame | None = None
                           ) -> tuple[PairInputs, list[dict[str, Any]]]:
        ex = clean["exposures"]
        sup = clean["suppliers"].set_index(clean["suppliers"]["supplier_id"].astype("str"))
        sid = ex["supplier_id"].astype("str").to_numpy(dtype=object)
        did = ex["debtor_id"].astype("str").to_numpy(dtype=object)
        m = len(ex)
        pos = _positions(ex["debtor_id"], ids)
        # product and insurer limit per pair
        product = np.full(m, self.default_product, dtype=object)
        insurer = np.full(m, np.nan)
        term_key = np.full(m, -1)
        if terms is not None and len(terms):
            tkey = pd.MultiIndex.from_arrays([terms["supplier_id"].astype("str"),
                                              terms["debtor_id"].astype("str")])
            term_key = tkey.get_indexer(pd.MultiIndex.from_arrays([sid, did]))
            hit = term_key >= 0
            tp = terms["product"].astype(object).where(terms["product"].notna(), None)
            tp_arr = tp.to_numpy(dtype=object)[term_key[hit]]
            product[hit] = np.where(pd.isna(tp_arr), self.default_product, tp_arr)
            insurer[hit] = terms["insurer_limit"].to_numpy(dtype=np.float64,
                                                           na_value=np.nan)[term_key[hit]]
        errs: list[dict[str, Any]] = []
        ok = pos >= 0
        bad_product = _lookup(product, self.product_codes, -1) < 0
        for k in np.flatnonzero(bad_product & ok):
            errs.append(_error_row(
                "pair_terms", f"{sid[k]} {did[k]}", str(did[k]), "product", str(product[k]),
                "unknown_category", f"pair {sid[k]} {did[k]}: product {product[k]!r} is not a "
                f"product of policy {self.policy.version} "
                f"({', '.join(self.policy.product_names)}); the pair was not decided."))
        keep = ok & ~bad_product
        # the insurer limit of each pair; a debtor with a refused row is rejected whole
        ins_frame = clean.get("insurer_limits")
        rows, pair_row, refused = insurer_inputs(ins_frame, did, sid, product, ex["currency"],
                                                 insurer, self.policy, rates)
        errs.extend(refused)
        keep &= ~np.isin(did, [e["debtor_id"] for e in refused])
        sel = np.flatnonzero(keep)
        exs = ex.iloc[sel]
        req = exs["requested_limit"].to_numpy(dtype=np.float64, na_value=np.nan)
        sales = exs["annual_sales"].to_numpy(dtype=np.float64, na_value=np.nan)
        days = exs["credit_days"].to_numpy(dtype=np.float64, na_value=np.nan)
        req = np.where(np.isnan(req), requested_limit(
            sales, days, self.policy.limits.credit_days_basis), req)
        # A pair with neither a request nor sales terms is a renewal: the request is to
        # keep the current approved limit (a payload must give one or the other).
        req = np.where(np.isnan(req),
                       exs["approved_limit"].to_numpy(dtype=np.float64, na_value=np.nan), req)
        sup_all = _positions(ex["supplier_id"], sup.index) if sup.index.is_unique \
            else np.full(m, -1)
        sup_pos = sup_all[sel]
        if sel.size and bool((sup_pos >= 0).all()):
            srow = sup.iloc[sup_pos]  # every supplier known: a plain take
        else:
            srow = sup.reindex(pd.Index(sid[sel], dtype="str"))
        rel = clean["relations"]
        related = np.zeros(sel.size, dtype=bool)
        rel_type = np.full(sel.size, None, dtype=object)
        if len(rel):
            # only pairs whose debtor has a relation can match one
            rel_deb = pd.Index(pd.unique(rel["debtor_id"].astype("str")), dtype="str")
            cand = np.flatnonzero(_positions(exs["debtor_id"], rel_deb) >= 0)
            rkey = pd.MultiIndex.from_arrays([rel["supplier_id"].astype("str"),
                                              rel["debtor_id"].astype("str")])
            ri = np.full(sel.size, -1, dtype=np.int64)
            if cand.size:
                ri[cand] = rkey.get_indexer(pd.MultiIndex.from_arrays(
                    [sid[sel][cand], did[sel][cand]]))
            related = ri >= 0
            rel_type[related] = rel["relation_type"].astype(object).to_numpy()[ri[related]]
        debtors = clean["debtors"]
        deb_index = pd.Index(debtors["debtor_id"].astype("str"))
        # the debtors in the order of ids (the usual case): the positions found above
        dpos = pos[sel] if deb_index.equals(ids) else _positions(exs["debtor_id"], deb_index)
        dg = np.full(sel.size, None, dtype=object)
        has_group = dpos >= 0
        dg[has_group] = debtors["group_id"].to_numpy(dtype=object, na_value=None)[
            dpos[has_group]]
        has_group[has_group] = debtors["group_id"].notna().to_numpy()[dpos[has_group]]
        sg = srow["group_id"].to_numpy(dtype=object, na_value=None)
        same_group = has_group & (dg == sg)
        terms = pair_terms(exs, srow, (rel_type, product[sel], insurer[sel]),
                           None if ins_frame is None else (ins_frame, pair_row[sel]))
        currency = exs["currency"].astype(object).to_numpy(dtype=object)
        supplier_currency = srow["currency"].astype(object).to_numpy(dtype=object)
        fx_base, fx_fin, fx_ledger, fx_cap = pair_rates(
            rates, currency, fin_currency[pos[sel]], supplier_currency,
            self.policy.capacity.currency)
        pairs = PairInputs(
            debtor_pos=pos[sel].astype(np.int64), supplier_id=sid[sel],
            currency=currency,
            requested=req, annual_sales=sales, product=product[sel],
            supplier_ledger=srow["ledger_total"].to_numpy(dtype=np.float64, na_value=np.nan),
            supplier_currency=supplier_currency,
            related=related | same_group, insurer_limit=insurer[sel], terms=terms,
            protected=exs["approved_outstanding"].to_numpy(dtype=np.float64, na_value=np.nan),
            group_id=dg,
            current_limit=exs["approved_limit"].to_numpy(dtype=np.float64, na_value=np.nan),
            fx_base=fx_base, fx_fin=fx_fin, fx_ledger=fx_ledger, fx_capacity=fx_cap,
            supplier_pos=sup_pos.astype(np.int64),
            suppliers=self._supplier_inputs(clean, book), insurer_rows=rows,
            insurer_row=pair_row[sel], rates=rates)
        return pairs, errs

    @staticmethod
    def _supplier_inputs(clean: Mapping[str, pd.DataFrame], book: pd.DataFrame | None
                         ) -> SupplierInputs:
        """The suppliers of a call: their assessment, the dispersion of their debtors and
        the ratings given (the ``supplier_book``'s)."""
        suppliers = clean["suppliers"]
        if book is None:
            return supplier_inputs(suppliers)
        ids = book["supplier_id"].astype("str")
        hhi = pd.Series(book["debtor_hhi"].to_numpy(dtype=np.float64, na_value=np.nan),
                        index=ids) if "debtor_hhi" in book.columns else None
        ratings = pd.Series(book["rating"].astype(object).where(book["rating"].notna(), None)
                            .to_numpy(dtype=object), index=ids) \
            if "rating" in book.columns else None
        return supplier_inputs(suppliers, hhi, ratings)

    # --- payloads -----------------------------------------------------------------

    def score_payloads(self, payloads: Sequence[DebtorPayload | dict[str, Any]], *,
                       as_of: Any = None, decided_at: str | None = None,
                       reference_date: Any = None, book_rest: BookRest | None = None,
                       fx: FxRates | None = None, supplier_book: SupplierBook | None = None,
                       grades: Grades = None) -> list[dict[str, Any]]:
        """Decide many payloads through the batch path; one decision dict per pair.

        Parameters
        ----------
        payloads : sequence of DebtorPayload or dict
        as_of : date-like, optional
            Used for payloads without ``as_of``; a payload without one and no
            ``as_of`` here is refused.
        decided_at, reference_date, book_rest
            As in :meth:`decide` (the payloads' pairs are capped together against
            ``book_rest``).
        fx : FxRates, optional
            The rates when no payload gives ``fx_rates`` (the service's store); when
            any does, the payloads' rows are the rates of the call.
        supplier_book : SupplierBook, optional
            The suppliers' own ratings and debtors' dispersion known beyond the payloads
            (the register's): used where the payloads give none (a supplier's records in a
            payload, or a supplier that is a debtor of the call, rate it instead).

        Returns
        -------
        list of dict
            Payload after payload, each payload's pairs in the order of its
            exposures (:attr:`~riskengine.contracts.payload.DebtorPayload.pairs`): one
            decision per payload when each has one ``exposure``;
            :func:`~riskengine.contracts.payload.by_payload` groups them by payload.

        Raises
        ------
        InvalidInputError
            A payload is invalid (field path named) or one of its records is
            rejected by validation (the error rows are in ``problems``).
        """
        parsed = [parse_payload(p) for p in payloads]
        days = [self._payload_day(p, as_of, i) for i, p in enumerate(parsed)]
        for i, (p, day) in enumerate(zip(parsed, days, strict=True)):
            _refuse_future(day, reference_date, f"{i}.as_of", p.debtor.debtor_id)
        out: list[list[dict[str, Any]]] = [[] for _ in parsed]
        for day in sorted(set(days)):
            idx = [i for i, d in enumerate(days) if d == day]
            frames = payload_to_frames([parsed[i] for i in idx])
            if supplier_book is not None:
                frames["supplier_book"] = _fill_book(frames["supplier_book"], supplier_book)
            batch = self.decide(frames, day, decided_at=decided_at,
                                reference_date=reference_date, book_rest=book_rest, fx=fx,
                                grades=grades)
            if len(batch.errors):
                raise _batch_error(batch.errors)
            by_pair = {(d["debtor_id"], d["supplier_id"]): d for d in batch.to_dicts()}
            for i in idx:
                did = parsed[i].debtor.debtor_id
                out[i] = [by_pair[(did, ex.supplier_id)] for ex in parsed[i].pairs]
        return [d for pairs in out for d in pairs]

    def decide_payload(self, payload: DebtorPayload | dict[str, Any], *, as_of: Any = None,
                       decided_at: str | None = None, reference_date: Any = None,
                       book_rest: BookRest | None = None, fx: FxRates | None = None,
                       supplier_book: SupplierBook | None = None,
                       grades: Grades = None) -> list[dict[str, Any]]:
        """Decide every pair of one payload on the compact numpy path, together.

        The pairs share the debtor's capacity (one core call, as in a batch): the
        same decisions as :meth:`score_payloads` of ``[payload]``. ``book_rest`` is
        the rest of the book (the other debtors' limits in force, by group, sector and
        country, in the policy's book currency; the service reads it from the limit
        register): the group, sector and country caps leave these pairs only what the
        rest leaves (:func:`riskengine.policy.book.cap_alone`). ``fx``: the rates when
        the payload gives no ``fx_rates`` (the service's store). ``supplier_book``: the
        pairs' suppliers' own ratings and debtors' dispersion known beyond the payload
        (the service reads them from the register), as in :meth:`score_payloads`.
        ``grades``: officers' grades by debtor id (overrides): the policy decides on them.

        Returns
        -------
        list of dict
            :meth:`Decision.to_dict` of each pair's decision, in the order of the
            payload's exposures (:attr:`~riskengine.contracts.payload.DebtorPayload.pairs`).

        Raises
        ------
        InvalidInputError
            As :meth:`score_payloads`.
        """
        p = parse_payload(payload)
        day = self._payload_day(p, as_of, None)
        _refuse_future(day, reference_date, "as_of", p.debtor.debtor_id)
        return self._fast.decide_payload(p, day, decided_at, reference_date, book_rest, fx,
                                         supplier_book, grades)

    def decide_one(self, payload: DebtorPayload | dict[str, Any], *, as_of: Any = None,
                   decided_at: str | None = None, reference_date: Any = None,
                   fx: FxRates | None = None) -> dict[str, Any]:
        """Decide one payload of one pair (``exposure``) on the compact numpy path.

        Returns
        -------
        dict
            :meth:`Decision.to_dict` of the pair's decision.

        Raises
        ------
        InvalidInputError
            As :meth:`score_payloads`; a payload with ``exposures`` (several pairs:
            :meth:`decide_payload` decides them).
        """
        p = parse_payload(payload)
        if p.exposure is None:
            raise InvalidInputError(
                "Invalid debtor payload: field 'exposures': decide_one decides one pair "
                "(exposure); decide a payload with exposures with Engine.decide_payload.",
                [_error_row("payload", "", p.debtor.debtor_id, "exposures", "",
                            "several_pairs", "several pairs: use decide_payload")])
        return self.decide_payload(p, as_of=as_of, decided_at=decided_at,
                                   reference_date=reference_date, fx=fx)[0]

    @staticmethod
    def _payload_day(p: DebtorPayload, as_of: Any, i: int | None) -> str:
        if p.as_of is not None:
            return str(p.as_of)
        if as_of is None:
            where = "as_of" if i is None else f"{i}.as_of"
            raise InvalidInputError(
                f"Invalid debtor payload: field '{where}': missing; give the decision date "
                "in the payload or pass as_of.",
                [_error_row("payload", "" if i is None else str(i), p.debtor.debtor_id,
                            where, "", "missing", "decision date missing")])
        return as_of_text(as_of)


def _fill_book(frame: pd.DataFrame, book: SupplierBook) -> pd.DataFrame:
    """A payload's ``supplier_book`` with ``book``'s values where the payload gives none."""
    ids = frame["supplier_id"].astype("str").tolist()
    given = book.frame(ids)
    hhi = frame["debtor_hhi"].to_numpy(dtype=np.float64, na_value=np.nan)
    hhi = np.where(np.isnan(hhi), given["debtor_hhi"].to_numpy(dtype=np.float64), hhi)
    rating = [r if r is not None else g for r, g in zip(
        frame["rating"].tolist(), given["rating"].tolist(), strict=True)]
    return frame.assign(debtor_hhi=hhi, rating=pd.Series(rating, dtype=object))


def _refuse_future(day: str, reference_date: Any, field: str, debtor_id: str) -> None:
    """A decision dated after the reference date is refused (every interface alike): its
    open invoices would age past the default threshold and it would become the latest."""
    if reference_date is None:
        return
    try:
        refuse_after(parse_date(day), parse_date(reference_date, "reference_date"),
                     f"field '{field}'" if debtor_id else field,
                     where="Invalid debtor payload" if debtor_id else "",
                     hint="decide as of the reference date (today, or the one given) or "
                          "earlier.")
    except InvalidInputError as exc:
        rows = [{**r, "table": "payload" if debtor_id else "", "debtor_id": debtor_id,
                 "column": field, "record": field.partition(".")[0] if "." in field else "",
                 "message": f"{field} is after the reference date"} for r in exc.problems]
        raise InvalidInputError(str(exc), rows) from None


def _batch_error(errors: pd.DataFrame) -> InvalidInputError:
    rows = errors[errors["reason"] != "debtor_rejected"]
    rows = rows if len(rows) else errors
    first = rows.iloc[0]
    problems = [{k: (None if pd.isna(v) else v) for k, v in r.items()}
                for r in rows.to_dict("records")]
    return InvalidInputError(
        f"Invalid debtor payload: {first['message']} (table {first['table']}, field "
        f"'{first['column']}').", problems)
