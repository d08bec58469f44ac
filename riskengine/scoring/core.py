"""The decision core: debtor and pair arrays in, decision columns out.

:func:`_decide_core` takes the arrays of :mod:`riskengine.scoring.inputs` (built
from frames by :class:`~riskengine.scoring.engine.Engine`, or from one payload by
:mod:`riskengine.scoring.fastpath`) and the parts of an engine it reads
(:class:`EngineParts`):

1. PD before the overlay: the statement model (a :class:`Scorer`) on the
   ``statements`` basis, the basis prior otherwise;
2. the overlay on the log-odds (:mod:`riskengine.scoring.overlay`), default flags
   (insolvency, material past due: PD 1), the master-scale grade;
3. reason codes per debtor (:func:`~riskengine.scoring.reason_rows.reason_rows`: the
   same arrays the batch table renders as Arrow);
4. the credit policy per pair: the supplier (its own rating, assessment and assessed
   grade, :mod:`riskengine.scoring.suppliers`), knock-outs, limit, cover, expected
   loss, advance rate, fees;
5. the decision columns (:data:`~riskengine.contracts.decision.DECISION_FIELDS`)
   with the input hash.

:mod:`riskengine.scoring.table` builds the same decisions as one Arrow table
(the batch job). Pure: no I/O.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from riskengine.contracts.decision import COVER_BASES, DECISION_FIELDS
from riskengine.model.master_scale import GRADES, UNRATED, MasterScale
from riskengine.policy import credit_policy as _cp
from riskengine.policy._inputs import policy_tables
from riskengine.policy.book import BOOK_CAPS, cap_alone
from riskengine.policy.cover import insurance_cover
from riskengine.policy.insurer import covered, pool_caps
from riskengine.policy.limits import (
    DECISIONS,
    KNOCKOUT_REASONS,
    REASONS,
    decide_limits,
    decision_codes,
)
from riskengine.policy.pricing import fee_rates
from riskengine.policy.supplier import SUPPLIER_FACTORS, supplier_advance_rate
from riskengine.scoring.financials import BASES
from riskengine.scoring.inputs import DebtorInputs, PairInputs
from riskengine.scoring.overlay import Overlay, _contributions, _OverlayStatic, model_rated
from riskengine.scoring.reason_rows import (
    ReasonRows,
    model_reason_arrays,
    reason_dicts,
    reason_rows,
)
from riskengine.scoring.records import _hash_prefix, supplier_extras
from riskengine.scoring.suppliers import SupplierTerms, supplier_terms

__all__ = ["EngineParts", "Scorer", "SklearnScorer"]

FloatArray = npt.NDArray[np.float64]
CreditPolicy = _cp.CreditPolicy

_POLICY_BASIS = np.array([0, 1, 2])  # engine basis code -> policy.limits basis code
_BINDING = ("requested", "capacity", "ledger_cap", "group_cap", "sector_cap", "insurer_cover",
            "country_cap", "supplier")
_REASON_NAMES = np.asarray(REASONS)
_REASON_SHIFTS = np.arange(len(REASONS), dtype=np.uint32)
_BINDING_SET = np.isin(_REASON_NAMES, _BINDING)
_KO_SET = np.isin(_REASON_NAMES, KNOCKOUT_REASONS)
_BINDING_BITS = np.uint32(sum(1 << REASONS.index(n) for n in _BINDING))
_GRADE_INDEX = {g: i + 1 for i, g in enumerate(GRADES)}  # as master_scale.grade_index
_INSURER_BIT = np.uint32(1 << REASONS.index("insurer_cover"))
_EPS = 1e-9
_COVER_BASES = np.asarray(COVER_BASES, dtype=object)
_DECISION_TEXT = np.asarray(DECISIONS, dtype=object)  # by decision code (policy.limits)
_NO_COVER = COVER_BASES.index("none")


class EngineParts(Protocol):
    """What the core reads of an engine (:class:`~riskengine.scoring.engine.Engine`)."""

    @property
    def overlay(self) -> Overlay: ...

    @property
    def policy(self) -> CreditPolicy: ...

    @property
    def master_scale(self) -> MasterScale: ...

    @property
    def model_version(self) -> str: ...

    @property
    def pd_ceiling(self) -> float: ...

    @property
    def product_codes(self) -> Mapping[str, int]: ...

    @property
    def factor_capital(self) -> float | None: ...


def _logit(p: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out: FloatArray = np.log(p) - np.log1p(-p)
    return out


def _expit(z: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-z))
    return out


# --- scoring strategies ---------------------------------------------------------------


class Scorer(Protocol):
    """Statement-model PD and its reason codes for a feature matrix."""

    def __call__(self, A: FloatArray) -> tuple[FloatArray, list[list[dict[str, Any]]]]: ...


@dataclass(frozen=True)
class SklearnScorer:
    """The fitted :class:`~riskengine.model.pd_model.PDModel` and :mod:`~riskengine.model.explain`."""

    model: Any
    top_k: int = 3

    def __call__(self, A: FloatArray) -> tuple[FloatArray, list[list[dict[str, Any]]]]:
        from riskengine.model.explain import reason_codes

        if A.shape[0] == 0:
            return np.empty(0), []
        X = pd.DataFrame(A, columns=list(self.model.feature_names_in_))
        return (np.asarray(self.model.predict_pd(X), dtype=np.float64),
                reason_codes(self.model, X, top_k=self.top_k))


# --- the core --------------------------------------------------------------------------


def _decide_core(
    engine: EngineParts, deb: DebtorInputs, pairs: PairInputs, as_of: str,
    decided_at: str | None, scorer: Scorer,
) -> dict[str, list[Any]]:
    """Decisions as columns (:data:`~riskengine.contracts.decision.DECISION_FIELDS`), one per pair."""
    c = _core_numbers(engine, deb, pairs, scorer, as_of)
    return _core_lists(engine, deb, pairs, c, reason_dicts(c.debtor_reasons), as_of,
                       decided_at)


@dataclass(frozen=True)
class _Core:
    """The numbers of :func:`_decide_core` (steps 1 to 4), per debtor and per pair."""

    pd_model: FloatArray                  # (n,) PD before the overlay
    pd_final: FloatArray                  # (n,)
    valid: npt.NDArray[np.bool_]          # (n,) the model PD is a probability
    default: npt.NDArray[np.bool_]        # (n,)
    grade: np.ndarray                     # (n,) grade text, UNRATED when unrated
    contrib: FloatArray                   # (n, k) overlay contributions
    debtor_reasons: ReasonRows            # (n,) reason codes per debtor
    rated: npt.NDArray[np.bool_]          # (m,)
    gidx: npt.NDArray[np.int64]           # (m,) grade index of the pair's debtor (0: unrated)
    fin_converted: npt.NDArray[np.bool_]  # (m,) capacity from statements in another currency
    led_converted: npt.NDArray[np.bool_]  # (m,) the supplier's ledger in another currency
    sup_missing: npt.NDArray[np.bool_]
    approved: FloatArray
    approved_base: FloatArray             # (m,) approved, in the reporting currency
    decision: np.ndarray                  # (m,) decision type names
    reasons: npt.NDArray[np.uint32]       # (m,) policy reason bits
    insured: FloatArray
    insured_amount: FloatArray            # (m,) what the insurer pays on a total loss
    cover_basis: np.ndarray               # (m,) insurer_limit / discretionary / none
    insurer_policy: np.ndarray            # (m,) the insurance policy (None: not known)
    insurer_status: np.ndarray            # (m,) the applied insurer limit's status (None)
    wanted: FloatArray                    # (m,) the approved limit before the insurer hold
    retained: FloatArray
    el: FloatArray
    el_un: FloatArray
    adv: FloatArray
    comm: FloatArray
    disc: FloatArray
    capacity: FloatArray                  # (m,) the debtor's capacity, shared by its pairs
    supplier: SupplierTerms               # (m,) each pair's supplier: rating, assessment
    supplier_cap: FloatArray              # (m,) the supplier's cap (inf: none)
    size_unconverted: npt.NDArray[np.bool_]  # (m,) size features not in the model's unit


def _ratings(engine: EngineParts, deb: DebtorInputs, scorer: Scorer) -> tuple[Any, ...]:
    """Steps 1 and 2 for 1 ... n debtors: ``(pd_model, model reasons, overlay
    contributions, valid, default, pd_final, grade)``."""
    ov = engine.overlay

    # 1. PD before overlay: the model on statement rows (and on tax returns when the
    # overlay says the model was fitted on them), the basis prior otherwise
    pd_model = np.where(deb.basis == 1, ov.tax_return_pd, ov.no_financials_pd).astype(float)
    rows = model_rated(deb.basis, ov).nonzero()[0]
    mr = model_reason_arrays(scorer, deb.st_X[rows], rows, pd_model)

    # 2. overlay on the log-odds (monotone), then default flags
    ov_static = _OverlayStatic.of(ov)
    contrib = _contributions(deb.overlay_X, ov_static)
    valid = np.isfinite(pd_model) & (pd_model > 0) & (pd_model < 1)
    z = _logit(np.where(valid, pd_model, 0.5))
    for j in range(contrib.shape[1]):  # term by term: the same sum whatever the batch size
        z = z + contrib[:, j]
    pd_adj = np.where(valid, np.minimum(_expit(z), engine.pd_ceiling), np.nan)
    default = deb.insolvency | deb.past_due_default
    pd_final = np.where(default, 1.0, pd_adj)  # defaulted: PD 1 (CRR art. 178), any model PD
    grade = engine.master_scale.pd_to_grade(pd_final, default, invalid="unrated")
    if deb.grade_override is not None:  # an officer's grade (issue 18): its central PD
        over = deb.grade_override != ""
        central = np.array([*engine.master_scale.central_pds, 1.0])
        gi = _lookup(deb.grade_override.astype(object), _GRADE_INDEX, 0)
        over &= gi > 0
        grade = np.where(over, deb.grade_override, grade)
        pd_final = np.where(over, central[np.maximum(gi, 1) - 1], pd_final)
    return pd_model, mr, contrib, valid, default, pd_final, grade


def _core_numbers(engine: EngineParts, deb: DebtorInputs, pairs: PairInputs,
                  scorer: Scorer, as_of: str) -> _Core:
    """PD (step 1), overlay, default flags, grade (step 2), reason codes (step 3) and
    the policy per pair (step 4), for 1 ... n debtors."""
    ov = engine.overlay
    policy = engine.policy
    pd_model, mr, contrib, valid, default, pd_final, grade = _ratings(engine, deb, scorer)

    # 3. reason codes per debtor
    debtor_reasons = reason_rows(ov, deb, contrib, valid, default, mr)

    # 4. policy per pair
    m = pairs.debtor_pos.shape[0]
    dp = pairs.debtor_pos
    g_pair = grade[dp]
    rated = g_pair != UNRATED
    # statements and the supplier's ledger in the pair's currency, at the rates in force on
    # as_of (riskengine.features.fx; a debtor without a needed rate never reaches the core)
    fin_converted = (deb.basis[dp] != 2) & (deb.fin_currency[dp] != pairs.currency)
    led_converted = pairs.supplier_currency != pairs.currency
    tnw = deb.tnw[dp] * pairs.fx_fin
    rev = deb.revenue[dp] * pairs.fx_fin
    prof = deb.profit[dp] * pairs.fx_fin
    ledger = pairs.supplier_ledger * pairs.fx_ledger

    approved = np.zeros(m)
    decision = np.array(["unrated"] * m, dtype=object)
    reasons = np.zeros(m, dtype=np.uint32)
    r_idx = rated.nonzero()[0]
    gidx = _lookup(g_pair, _GRADE_INDEX, 0)
    pcode = _lookup(pairs.product, engine.product_codes, None)
    # The supplier: its own rating (its records decided as a debtor in the same call, else
    # the rating given: the register's, the batch's first pass, its records in a payload)
    # moved down by its assessment (riskengine.policy.supplier). Recourse products: the
    # supplier bears the debtor's risk, so its assessed grade drives the decision (a
    # supplier in default refuses it, its grade caps the limit) and the advance rate and
    # fees (seeds 001, 003). A supplier without a rating leaves the debtor's grade in
    # charge, with the note supplier_not_rated.
    sup = supplier_terms(policy, deb.debtor_id, grade, pairs)
    s_rated = sup.grade > 0
    recourse = policy_tables(policy).recourse[pcode].astype(bool) & rated
    notched = recourse & s_rated  # the pricing grade carries the supplier's notches
    g_drive = np.where(notched, sup.grade, gidx)
    sup_missing = recourse & ~s_rated
    # the insurer limit of each pair, its pool and cap in force (policy.insurer, issue 16)
    tables = policy_tables(policy)
    pc = pool_caps(pairs.insurer_rows, pairs.applied_rows(), pairs.insurer_limit,
                   product=pcode, currency=pairs.currency, debtor=dp, grade=gidx,
                   protected=pairs.protected, as_of=np.datetime64(as_of, "D"), policy=policy,
                   rates=pairs.rates)
    waits = tables.await_insurer[pcode] & tables.requires_insurance[pcode] \
        if m else np.zeros(0, dtype=bool)
    # one call for every rated pair: a debtor's capacity is one amount shared among all its
    # pairs, whatever their currencies (policy.limits.decide_limits with the debtor key and
    # each pair's rate into the reporting currency); a product that waits for the insurer
    # is capped at the cover it can get (a second call, only then)
    capacity = np.full(m, np.nan)
    supplier_cap = np.full(m, np.inf)
    wanted = np.zeros(m)
    if r_idx.size:
        sel = r_idx
        cols: dict[str, Any] = {
            "grade": gidx[sel], "requested": pairs.requested[sel],
            "product": pcode[sel],
            "basis": _POLICY_BASIS[deb.basis[dp[sel]]],
            "tnw": tnw[sel], "revenue": rev[sel], "profit": prof[sel],
            "adverse_knockout": deb.knockout[dp[sel]], "insolvency": deb.insolvency[dp[sel]],
            "related": pairs.related[sel], "supplier_ledger": ledger[sel],
            "supplier_grade": g_drive[sel], "supplier_rated": notched[sel],
            "debtor": dp[sel], "fx": pairs.fx_base[sel],
            "minimum_fx": pairs.fx_capacity[sel],
            "protected": pairs.protected[sel],
        }
        if engine.factor_capital is not None:  # in the reporting currency: into the pair's
            cols["factor_capital"] = engine.factor_capital / pairs.fx_base[sel]
        res = decide_limits(cols, policy)
        wanted[sel] = res.approved
        if waits[sel].any():
            cap_now = pc.pair_caps()  # in the pair's currency
            res = decide_limits({**cols, "insurer_limit": cap_now[sel],
                                 "insurer_limit_given": waits[sel]}, policy)
        approved[sel] = res.approved
        decision[sel] = _DECISION_TEXT[res.decision]
        reasons[sel] = res.reasons
        capacity[sel] = res.capacity
        supplier_cap[sel] = res.supplier_cap
        if deb.book_rest is not None:
            before = approved.copy()
            _cap_with_rest(deb, pairs, sel, approved, decision, reasons, policy)
            cut = approved < before  # what the book allows is what to ask the insurer for
            wanted[cut] = approved[cut]
    # each pair's share of its pool (a debtor-level limit, a discretionary cap); a pair that
    # waits for the insurer is held at its share, rounded down
    cov_amt = covered(pc, approved, pairs.protected)
    held = waits & rated & (np.floor(cov_amt / policy.limits.rounding_unit + _EPS)
                            * policy.limits.rounding_unit < approved)
    if held.any():
        unit = policy.limits.rounding_unit
        approved = np.where(held, np.floor(cov_amt / unit + _EPS) * unit, approved)
        reasons = np.where(held, reasons | _INSURER_BIT, reasons).astype(np.uint32)
        codes = decision_codes(approved[held], pairs.requested[held], unit)
        decision[held] = _DECISION_TEXT[codes]
        cov_amt = np.minimum(cov_amt, approved)

    # cover (no cover is assumed: policy.insurer), expected loss, advance rate, fees on
    # rated pairs
    insured = np.zeros(m)
    insured_amount = np.zeros(m)
    retained = np.zeros(m)
    el = np.full(m, np.nan)
    el_un, adv, comm, disc = el.copy(), el.copy(), el.copy(), el.copy()
    if r_idx.size:
        gi = gidx[r_idx]
        lim = approved[r_idx]
        prod = pcode[r_idx]
        cov = insurance_cover(gi, lim, pd_final[dp[r_idx]], policy, covered=cov_amt[r_idx],
                              cover_pct=pc.pct[r_idx], product=prod)
        insured[r_idx] = cov.insured_limit
        insured_amount[r_idx] = cov.insured_amount
        retained[r_idx] = cov.retained
        el[r_idx] = cov.expected_loss_insured
        el_un[r_idx] = cov.expected_loss_uninsured
        gp = g_drive[r_idx]  # pricing grade: the supplier's for recourse products
        # a refused pair (approved 0) is not financed: no advance, no fees
        adv[r_idx] = supplier_advance_rate(
            gp, prod, policy, dilution=deb.dilution[dp[r_idx]],
            credit_note_share=sup.credit_note_share[r_idx],
            consignment_share=sup.consignment_share[r_idx], notches=sup.notches[r_idx],
            notched=notched[r_idx], approved=lim)
        comm[r_idx], disc[r_idx] = fee_rates(gp, prod, policy, approved=lim)
    basis = _COVER_BASES[np.where(rated, pc.basis, _NO_COVER)]
    return _Core(pd_model, pd_final, valid, default, grade, contrib, debtor_reasons, rated, gidx,
                 fin_converted, led_converted, sup_missing, approved,
                 approved * pairs.fx_base, decision, reasons, insured, insured_amount, basis,
                 pc.policy_id, pc.status, wanted, retained, el, el_un, adv, comm, disc,
                 capacity, sup, supplier_cap,
                 np.zeros(m, dtype=bool) if deb.size_unconverted is None
                 else deb.size_unconverted[dp] & (deb.basis[dp] == 0))


def _cap_with_rest(deb: DebtorInputs, pairs: PairInputs, sel: npt.NDArray[np.int64],
                   approved: FloatArray, decision: np.ndarray, reasons: npt.NDArray[np.uint32],
                   policy: CreditPolicy) -> None:
    """The book's caps on pairs decided alone (in place): :func:`cap_alone` against the
    rest of the book (``deb.book_rest``) for the live pairs, in the book's currency (each
    pair's amounts at its rate, ``pairs.fx_base``), then the limits converted back and
    rounded down in the pair's currency and the decisions and binding constraints of the
    cut pairs set as the batch's book pass sets them (:mod:`riskengine.batch.book`)."""
    rest = deb.book_rest
    assert rest is not None
    book = policy.book
    live = sel[approved[sel] > 0]
    if not live.size:
        return
    fx = pairs.fx_base[live]
    dp = pairs.debtor_pos[live]
    gid = pairs.group_id[live]
    has_group = np.array([g is not None and str(g).strip() != "" for g in gid.tolist()],
                         dtype=bool)
    group = np.where(has_group, gid, np.char.add("\x00debtor:", deb.debtor_id[dp].astype(str)))
    protected = np.nan_to_num(pairs.protected[live], nan=0.0) * fx
    caps = cap_alone(approved[live] * fx, protected, group,
                     np.asarray(rest.debtor_sector, dtype=object)[dp],
                     np.asarray(rest.debtor_country, dtype=object)[dp], rest, book)
    unit = policy.limits.rounding_unit
    back = np.where(fx == 1.0, caps.approved, caps.approved / fx)  # the pair's currency
    after = np.floor(back / unit + 1e-9) * unit
    cut = after < approved[live]
    if not cut.any():
        return
    rows = live[cut]
    approved[rows] = after[cut]
    req = np.nan_to_num(pairs.requested[rows], nan=0.0)
    full = np.floor(req / unit + 1e-9) * unit
    decision[rows] = np.where(after[cut] <= 0, "refused",
                              np.where(after[cut] >= full, "full", "partial"))
    bits = np.zeros(rows.size, dtype=np.uint32)
    for name in BOOK_CAPS:
        bits |= np.where(caps.bound[name][cut], np.uint32(1 << REASONS.index(name)),
                         np.uint32(0)).astype(np.uint32)
    # a cut pair is bound by the caps that cut it, not by what bound it before
    reasons[rows] = (reasons[rows] & ~_BINDING_BITS) | bits


