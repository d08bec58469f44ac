"""Lazy validation of input tables against the declared data contracts.

Every check is a column-wise boolean mask over the whole table; message strings
are built only for the rows that fail. All problems are collected at once and
returned as *error rows* with the columns of :data:`riskengine.contracts.schemas.ERROR_COLUMNS`
(``table, record, debtor_id, column, value, reason, message``).

Reason codes
------------
Table level (the whole table is rejected, no row of it is clean):

- ``missing_column``: a required column is absent.
- ``extra_column``: a column that the contract does not declare (or a declared
  column given twice). The table is *rejected*, not silently trimmed: an
  unexpected column usually means a renamed or shifted column, and rating on a
  misread table is worse than asking for a corrected file.
- ``unknown_table`` (portfolio only): a table name that is not a contract; ignored.

Row level (the row is invalid; in a portfolio its debtor is rejected whole):

- ``not_numeric``, ``not_integer``, ``not_date``, ``not_bool``: a value that
  does not parse as the declared kind (dates are ISO 8601, ``YYYY-MM-DD``).
- ``missing_value``: a missing (or blank) value in a non-nullable column.
- ``bad_id``: a value of an id column (declared ``identifier=True``) outside the
  id grammar of :mod:`riskengine.contracts.ids`, the one the HTTP API applies (``D,5``,
  ``' D-1 '`` with its spaces, a line break, more than 64 characters).
- ``negative``: a number below the declared ``ge`` bound of 0
  (``below_minimum`` for any other bound); ``above_maximum``: a number above the
  declared ``le`` bound (a share above 1).
- ``unknown_category`` / ``unknown_currency``: a value outside the closed vocabulary.
- ``future_date``: a date after the reference (extraction) date.
- ``duplicate_key``: every row of a key that occurs more than once.
- ``date_order``: :data:`DATE_ORDER` broken, or an adverse record whose status
  and settlement date disagree.
- ``identity_broken``: an accounting identity of a statement (:data:`IDENTITIES`).
- ``unknown_debtor``, ``unknown_supplier`` (portfolio only): a reference to a
  debtor absent from the debtors table, or to a supplier that is absent from
  (or was rejected in) the suppliers table.
- ``debtor_rejected`` (portfolio only): one summary row per rejected debtor.
- ``not_positive``: a number not above the declared ``gt`` bound of 0 (a rate).
- ``currency_rejected`` (``fx_rates`` only, :mod:`.fx`): one summary row per currency
  that loses all its rates for an invalid row; ``missing_fx_rate``: a record in a
  currency without a rate in force on the decision date (its debtor is rejected);
  ``base_rate_not_one``: a reporting-currency rate other than 1.

Canonical frames
----------------
Clean frames hold the contract's columns in declared order with a fresh
``RangeIndex``: ``str`` for identifiers, text and categories; ``datetime64[ns]``
(naive, day resolution) for dates; ``float64`` for money; ``bool`` for a
non-nullable flag (``boolean`` if nullable); ``int64`` for a non-nullable
integer, ``Int64`` for a nullable one (as :mod:`riskengine.synthetic` writes
it). An optional column that is absent comes back all-missing. Blank strings
count as missing. A date written as text must be exactly ``YYYY-MM-DD``
(:mod:`riskengine.contracts.dates`: ``31/12/2023``, ``June 2026``, ``2026-13-01`` and
text with a time of day are ``not_date``, never reinterpreted); a timestamp
column (Parquet) has its time of day dropped; a date outside the
``datetime64[ns]`` range (1677–2262) is ``not_date``.

Batch rule and record ids
-------------------------
:func:`validate_portfolio` rejects a debtor whole when any of its records is
invalid (see its Notes). ``record`` names the row by its key: ``"D-102
2023-12-31"`` for a statement, ``"S-1 INV-7"`` for an invoice (keyed per
supplier), ``"D-102 A-1"`` for an adverse record (keyed per debtor), ``"S-1 D-7"``
for an exposure; ``"row N"`` (0-based position in the input) when the key is
missing. Table-level rows have no record. Messages quote ids as Python literals
(``'D\\n6'``), so each stays on one line.

Modules
-------
What a table is lives in :mod:`riskengine.contracts.schemas`; how it is checked
lives here, one concern per module, all reporting through one error handler:

- :mod:`.errors`: error rows, record labels and messages (the one emitter),
  :func:`raise_if_errors`.
- :mod:`.columns`: coercion to the canonical dtypes and the checks of one column
  (:data:`DATE_ORDER`).
- :mod:`.keys`: ids, duplicate keys, integer codes and the sorted-text fast paths.
- :mod:`.identities`: accounting identities (:data:`IDENTITIES`,
  :func:`check_identities`).
- :mod:`.table`: every check of one table, :func:`validate_table`.
- :mod:`.portfolio`: cross-table checks and the batch rule, :func:`validate_portfolio`.
"""

from __future__ import annotations

from riskengine.validation.columns import DATE_ORDER
from riskengine.validation.errors import raise_if_errors
from riskengine.validation.identities import IDENTITIES, check_identities
from riskengine.validation.portfolio import ValidatedPortfolio, validate_portfolio
from riskengine.validation.table import validate_table

__all__ = [
    "DATE_ORDER",
    "IDENTITIES",
    "ValidatedPortfolio",
    "validate_table",
    "check_identities",
    "validate_portfolio",
    "raise_if_errors",
]
