"""Calibration of the SYNTHETIC generator: population tables, rates and horizons.

Sectors, legal forms, countries, currencies and their FX rates, name stems,
adverse event types, credit terms, related-party link types and the latent-PD
coefficients. Every figure is a generator parameter for synthetic data only.
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

# country: (debtor probability, supplier probability, local currency)
_COUNTRIES: dict[str, tuple[float, float, str]] = {
    "GR": (0.86, 0.93, "EUR"),
    "CY": (0.04, 0.03, "EUR"),
    "BG": (0.025, 0.015, "BGN"),
    "RO": (0.02, 0.005, "RON"),
    "IT": (0.02, 0.01, "EUR"),
    "DE": (0.015, 0.01, "EUR"),
    "FR": (0.01, 0.0, "EUR"),
    "NL": (0.01, 0.0, "EUR"),
}
#: Units of currency per EUR (rounded reference rates; synthetic data only).
_FX: dict[str, float] = {"EUR": 1.0, "BGN": 1.95583, "RON": 4.97, "USD": 1.08, "GBP": 0.85}
_SUPPLIER_CURRENCIES = (("EUR", 0.97), ("USD", 0.02), ("GBP", 0.01))
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
