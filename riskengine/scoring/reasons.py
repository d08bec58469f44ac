"""Reason codes as data, and the one function that puts them into words.

A reason code says why a debtor got its rating. The core and every batch output
(the engine's decision table, ``decisions.parquet``) keep it as structured fields
(:data:`REASON_FIELDS`):

``code``
    What kind of reason (:data:`REASON_CODES`): ``no_valid_pd`` (the PD model gave
    no probability: unrated), ``insolvency`` and ``past_due_default`` (default
    triggers of CRR art. 178: grade D), ``basis_tax_return`` and
    ``basis_no_financials`` (no usable statements: the PD is a prior),
    ``statement_model`` (a driver of the statement model) and ``overlay`` (an
    adverse-record or payment term of the overlay).
``feature``
    The feature the reason is about (``st_roa``, ``adv_n_tier2``, ``pd`` ...).
``value``
    The debtor's value of that feature; None when it has none.
``direction``
    The debtor's value against the typical one: ``higher``, ``lower`` or
    ``missing`` (:data:`DIRECTIONS`).
``odds_factor``
    What the reason multiplies the odds of default by (overlay terms:
    ``exp(w * x)``); None where the reason has no such factor (statement-model
    drivers act on the model's raw score, not on the odds).

Text is made only where a decision is shown to people or handed out as JSON, by
:func:`reason_text`, from the fields and the overlay's words (:class:`ReasonWords`:
term labels, the past-due days of the default definition, the basis priors).
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from riskengine.contracts.decision import Decision

__all__ = ["REASON_FIELDS", "REASON_CODES", "DIRECTIONS", "ReasonWords", "reason_words",
           "reason_type", "feature_label", "reason_text", "public_reasons"]

#: The fields of a reason code, in order (the struct of :func:`reason_type`).
REASON_FIELDS: tuple[str, ...] = ("code", "feature", "value", "direction", "odds_factor")
#: The kinds of reason code.
REASON_CODES: tuple[str, ...] = ("no_valid_pd", "insolvency", "past_due_default",
                                 "basis_tax_return", "basis_no_financials",
                                 "statement_model", "overlay")
#: Directions of a reason's value against the typical one; code ``i`` is ``DIRECTIONS[i]``.
DIRECTIONS: tuple[str, ...] = ("higher", "lower", "missing")

_TEXT_NO_PD = "the PD model returned no valid PD; the debtor is unrated"
_TEXT_INSOLVENCY = ("open bankruptcy filing or insolvency declaration: default "
                    "(CRR art. 178)")


@dataclass(frozen=True, slots=True)
class ReasonWords:
    """What :func:`reason_text` needs besides a reason's fields (from the overlay).

    Attributes
    ----------
    labels : tuple of (str, str)
        Overlay feature and its label, per term.
    days_past_due : int
        Past-due days of the default definition.
    priors : tuple of (str, float)
        Rating basis and its prior PD (a fraction).
    """

    labels: tuple[tuple[str, str], ...]
    days_past_due: int
    priors: tuple[tuple[str, float], ...]


def reason_words(overlay: Any) -> ReasonWords:
    """The words of an overlay (:class:`riskengine.scoring.overlay.Overlay`): term labels (the
    feature when a term has none), past-due days and the basis priors."""
    return ReasonWords(
        tuple((t.feature, t.label or t.feature) for t in overlay.terms),
        int(overlay.days_past_due),
        (("tax_return", float(overlay.tax_return_pd)),
         ("no_financials", float(overlay.no_financials_pd))))


def reason_type() -> pa.DataType:
    """Arrow type of a decision's reason codes: a list of :data:`REASON_FIELDS` structs."""
    s, f = pa.string(), pa.float64()
    return pa.list_(pa.struct([("code", s), ("feature", s), ("value", f),
                               ("direction", s), ("odds_factor", f)]))


def feature_label(feature: str) -> str:
    """A statement feature in words: the prefix dropped, underscores as blanks.

    >>> feature_label("st_interest_cover")
    'interest cover'
    """
    return feature.split("_", 1)[1].replace("_", " ") if "_" in feature else feature


def reason_text(reason: Mapping[str, Any], words: ReasonWords) -> str:
    """One reason code in words.

    Numbers are written as Python's ``format``: a value with four significant
    digits (``.4g``), an odds factor with two decimals.

    Examples
    --------
    >>> w = ReasonWords((("adv_n_tier2", "bounced cheques"),), 90, (("tax_return", 0.03),))
    >>> reason_text({"code": "overlay", "feature": "adv_n_tier2", "value": 1.0,
    ...              "direction": "higher", "odds_factor": 1.5157}, w)
    'bounced cheques: 1, odds of default x1.52'
    >>> reason_text({"code": "statement_model", "feature": "st_roa", "value": -0.0213,
    ...              "direction": "lower", "odds_factor": None}, w)
    'roa lower than typical (-0.0213)'
    """
    code = reason["code"]
    feature = str(reason["feature"])
    if code == "statement_model":
        if reason["direction"] == "missing":
            return f"{feature_label(feature)}: not available"
        return f"{feature_label(feature)} {reason['direction']} than typical ({reason['value']:.4g})"
    if code == "overlay":
        label = _labels(words.labels).get(feature, feature)
        return f"{label}: {reason['value']:.4g}, odds of default x{reason['odds_factor']:.2f}"
    if code == "no_valid_pd":
        return _TEXT_NO_PD
    if code == "insolvency":
        return _TEXT_INSOLVENCY
    if code == "past_due_default":
        return (f"more than {words.days_past_due} days past due on a material "
                "amount: default (CRR art. 178)")
    if code in ("basis_tax_return", "basis_no_financials"):
        basis = code[len("basis_"):]
        return (f"no usable financial statements ({basis}): "
                f"PD prior {dict(words.priors)[basis]:.4g} before the overlay")
    raise ValueError(f"reason code {code!r} (feature {feature!r}) is not one of {REASON_CODES}.")


@functools.lru_cache(maxsize=64)
def _labels(labels: tuple[tuple[str, str], ...]) -> Mapping[str, str]:
    """The overlay's labels by feature (cached by the labels; never written)."""
    return types.MappingProxyType(dict(labels))


def public_reasons(reasons: Iterable[Mapping[str, Any]], words: ReasonWords
                   ) -> tuple[dict[str, Any], ...]:
    """Reason codes as a decision hands them out (:class:`~riskengine.contracts.decision.Decision`):
    ``feature``, ``value`` (None when none), ``direction`` and their ``text``."""
    out = []
    for r in reasons:
        v = r["value"]
        out.append({"feature": r["feature"],
                    "value": None if v is None or not math.isfinite(v) else v,
                    "direction": r["direction"], "text": reason_text(r, words)})
    return tuple(out)


def decision_of(rec: Mapping[str, Any], words: ReasonWords) -> Decision:
    """A decision row of the core (reason codes as fields) as a :class:`Decision`, its
    reason codes in words (:func:`public_reasons`): the one place a core row is handed out."""
    return Decision(**{**rec, "reason_codes": public_reasons(rec["reason_codes"], words)})
