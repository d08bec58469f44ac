"""Calibration of the SYNTHETIC generator: population tables, rates and horizons.

Sectors, legal forms, countries, currencies and their FX rates, name stems,
adverse event types, credit terms, related-party link types, the latent-PD
coefficients, the insurer's answers and the suppliers' assessment. Every figure
is a generator parameter for synthetic data only; where a published figure
sets it, the comment beside it names the source (``../shared/docs/DOMAIN.md``
for the seeds and industry figures).
"""

from __future__ import annotations

import numpy as np

from riskengine.contracts.schemas import LEGAL_FORMS

# sector group: (weight among debtors, weight among suppliers, PD logit effect,
#   gross margin, total assets / revenue, current-asset share,
#   Dirichlet weights of current assets (cash, receivables, inventory, other), name word)
_SECTORS: dict[str, tuple[float, float, float, float, float, float, tuple[float, ...], str]] = {
    "wholesale": (0.30, 0.40, 0.0, 0.20, 0.65, 0.75, (1.5, 5.0, 3.5, 1.0), "Trading"),
    "retail": (0.15, 0.00, 0.1, 0.30, 0.55, 0.60, (2.0, 1.5, 5.0, 1.0), "Stores"),
    "manufacturing": (0.20, 0.45, -0.1, 0.27, 1.00, 0.50, (1.5, 4.0, 3.5, 1.0), "Industries"),
    "construction": (0.08, 0.00, 0.5, 0.18, 1.30, 0.70, (1.5, 5.0, 2.5, 3.0), "Constructions"),
    "transport": (0.06, 0.02, 0.2, 0.22, 0.90, 0.40, (2.0, 5.0, 0.5, 1.5), "Logistics"),
    "hospitality": (0.07, 0.00, 0.4, 0.55, 2.20, 0.20, (3.0, 2.0, 1.0, 1.5), "Hotels"),
    "services": (0.09, 0.08, -0.1, 0.45, 0.70, 0.65, (3.0, 5.0, 0.3, 1.5), "Services"),
    "agri_food": (0.03, 0.05, 0.2, 0.25, 1.10, 0.55, (1.5, 3.5, 4.0, 1.0), "Farms"),
    "health": (0.02, 0.00, -0.3, 0.35, 0.90, 0.55, (2.0, 5.0, 1.0, 1.0), "Clinics"),
}
_SECTOR_NAMES = tuple(_SECTORS)
# NACE Rev. 2 classes by sector group (codes as published by Eurostat).
_NACE: dict[str, tuple[str, ...]] = {
    "wholesale": ("46.31", "46.34", "46.38", "46.39", "46.44", "46.46", "46.49", "46.69", "46.73", "46.90"),
    "retail": ("47.11", "47.19", "47.30", "47.52", "47.73", "47.91"),
    "manufacturing": ("10.11", "10.41", "10.51", "10.71", "11.07", "17.21", "20.41", "22.22", "23.61", "25.11"),
    "construction": ("41.20", "42.11", "43.21", "43.32"),
    "transport": ("49.41", "52.10", "52.29"),
    "hospitality": ("55.10", "56.10"),
    "services": ("62.01", "69.20", "70.22", "73.11", "81.21"),
    "agri_food": ("01.13", "01.24", "03.21"),
    "health": ("86.10", "86.90"),
}  # fmt: skip

# legal form: (probability, PD logit effect, median revenue EUR, statement-type probabilities
#   over (audited, unaudited, abbreviated, tax_return), name suffix)
_FORMS: dict[str, tuple[float, float, float, tuple[float, float, float, float], str]] = {
    "public_limited": (0.14, -0.4, 12e6, (0.70, 0.20, 0.10, 0.00), " S.A."),
    "private_limited": (0.42, 0.0, 1.8e6, (0.15, 0.35, 0.50, 0.00), " Ltd"),
    "partnership": (0.16, 0.2, 4.5e5, (0.00, 0.00, 0.25, 0.75), " & Co"),
    "sole_trader": (0.20, 0.3, 1.8e5, (0.00, 0.00, 0.05, 0.95), ""),
    "cooperative": (0.03, 0.2, 3.0e6, (0.40, 0.60, 0.00, 0.00), " Co-op"),
    "public_body": (0.01, -1.5, 25e6, (1.00, 0.00, 0.00, 0.00), " Authority"),
    "other": (0.04, 0.1, 8.0e5, (0.00, 0.40, 0.40, 0.20), ""),
}
assert tuple(_FORMS) == LEGAL_FORMS

