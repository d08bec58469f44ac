"""A portfolio: every table checked, the cross-table references, the batch rule.

:func:`validate_portfolio` checks each contract table (:mod:`.table`), the
statements' identities (:mod:`.identities`) and the references between tables
(``unknown_debtor``, ``unknown_supplier``; an outcome dated after the book's as-of,
``after_as_of``), then rejects every debtor with a
problem whole and returns the clean frames with the error rows
(:class:`ValidatedPortfolio`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskengine.contracts import schemas
from riskengine.contracts.dates import parse_date
from riskengine.errors import InvalidInputError
from riskengine.validation.columns import _blank, _empty_frame, _finalise, _reference
from riskengine.validation.errors import (
    _Emitter,
    _Errors,
    _fixed_sentence,
    _rejection_rows,
    raise_if_errors,
)
from riskengine.validation.fx import validate_fx_rates
from riskengine.validation.identities import _identity_checks
from riskengine.validation.keys import _isin
from riskengine.validation.table import _check_table, _Checked

__all__ = ["ValidatedPortfolio", "validate_portfolio"]


@dataclass(frozen=True, slots=True)
class ValidatedPortfolio:
    """The outcome of :func:`validate_portfolio`.

    Attributes
    ----------
    frames : dict of str to pandas.DataFrame
        Clean frames for every contract table (empty, canonical frames for the
        tables not given); only records of clean debtors. A reference table given
        (``fx_rates``: :func:`~riskengine.validation.fx.validate_fx_rates`) is there too.
    errors : pandas.DataFrame
        Every problem (:data:`riskengine.contracts.schemas.ERROR_COLUMNS`), then one
        ``debtor_rejected`` row per rejected debtor.
    rejected_debtors : tuple of str
        Debtors of the input that were rejected whole, sorted.
    rows_in : dict of str to int
        Number of input rows per table.
    debtors_in : int
        Number of distinct debtor ids in the input debtors table, plus its rows
        without a debtor id (``debtors_unidentified``).
    debtors_unidentified : int
        Rows of the input debtors table without a debtor id (missing or blank):
        each is a debtor in and a rejected one (its ``missing_value`` row).
    """

    frames: dict[str, pd.DataFrame]
    errors: pd.DataFrame
    rejected_debtors: tuple[str, ...]
    rows_in: dict[str, int] = field(default_factory=dict)
    debtors_in: int = 0
    debtors_unidentified: int = 0

    @property
    def problems(self) -> pd.DataFrame:
        """The error rows without the ``debtor_rejected`` summaries."""
        return self.errors[self.errors["reason"] != "debtor_rejected"].reset_index(drop=True)

    def summary(self) -> dict[str, int]:
        """Counts: debtors in/clean/rejected, problems, rows in/clean per table, problems per reason.

        ``debtors_in == debtors_clean + debtors_rejected`` always holds.
        """
        out = {
            "debtors_in": self.debtors_in,
            "debtors_clean": len(self.frames["debtors"]),
            "debtors_rejected": len(self.rejected_debtors) + self.debtors_unidentified,
            "problems": len(self.problems),
        }
        for name, frame in self.frames.items():
            out[f"{name}_in"] = self.rows_in.get(name, 0)
            out[f"{name}_clean"] = len(frame)
        for reason, k in self.errors["reason"].value_counts(sort=False).items():
            out[f"reason_{reason}"] = int(k)
        return out


def _cross_checks(
    checked: dict[str, _Checked], input_ids: pd.Index, has_ids: bool, suppliers_given: bool
) -> None:
    """unknown_debtor and unknown_supplier: references to records not in their table."""
    sup = checked["suppliers"]
    sup_ids = sup.frame["supplier_id"]
    sup_all = sup_ids[sup_ids.notna().to_numpy()]
    sup_ok = sup_ids[sup_ids.notna().to_numpy() & sup.row_ok & sup.table_ok]
    for name, c in checked.items():
        emit = _Emitter(c.frame, c.labels, c.errors, c.row_ok)
        if name != "debtors" and has_ids and "debtor_id" in c.present:
            codes = c.cache.codes("debtor_id")[0]
            unknown = (codes >= 0) & ~c.member("debtor_id", input_ids)
            noun = c.labels.noun
            emit(
                unknown,
                "debtor_id",
                "unknown_debtor",
                _fixed_sentence(
                    "{s}: the debtor is not in the debtors table ({w}). Add the "
                    "debtor or remove the {noun}.",
                    noun,
                ),
            )
        if (
            suppliers_given
            and name in ("exposures", "invoices", "relations", "insurer_limits")
            and "supplier_id" in c.present
        ):
            codes = c.cache.codes("supplier_id")[0]
            bad = (codes >= 0) & ~c.member("supplier_id", sup_ok)
            if bad.any():
                listed = _isin(c.frame["supplier_id"][bad], sup_all).tolist()
                why = [
                    "was rejected in the suppliers table (see its errors)"
                    if x
                    else "is not in the suppliers table"
                    for x in listed
                ]
                noun = c.labels.noun
                emit(
                    bad,
                    "supplier_id",
                    "unknown_supplier",
                    _fixed_sentence(
                        "{s}: supplier {v!r} {w} {x}. Correct the supplier or remove the {noun}.",
                        noun,
                    ),
                    extra=why,
                )


def _outcome_checks(c: _Checked, book_as_of: pd.Timestamp) -> None:
    """after_as_of: an outcome whose default is dated after the book's as-of date (the
    book cannot have observed it; counted as a label it would leak the future)."""
    if "default_date" not in c.present:
        return
    day = book_as_of.date()
    emit = _Emitter(c.frame, c.labels, c.errors, c.row_ok)
    emit(
        (c.frame["default_date"] > book_as_of).to_numpy(dtype=bool, na_value=False),
        "default_date",
        "after_as_of",
        lambda s, w, v, x: (
            f"{s}: default_date is {v} {w}, after the portfolio's as_of {day}; a book "
            f"records only the defaults seen by its as_of. Correct the date or the "
            f"manifest's as_of, or remove the outcome."
        ),
    )


def validate_portfolio(
    frames: Mapping[str, pd.DataFrame],
    *,
    reference_date: Any = None,
    book_as_of: Any = None,
    strict: bool = False,
    rel_tol: float = 0.02,
    abs_tol: float = 1.0,
) -> ValidatedPortfolio:
    """Validate every table of a portfolio and reject invalid debtors whole.

    Parameters
    ----------
    frames : mapping of str to pandas.DataFrame
        Tables keyed by contract name (``debtors`` is required; an absent table
        is treated as empty). Not modified.
    reference_date : date-like, optional
        Extraction date for the ``future_date`` check (None: no check).
    book_as_of : date-like, optional
        The portfolio's own as-of date (its manifest's ``as_of``): an ``outcomes`` row
        dated after it is an ``after_as_of`` error (None: no check). Not the date of
        a decision: a book is decided as of past dates with later outcomes in it.
    strict : bool, default False
        Raise :class:`InvalidInputError` listing every problem instead of
        returning the clean part.
    rel_tol, abs_tol : float
        Tolerances of :func:`check_identities`.

    Returns
    -------
    ValidatedPortfolio

    Raises
    ------
    InvalidInputError
        When ``debtors`` is absent, or when ``strict`` and any problem is found.

    Notes
    -----
    Batch rule (docs/DESIGN.md): a debtor with any invalid record in any table,
    or with records in a table rejected at table level, is rejected whole: its
    records leave every clean frame and it gets one error row per problem plus
    one ``debtor_rejected`` row. A record whose debtor is not in the debtors
    table is an ``unknown_debtor`` error (its id is not an input debtor, so it
    is not in ``rejected_debtors``). When ``suppliers`` is given, a record of
    ``exposures``, ``invoices`` or ``relations`` whose supplier is absent from
    it or invalid there is an ``unknown_supplier`` error, which rejects its
    debtor. Every input debtor id ends up either in ``frames['debtors']`` or in
    ``rejected_debtors``. Unknown table names give an ``unknown_table`` row and
    are ignored.
    """
    if "debtors" not in frames:
        msg = (
            "The portfolio has no 'debtors' table; every other table refers to it. Add the "
            "debtors table (riskengine.contracts.schemas.DEBTORS) and validate again."
        )
        raise InvalidInputError(
            msg,
            [
                dict(
                    zip(
                        schemas.ERROR_COLUMNS,
                        ("debtors", None, None, None, None, "missing_table", msg),
                        strict=True,
                    )
                )
            ],
        )
    ref = _reference(reference_date)
    unknown_tables = []
    for name in frames:
        if name not in schemas.CONTRACTS and name not in schemas.REFERENCE_TABLES:
            extra = _Errors(str(name))
            unknown_tables.append(extra)
            extra.add_table(
                name,
                "unknown_table",
                f"Table '{name}' is not part of a portfolio (expected: "
                f"{', '.join(schemas.CONTRACTS)}); it was ignored. Rename it or leave "
                f"it out.",
            )
    checked: dict[str, _Checked] = {}
    for name, contract in schemas.CONTRACTS.items():
        df = frames[name] if name in frames else _empty_frame(contract)
        checked[name] = _check_table(df, contract, ref)
    st = checked["statements"]
    _identity_checks(
        st.frame, _Emitter(st.frame, st.labels, st.errors, st.row_ok), rel_tol, abs_tol
    )
    deb = checked["debtors"]
    has_ids = "debtor_id" in deb.present
    input_ids = pd.Index(deb.cache.codes("debtor_id")[1] if has_ids else [], dtype="str")
    unidentified = int(_blank(deb.frame["debtor_id"]).sum()) if has_ids else 0
    _cross_checks(checked, input_ids, has_ids, "suppliers" in frames)
    if book_as_of is not None:
        _outcome_checks(checked["outcomes"], pd.Timestamp(parse_date(book_as_of, "book_as_of")))

    reference: dict[str, pd.DataFrame] = {}
    reference_errors: list[pd.DataFrame] = []
    if "fx_rates" in frames:  # a reference table: its problems reject no debtor
        reference["fx_rates"], fx_errors = validate_fx_rates(
            frames["fx_rates"], reference_date=reference_date)
        reference_errors.append(fx_errors)
    problems = pd.concat(
        [e.frame() for e in unknown_tables] + [c.errors.frame() for c in checked.values()],
        ignore_index=True,
    )
    bad = _isin(pd.Series(input_ids), problems["debtor_id"].dropna().unique())
    table_cause = pd.Series(pd.NA, index=input_ids, dtype="object")
    for name, c in checked.items():
        if c.table_ok or "debtor_id" not in c.contract.names:
            continue
        hit = (
            _isin(pd.Series(input_ids), c.cache.codes("debtor_id")[1])
            if "debtor_id" in c.present
            else np.ones(len(input_ids), bool)
        )
        table_cause[hit & table_cause.isna().to_numpy()] = name
        bad |= hit
    rejected = input_ids[bad].sort_values()
    clean: dict[str, pd.DataFrame] = {}
    for name, c in checked.items():
        # rows of unknown or missing debtors are already invalid: drop the rejected ones
        keep = c.row_ok & c.table_ok
        if "debtor_id" in c.contract.names and not has_ids:
            keep[:] = False  # no debtor can be identified, so no record is usable
        elif len(rejected) and "debtor_id" in c.present:
            keep &= ~c.member("debtor_id", rejected)
        clean[name] = _finalise(c.frame if keep.all() else c.frame[keep], c.contract)
    if strict:
        raise_if_errors(pd.concat([problems, *reference_errors], ignore_index=True))
    clean.update(reference)
    errors = pd.concat(
        [problems, *reference_errors, _rejection_rows(problems, rejected, table_cause)],
        ignore_index=True,
    )
    return ValidatedPortfolio(
        frames=clean,
        errors=errors,
        rejected_debtors=tuple(rejected.tolist()),
        rows_in={name: len(frames[name])
                 for name in (*schemas.CONTRACTS, *schemas.REFERENCE_TABLES) if name in frames},
        debtors_in=len(input_ids) + unidentified,
        debtors_unidentified=unidentified,
    )
