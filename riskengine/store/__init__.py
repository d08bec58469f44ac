"""The SQL store: decisions, limit register, overrides (shell).

:class:`DecisionStore` (:mod:`riskengine.store.decisions`) over the tables of
:mod:`riskengine.store.tables`.
"""

from __future__ import annotations

from riskengine.store.database import DEFAULT_STORE_FILE, STORE_URL_ENV, default_store_url
from riskengine.store.decisions import DecisionStore
from riskengine.store.tables import APPEND_ONLY_TABLES, AUDIT_TABLES
from riskengine.store.values import jsonable

__all__ = [
    "DEFAULT_STORE_FILE",
    "STORE_URL_ENV",
    "APPEND_ONLY_TABLES",
    "AUDIT_TABLES",
    "DecisionStore",
    "default_store_url",
    "jsonable",
]