# country: (debtor probability, supplier probability, local currency). The local
# currency is the currency of the debtor's statements and adverse records (the
# accounts are kept in the currency of the country). A Greek factor's book: mostly
# domestic, with export factoring to the Balkans, the euro area, the UK and the US
# (seed 003: export and import factoring are core products).
_COUNTRIES: dict[str, tuple[float, float, str]] = {
    "GR": (0.85, 0.93, "EUR"),
    "CY": (0.04, 0.03, "EUR"),
    "BG": (0.025, 0.015, "BGN"),
    "RO": (0.02, 0.005, "RON"),
    "IT": (0.02, 0.01, "EUR"),
    "DE": (0.015, 0.01, "EUR"),
    "FR": (0.01, 0.0, "EUR"),
    "NL": (0.01, 0.0, "EUR"),
    "GB": (0.007, 0.0, "GBP"),
    "US": (0.003, 0.0, "USD"),
}
#: Units of currency per EUR on the as-of date (rounded reference rates; synthetic data
#: only). BGN is the currency board's fixed rate 1.95583 (also the euro conversion rate
#: of Bulgaria), so it never drifts.
_FX: dict[str, float] = {"EUR": 1.0, "BGN": 1.95583, "RON": 4.97, "USD": 1.08, "GBP": 0.85}
#: Monthly log-drift (standard deviation) of each rate in the generated ``fx_rates``
#: table, going back from the as-of rate; of the order of the monthly moves of the
#: ECB reference rates (USD and GBP a few percent, RON under one percent; synthetic).
_FX_MONTHLY_SD: dict[str, float] = {"EUR": 0.0, "BGN": 0.0, "RON": 0.004, "USD": 0.02,
                                    "GBP": 0.012}
_FX_YEARS_BACK = 7  # year-end rates reach back over the oldest statements (5 fiscal years,
#                     one of them stale, June year ends)
# The invoicing currency of a supplier (its ledger, its exposures and invoices): the
# supplier's local currency (Bulgarian suppliers invoice in EUR, the currency of their
# trade with the euro area and Bulgaria's currency from 2026), except exporters that
# invoice their foreign debtors in the debtor's currency.
_SUPPLIER_CURRENCIES = ("EUR", "RON", "USD", "GBP")
_SUPPLIER_LOCAL = {"EUR": "EUR", "BGN": "EUR", "RON": "RON", "GBP": "GBP", "USD": "USD"}
_EXPORTERS = (("USD", 0.03), ("GBP", 0.03))  # share of suppliers invoicing in USD / GBP
# A debtor buys from suppliers invoicing in its own currency with this probability
# when there are any (imports and exports are invoiced in the buyer's currency),
# otherwise from the euro suppliers.
_OWN_CURRENCY_SUPPLIER = {"RON": 0.5, "USD": 0.8, "GBP": 0.8}
_STEMS = (
    "Aegean", "Olympus", "Hellas", "Athena", "Delta", "Attica", "Ionian", "Kronos",
    "Poseidon", "Cretan", "Pella", "Thessaly", "Epirus", "Aris", "Nike", "Apollo",
    "Orion", "Lyra", "Argo", "Kalypso", "Meltemi", "Pindos", "Vergina", "Helios",
    "Selene", "Triton", "Nestor", "Iris", "Phoenix", "Kastro", "Limani", "Agora",
)  # fmt: skip

# adverse event type: (logit base, logit slope on w, median amount EUR, log-sd,
#   settled logit base, settled slope on w)
_ADVERSE: dict[str, tuple[float, float, float, float, float, float]] = {
    "tax_debt": (1.0, 0.0, 6_000.0, 1.3, 1.2, -0.7),
    "social_security_debt": (0.6, 0.0, 4_000.0, 1.2, 1.2, -0.7),
    "bounced_cheque": (0.8, 0.4, 2_500.0, 1.1, 0.6, -0.7),
    "payment_order": (1.1, 0.4, 8_000.0, 1.0, 0.6, -0.7),
    "unpaid_bill_of_exchange": (0.1, 0.4, 4_000.0, 1.0, 0.6, -0.7),
    "seizure": (-1.6, 0.8, 30_000.0, 1.0, -0.5, -0.5),
    "auction": (-2.6, 0.9, 120_000.0, 0.9, -0.5, -0.5),
    "bankruptcy_filing": (-4.6, 1.2, 250_000.0, 1.0, -3.0, 0.0),
    "insolvency_declared": (-5.2, 1.2, 400_000.0, 1.0, -3.0, 0.0),
}
_PRENOTATION = ("mortgage_prenotation", 350_000.0, 0.9, -1.1)  # type, median, log-sd, settled logit
_CREDIT_DAYS = np.array([30, 45, 60, 90, 120, 150])
_CREDIT_DAYS_P = np.array([0.12, 0.08, 0.30, 0.30, 0.15, 0.05])
_RELATION_OTHER = (
    ("subsidiary", 0.35),
    ("parent", 0.15),
    ("common_ownership", 0.40),
    ("other", 0.10),
)

_PD_INTERCEPT, _PD_SLOPE = -4.0, 1.2
_LOOKBACK_DAYS = 6 * 365  # adverse records span the last six years
_PAYMENT_ORDER_KEPT_DAYS = 3 * 365  # the register keeps payment orders three years (seed 003)

