"""SYNTHETIC portfolios: seeded, vectorised, labelled synthetic.

No public data set holds interbank adverse registers, invoice-level payment
histories or a factor's exposures (``../shared/data/README.md``), so the demo,
the tests and the benchmarks use portfolios generated here. **Every record this
package makes is synthetic**: names, tax ids, amounts and dates are drawn from
seeded random numbers and describe no real firm.

How a portfolio is generated
----------------------------
1. Each debtor gets a latent creditworthiness: a standard-normal ``z``, a
   sector and a legal form, combined into a 12-month default probability
   ``latent_pd = expit(-4.0 + 1.2 z + sector effect + legal-form effect)``
   (portfolio mean about 4%, median about 2%). :func:`latent_pd` returns it;
   it is *not* a column of any table (the contracts are fixed). The
   standardised logit ``w`` (mean 0, sd about 1) drives everything else:
   weaker debtors are smaller, younger, more leveraged, less profitable,
   shrinking, have more and more serious adverse records and pay later.
2. Statements: 0–5 fiscal years (mostly 3; fewer for young firms), revenue
   lognormal by legal form with year-to-year growth, line items built so that
   the accounting identities hold exactly (see *Statement conventions*).
   Sole traders and partnerships mostly file tax returns only: their
   balance-sheet items are NaN. The EBITDA margin is calibrated so that one
   debtor in four closes its latest year with a net loss (NBB Economic Review,
   June 2010: one SME in four, 1999–2008; ``calibration._LOSS_MAKING_SHARE``).
3. Adverse records for about 14% of debtors, over the last six years; mortgage
   pre-notations (informative, not adverse) follow a separate, size-driven
   process independent of ``w``.
4. Exposures: 1–2 suppliers per debtor, chosen by popularity among the
   suppliers invoicing in the debtor's currency when there are any (debtors in
   Romania, the UK and the US), else among the euro suppliers; annual sales at
   least EUR 6,000 a pair; the request is ``sales x days / 360`` (seed 003) in
   whole units of the policy's rounding unit (1,000), at least one; invoices of
   the last 12 months for each pair sum to the pair's annual sales; the
   outstanding balance is the open invoices net of credit notes, split at the
   approved limit; a supplier's ledger total exceeds its exposures (it also
   sells to debtors outside the portfolio).
5. The limits in force are the shipped policy's own decisions
   (:mod:`riskengine.synthetic.limits`: ``decide_limits`` on the debtor's grade
   at its last review, its latest financials as the engine reads them, the
   adverse knock-out, related parties, the ledger and the insurer's limit), so a
   first re-rate keeps most of them.
6. Insurer limits (:mod:`riskengine.synthetic.insurers`, table
   ``insurer_limits``): most pairs carry the partner insurer's answer to the
   factor's request: granted in full for good grades, partial or refused for
   weak ones, some still requested or pending, some reduced or cancelled on
   notice; cover 90 % (85 % under one cheaper policy).
7. Groups: about 5% of debtors share a ``group_id``; about 1% of suppliers
   belong to a debtor's group (``same_group`` relations) and 0.2% of pairs
   carry another related-party link.
8. Suppliers' assessment (:mod:`riskengine.synthetic.assessment`): sector
   outlook, goods or services, perishable or standardised goods, consignment
   and credit-note shares, plausible by sector and NACE class.
9. FX rates (:mod:`riskengine.synthetic.fx`, table ``fx_rates``): EUR per unit of
   every currency of the book, dated (the as-of date, the last twelve month
   ends, seven year ends), the as-of rows equal to the manifest's ``fx_rates``.

A history (:func:`generate_history`, ``demo-data --years Y``; issue 17) is a book of
Y years ending at the as-of date whose records come year by year from an evolving
state through the generators above, with the defaults drawn from a known true PD read
from those records (table ``outcomes``) and the truth itself (never a table); its
module :mod:`riskengine.synthetic.history` documents the process.

``insurer_limits`` and the assessment columns reach a portfolio only when the
contracts (:data:`riskengine.contracts.schemas.CONTRACTS`) declare them (the
``suppliers`` contract declares the assessment); ``fx_rates`` does, as the reference
table the contracts declare (:data:`~riskengine.contracts.schemas.REFERENCE_TABLES`).

Statement conventions*).
   Sole traders and partnerships mostly file tax returns only: their
   balance-sheet items are NaN.
3. Adverse records for about 14% of debtors, over the last six years; mortgage
   pre-notations (informative, not adverse) follow a separate, size-driven
   process independent of ``w``.
4. Exposures: 1–2 suppliers per debtor; invoices of the last 12 months for
   each pair sum to the pair's annual sales; the outstanding balance is the
   open invoices net of credit notes, split at the approved limit; a
   supplier's ledger total exceeds its exposures (it also sells to debtors
   outside the portfolio).
5. Groups: about 5% of debtors share a ``group_id``; about 1% of suppliers
   belong to a debtor's group (``same_group`` relations) and 0.2% of pairs
   carry another related-party link.

Statement conventions
---------------------
- ``gross_profit = revenue - cost_of_sales``
- ``operating_expenses`` are all operating costs before depreciation,
  *including* cost of sales (as ``total_operating_expenses`` in the US panel),
  so ``ebitda = revenue - operating_expenses``.
- ``ebit = ebitda - depreciation_amortization``
- ``current_assets = cash + receivables + inventory + other current assets``
  (other current assets > 0, so ``current_assets`` exceeds the sum of the three)
- ``total_assets = current_assets + non-current assets``
- ``total_liabilities = current_liabilities + long_term_debt + other long-term
  liabilities``; ``equity = total_assets - total_liabilities`` (negative for
  some weak debtors); ``retained_earnings = equity - paid-in capital``.
- ``net_income = ebit - interest_expense - tax``, tax 22% of a positive
  pre-tax profit.
Amounts are whole units of the statement currency, so the identities hold
exactly. Statements are in the debtor's local currency (EUR in the euro area,
BGN in Bulgaria, RON in Romania, GBP in the UK, USD in the US); adverse records
likewise; exposures and invoices in the supplier's invoicing currency: its
local one (EUR for Bulgarian suppliers), USD or GBP for a few exporters.

Determinism
-----------
The seed feeds a :class:`numpy.random.SeedSequence` whose children are
independent streams, one per stage, so the same ``(n_debtors, seed, as_of,
n_suppliers)`` always gives identical frames. No record is dated after
``as_of``. The package never reads the clock; the only files it reads are the
shipped policy, master scale and overlay (package data, read once) whose rules
make the limits in force.

Modules
-------
``calibration`` (the population tables and rates, with their sources),
``frames`` (array helpers and the assembly of contract frames), ``debtors``
(latent creditworthiness, debtors, suppliers), ``statements``, ``adverse``,
``exposures`` (supplier-debtor pairs and related-party links), ``invoices``,
``limits`` (the factor's view and the limits in force), ``insurers``,
``assessment``, ``fx``, ``portfolio`` (the tables together, the manifest),
``history`` (a book with Y years of history, its outcomes and its truth).
"""

from __future__ import annotations

from riskengine.synthetic.debtors import latent_pd
from riskengine.synthetic.frames import contract_dtypes
from riskengine.synthetic.history import generate_history
from riskengine.synthetic.portfolio import (
    DEFAULT_AS_OF,
    GENERATOR_VERSION,
    generate_portfolio,
    synthetic_manifest,
)

__all__ = [
    "DEFAULT_AS_OF",
    "GENERATOR_VERSION",
    "generate_history",
    "generate_portfolio",
    "latent_pd",
    "contract_dtypes",
    "synthetic_manifest",
]