def _core_lists(engine: EngineParts, deb: DebtorInputs, pairs: PairInputs, c: _Core,
                debtor_reasons: list[tuple[dict[str, Any], ...]], as_of: str,
                decided_at: str | None) -> dict[str, list[Any]]:
    """5. The decision columns as lists (Python objects only where a decision needs them)."""
    m = pairs.debtor_pos.shape[0]
    ov = engine.overlay
    policy = engine.policy
    dp = pairs.debtor_pos
    rated = c.rated
    dp_l = dp.tolist()
    ok_rated = rated.tolist()
    col: dict[str, list[Any]] = {}
    col["debtor_id"] = deb.debtor_id[dp].tolist()
    col["supplier_id"] = [str(x) for x in pairs.supplier_id.tolist()]
    col["as_of"] = [as_of] * m
    col["pd"] = _floats(c.pd_final[dp], rated)
    col["pd_model"] = _floats(c.pd_model[dp])
    grades = [str(g) for g in c.grade[dp].tolist()]
    col["grade"] = [g if r else None for g, r in zip(grades, ok_rated, strict=True)]
    basis_names = [BASES[b] for b in deb.basis.tolist()]
    col["rating_basis"] = [basis_names[i] for i in dp_l]
    col["reason_codes"] = [debtor_reasons[i] for i in dp_l]
    col["requested_limit"] = _floats(pairs.requested)
    col["approved_limit"] = c.approved.astype(np.float64).tolist()
    col["approved_limit_base"] = c.approved_base.astype(np.float64).tolist()
    col["fx_rate"] = _floats(pairs.fx_base)
    col["decision_type"] = [str(x) for x in c.decision.tolist()]
    # the three reason tuples depend only on the policy bits and three flags: each
    # distinct combination is built once (cached)
    tuples = [_reason_tuples(u) for u in _reason_key(c).tolist()]
    col["binding_constraints"] = [t[0] for t in tuples]
    col["knockouts"] = [t[1] for t in tuples]
    col["limit_notes"] = [t[2] for t in tuples]
    col["product"] = [str(x) for x in pairs.product.tolist()]
    col["insured_limit"] = c.insured.astype(np.float64).tolist()
    col["cover_basis"] = [str(x) for x in c.cover_basis.tolist()]
    col["insured_amount"] = c.insured_amount.astype(np.float64).tolist()
    col["insurer_policy_id"] = [None if x is None else str(x)
                                for x in c.insurer_policy.tolist()]
    col["insurer_status"] = [None if x is None else str(x) for x in c.insurer_status.tolist()]
    col["limit_before_insurer"] = c.wanted.astype(np.float64).tolist()
    col["retained_exposure"] = c.retained.astype(np.float64).tolist()
    col["expected_loss"] = _floats(c.el)
    col["expected_loss_uninsured"] = _floats(c.el_un)
    col["advance_rate"] = _floats(c.adv)
    col["service_commission_rate"] = _floats(c.comm)
    col["discount_rate"] = _floats(c.disc)
    col["currency"] = [str(x) for x in pairs.currency.tolist()]
    col["model_version"] = [engine.model_version] * m
    col["policy_version"] = [policy.version] * m
    col["master_scale_version"] = [engine.master_scale.version] * m
    col["overlay_version"] = [ov.version] * m
    prefix = _hash_prefix(as_of)  # cached, never updated: each hash starts from a copy
    dig = deb.digest.tobytes()
    terms_mv = memoryview(pairs.terms.buf.data)
    extras = supplier_extras(c.supplier.rating, c.supplier.debtor_hhi).tobytes()
    w = len(extras) // m if m else 0
    hashes = []
    for k, (i, a, b) in enumerate(zip(dp_l, pairs.terms.start.tolist(),
                                      pairs.terms.stop.tolist(), strict=True)):
        h = prefix.copy()
        h.update(dig[32 * i:32 * i + 32])
        h.update(terms_mv[a:b])
        h.update(extras[w * k:w * k + w])
        hashes.append(h.hexdigest())
    col["input_hash"] = hashes
    col["decided_at"] = [decided_at] * m
    col["group_id"] = [None if g is None else str(g) for g in pairs.group_id.tolist()]
    col["debtor_capacity"] = _floats(c.capacity, rated)
    col["approved_outstanding"] = _floats(pairs.protected)
    col["current_limit"] = _floats(pairs.current_limit)
    col["supplier_grade"] = _grade_texts(c.supplier.grade)
    col["supplier_cap"] = _floats(c.supplier_cap)
    return {f: col[f] for f in DECISION_FIELDS}


