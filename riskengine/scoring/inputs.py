"""The inputs of the decision core: per-debtor and per-pair arrays (stage contracts).

Both paths build them: the batch path from validated frames
(:meth:`riskengine.scoring.engine.Engine.decide`), the single-debtor path from one
payload (:mod:`riskengine.scoring.fastpath`); :func:`riskengine.scoring.core._decide_core`
reads them. Pure values: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from riskengine.policy.book import BookRest
from riskengine.policy.insurer import InsurerRows

__all__ = ["DebtorInputs", "PairInputs", "PairBytes", "SupplierInputs"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PairBytes:
    """The pair part of each pair document: ``buf[start[k]:stop[k]]``."""

    buf: npt.NDArray[np.uint8]
    start: npt.NDArray[np.int64]
    stop: npt.NDArray[np.int64]


Grades = Mapping[str, str] | None
"""Officers' grades by debtor id (an override re-runs the policy on them), or None."""


@dataclass(frozen=True)
class DebtorInputs:
    """Per-debtor arrays the core reads (length ``n``; built by either path)."""

    debtor_id: npt.NDArray[np.object_]
    st_X: FloatArray                      # (n, p) model features (NaN allowed)
    basis: npt.NDArray[np.int64]          # code into BASES
    overlay_X: FloatArray                 # (n, k) overlay features
    insolvency: npt.NDArray[np.bool_]
    past_due_default: npt.NDArray[np.bool_]
    knockout: npt.NDArray[np.bool_]
    dilution: FloatArray
    tnw: FloatArray
    revenue: FloatArray
    profit: FloatArray
    fin_currency: npt.NDArray[np.object_]  # latest statement currency ("" without)
    past_due_amount: FloatArray
    digest: npt.NDArray[np.uint8]         # (n, 32) debtor digests (input hash)
    #: the rest of the book the call's pairs are capped against (groups, sectors,
    #: countries; policy.book.cap_alone): the single path reads it from the register;
    #: None: no book caps here (a batch caps the whole book at once, riskengine.batch.book)
    book_rest: BookRest | None = None
    #: an officer's grade per debtor ("" keeps the model's; issue 18): the core decides
    #: the policy (limit, cover, advance, fees) on it, at the grade's central PD
    grade_override: npt.NDArray[np.object_] | None = None
    #: the size features could not be moved into the model's money unit (no rate in force:
    #: riskengine.features.units.size_in_unit); they are NaN and the decisions carry the
    #: note ``size_not_converted``. None: all converted
    size_unconverted: npt.NDArray[np.bool_] | None = None

    def with_grades(self, grades: Grades) -> DebtorInputs:
        """These inputs with an officer's grade for the debtors in ``grades`` (None or
        empty: unchanged)."""
        if not grades:
            return self
        import dataclasses

        over = np.array([grades.get(str(d), "") for d in self.debtor_id], dtype=object)
        return dataclasses.replace(self, grade_override=over)


@dataclass(frozen=True)
class SupplierInputs:
    """Per-supplier arrays (length ``s``); ``PairInputs.supplier_pos`` indexes them.

    The assessment columns of :data:`riskengine.contracts.schemas.SUPPLIER_ASSESSMENT`
    (missing: not assessed), the dispersion of the supplier's debtors over the book
    (:func:`riskengine.policy.supplier.debtor_hhi`; NaN: unknown) and its own rating
    from outside the call (``rating``: grade index 1 ... 11, 0 without one; the register's,
    the batch's first pass, or its records in the payload). A supplier rated as a debtor in
    the same call takes that rating instead.
    """

    supplier_id: npt.NDArray[np.object_]
    sector_outlook: npt.NDArray[np.object_]
    goods_or_services: npt.NDArray[np.object_]
    perishable: FloatArray                # 1.0 / 0.0 / NaN
    standardised_goods: FloatArray        # 1.0 / 0.0 / NaN
    consignment_share: FloatArray
    credit_note_share: FloatArray
    debtor_hhi: FloatArray
    rating: npt.NDArray[np.int64]


@dataclass(frozen=True)
class PairInputs:
    """Per-pair arrays (length ``m``); ``debtor_pos`` indexes :class:`DebtorInputs`."""

    debtor_pos: npt.NDArray[np.int64]
    supplier_id: npt.NDArray[np.object_]
    currency: npt.NDArray[np.object_]
    requested: FloatArray
    annual_sales: FloatArray
    product: npt.NDArray[np.object_]
    supplier_ledger: FloatArray
    supplier_currency: npt.NDArray[np.object_]
    related: npt.NDArray[np.bool_]
    insurer_limit: FloatArray
    terms: PairBytes                      # pair part of each input document
    protected: FloatArray                 # approved outstanding (kept first when capacity is shared)
    group_id: npt.NDArray[np.object_]     # the debtor's connected group (None without)
    current_limit: FloatArray             # the limit in force before (exposures.approved_limit)
    # the rates in force on as_of (riskengine.features.fx.pair_rates): units of the
    # reporting currency per one unit of the pair's currency, and units of the pair's
    # currency per one unit of the debtor's latest statement currency, of the supplier's
    # ledger currency and of the policy's capacity.currency (1 where the same)
    fx_base: FloatArray
    fx_fin: FloatArray
    fx_ledger: FloatArray
    fx_capacity: FloatArray
    #: the pair's supplier in ``suppliers`` (None: no supplier known beyond its id)
    supplier_pos: npt.NDArray[np.int64] | None = None
    suppliers: SupplierInputs | None = None
    #: the insurer limits known (issue 16) and the one applied to each pair
    #: (riskengine.policy.insurer.match_rows: -1 none, -2 the legacy insurer_limit)
    insurer_rows: InsurerRows = field(default_factory=InsurerRows.empty)
    insurer_row: npt.NDArray[np.int64] | None = None
    #: the rates in force on as_of over CURRENCIES (FxRates.at; NaN: none): an insurer
    #: limit or the discretionary cap in another currency than its pair converts at them
    #: (riskengine.policy.insurer.pool_caps). None: only the same currency converts
    rates: FloatArray | None = None

    def applied_rows(self) -> npt.NDArray[np.int64]:
        """:attr:`insurer_row`, or -1 / -2 from the legacy ``insurer_limit`` when not set."""
        if self.insurer_row is not None:
            return self.insurer_row
        return np.where(np.isfinite(self.insurer_limit), -2, -1).astype(np.int64)