# --- profitability ---------------------------------------------------------------------
#: Target share of debtors whose latest fiscal year ends with a net loss (net_income < 0).
#: Source: National Bank of Belgium, Deville & Verduyn, "Analysis of the population of
#: non-financial corporations with negative economic profitability", NBB Economic
#: Review, June 2010, pp. 77-91: over 1999-2008, year after year, one firm in ten
#: made a loss, and one SME in four. The debtors of a factoring book are SMEs, so the
#: target is one in four. For comparison, ICAP's analysis of the published balance
#: sheets of Greek companies (10,319 firms) found 40.3 % loss-making in 2016 and
#: 37.0 % in 2017, the tail of the Greek depression: a stressed book, not the
#: calibration point. Checked by tests/test_synthetic.py on a seeded book.
_LOSS_MAKING_SHARE = 0.25
#: Intercept of the EBITDA margin (before the weakness, firm and year terms of
#: statements._line_items); set so that the latest-year loss share above is met (it
#: was 0.09, which gave 33-37 % loss-makers).
_EBITDA_MARGIN_BASE = 0.121

# --- the factor's book ---------------------------------------------------------------
#: Smallest annual sales (EUR) on which a supplier asks the factor for a debtor limit:
#: below it a pair is jittered up to twice the floor (never above half the debtor's
#: revenue), so that no request falls below the policy's rounding unit by much
#: (EUR 6,000 a year on 60-day terms asks EUR 1,000; committee-style figure).
_MIN_PAIR_SALES_EUR = 6_000.0

# --- the partner insurers -------------------------------------------------------------
# (policy id, cover_pct = indemnity, share of suppliers). The insured percentage of a
# loss: industry 75-95 %, 90 % typical (ICISA; DOMAIN.md §2 and §6), the shipped
# policy's cover.indemnity; seed 003 quotes about 70 %. Two whole-turnover policies at
# the typical 90 % and one cheaper policy at 85 %. Synthetic insurers, no real firm.
_INSURERS = (("INS00-WT1", 0.90, 0.5), ("INS01-WT1", 0.90, 0.3), ("INS02-WT1", 0.85, 0.2))
#: Requests of at most this amount (pair currency) go without an insurer request with
#: the first probability (discretionary cover), larger ones with the second.
_INSURER_NO_REQUEST = (5_000.0, 0.15, 0.03)
#: Shares of rows still unanswered: sent (``requested``), under review (``pending``).
_INSURER_UNANSWERED = (0.03, 0.03)
#: The insurer's own view: the latent PD logit moved by this standard deviation.
_INSURER_VIEW_SD = 0.5
#: Granted limits on debtors weaker than this standardised logit are halved on notice
#: (``reduced``; cancelled when half is below the rounding unit) with this probability.
_INSURER_REDUCED = (1.0, 0.25)

# --- the suppliers' assessment (seed 003; DOMAIN.md §3 and §6) --------------------------
# sector group: (P(outlook positive, stable, negative), P(goods, services, mixed)).
# Outlooks lean negative where the book's debtors are riskiest (construction,
# hospitality, agri-food: the latent-PD sector effects above); the kind follows what
# the sector sells. Synthetic judgements, not a published survey.
_SUPPLIER_SECTORS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "wholesale": ((0.25, 0.60, 0.15), (0.90, 0.00, 0.10)),
    "retail": ((0.20, 0.60, 0.20), (0.85, 0.00, 0.15)),
    "manufacturing": ((0.30, 0.55, 0.15), (0.85, 0.00, 0.15)),
    "construction": ((0.15, 0.50, 0.35), (0.20, 0.30, 0.50)),
    "transport": ((0.25, 0.55, 0.20), (0.00, 0.90, 0.10)),
    "hospitality": ((0.20, 0.50, 0.30), (0.00, 0.80, 0.20)),
    "services": ((0.35, 0.55, 0.10), (0.00, 0.85, 0.15)),
    "agri_food": ((0.20, 0.55, 0.25), (0.95, 0.00, 0.05)),
    "health": ((0.30, 0.60, 0.10), (0.20, 0.40, 0.40)),
}
# NACE classes of perishable goods (seed 003: fresh food and fish are risky): meat,
# dairy, bread and fresh pastry, fruit and vegetables, fish, vegetables and fruit
# growing, marine aquaculture.
_PERISHABLE_NACE = ("10.11", "10.51", "10.71", "46.31", "46.38", "01.13", "01.24", "03.21")
# NACE classes of standardised, packaged, non-perishable goods (seed 003: packaging,
# detergents, building materials are ideal): corrugated packaging, soap and detergents,
# plastic packing goods, concrete products, metal structures, china, glassware and
# cleaning materials, wood and construction materials, oils and fats, soft drinks.
_STANDARDISED_NACE = ("17.21", "20.41", "22.22", "23.61", "25.11", "46.44", "46.73", "10.41",
                      "11.07")
#: Consignment sales: share of goods sellers that use them, then Beta(a, b) of their sales.
_CONSIGNMENT = (0.2, 2.0, 8.0)