def _grade_texts(gidx: npt.NDArray[np.int64]) -> list[str | None]:
    """Grade text of each grade index (0: None)."""
    names = (None, *GRADES)
    return [names[g] for g in gidx.tolist()]


#: The key bit of the note ``size_not_converted`` (after the supplier's weak factors).
_SIZE_BIT = 36 + len(SUPPLIER_FACTORS)


def _reason_key(c: _Core) -> npt.NDArray[np.int64]:
    """Each pair's key of :func:`_reason_tuples`."""
    out: npt.NDArray[np.int64] = (
        c.reasons.astype(np.int64) | ((c.fin_converted & c.rated).astype(np.int64) << 32)
        | ((c.led_converted & c.rated).astype(np.int64) << 33)
        | ((~c.rated).astype(np.int64) << 34) | (c.sup_missing.astype(np.int64) << 35)
        | (c.supplier.flags.astype(np.int64) << 36)
        | (c.size_unconverted.astype(np.int64) << _SIZE_BIT))
    return out


@functools.lru_cache(maxsize=4096)
def _reason_tuples(u: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Binding constraints, knock-outs and notes of one key of :func:`_decide_core`
    (the policy's reason bits, then statements and ledger converted from another currency,
    unrated, recourse supplier not rated, the supplier's weak factors, the size features
    without a rate into the model's money unit)."""
    names = _REASON_NAMES
    bits = ((np.uint32(u & 0xFFFFFFFF) >> _REASON_SHIFTS) & 1).astype(bool)
    notes = [str(x) for x in names[bits & ~_BINDING_SET & ~_KO_SET]]
    if u >> 32 & 1:
        notes.append("statements_converted")
    if u >> 33 & 1:
        notes.append("ledger_converted")
    if u >> 34 & 1:
        notes.append("unrated")
    if u >> 35 & 1:
        notes.append("supplier_not_rated")
    notes.extend(f for i, f in enumerate(SUPPLIER_FACTORS) if u >> (36 + i) & 1)
    if u >> _SIZE_BIT & 1:
        notes.append("size_not_converted")
    return (tuple(str(x) for x in names[bits & _BINDING_SET]),
            tuple(str(x) for x in names[bits & _KO_SET]), tuple(notes))


def _lookup(values: np.ndarray, table: Mapping[str, int], default: int | None
            ) -> npt.NDArray[np.int64]:
    """``table[str(v)]`` of each value (each distinct value looked up once)."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if values.size <= 8:
        return np.array([table[str(v)] if default is None else table.get(str(v), default)
                         for v in values.tolist()], dtype=np.int64)
    arr = np.asarray(values)
    if arr.dtype == object and pd.api.types.infer_dtype(arr, skipna=False) == "string":
        inv, found = pd.factorize(arr)  # text already: a hash pass, no str() copy
        uniq = [str(u) for u in found.tolist()]
    else:
        sorted_uniq, inv = np.unique(arr.astype(str), return_inverse=True)
        uniq = sorted_uniq.tolist()
    # looked up in sorted order: a missing value raises the KeyError of the smallest one
    code = {u: table[u] if default is None else table.get(u, default) for u in sorted(uniq)}
    out: npt.NDArray[np.int64] = np.array([code[u] for u in uniq], dtype=np.int64)[inv.ravel()]
    return out


def _floats(a: FloatArray, ok: npt.NDArray[np.bool_] | None = None) -> list[float | None]:
    """Python floats; None where not finite (or not ``ok``)."""
    a = np.asarray(a, dtype=np.float64)
    values: list[float | None] = a.tolist()
    if len(values) <= 16:  # a few (one payload's pairs): tested on the Python floats
        isfinite = math.isfinite
        if ok is None:
            return [v if isfinite(v) else None for v in values]  # type: ignore[arg-type]
        return [v if k and isfinite(v) else None  # type: ignore[arg-type]
                for v, k in zip(values, ok.tolist(), strict=True)]
    keep = np.isfinite(a) if ok is None else np.isfinite(a) & ok
    if keep.all():
        return values
    return [v if k else None for v, k in zip(values, keep.tolist(), strict=True)]

