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

:meth:`Engine.decide` takes portfolio frames; :meth:`Engine.decide_one` and
:meth:`Engine.score_payloads` take JSON payloads (:mod:`riskengine.contracts.payload`).
Every path ends in the same array core (:func:`_decide_core`): the batch path
builds its inputs with the feature pipelines and scores with the fitted
scikit-learn model; the single-debtor path builds the same inputs from the
payload's arrays (:mod:`riskengine.scoring.fastpath`, the same statement kernel) and
scores with the flattened tree ensemble. ``tests/test_engine.py`` proves that
both give identical decisions on hundreds of debtors.

Rating basis
------------
``statements``: the latest statement up to ``as_of`` is not a tax return, has
total assets > 0 and a revenue, and is at most ``overlay.max_statement_age_days``
old: the PD model scores it. ``tax_return`` / ``no_financials``: the PD is the
basis prior of the overlay config (3 % / 5 % shipped: unknown risk is not
priced as average risk), then the same overlay; the policy uses the tax-return
capacity rule or the predetermined minimum limit of the grade (seed 003).

The overlay
-----------
``logit(PD) = logit(PD_model) + sum_i w_i x_i`` with ``w_i >= 0`` and
non-decreasing transforms of adverse-record counts and payment-behaviour
features (``riskengine/config/overlay.toml``, versioned). A missing feature adds
0. Adding an adverse record never lowers the PD.

This module does no I/O: loading the shipped artifacts and configuration
(:func:`riskengine.api.load_engine`, :func:`riskengine.api.score`) is the shell's.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.contracts import schemas
from riskengine.contracts.dates import as_of_text, parse_date, refuse_after
from riskengine.contracts.decision import DECISION_FIELDS, Decision
from riskengine.contracts.payload import DebtorPayload, parse_payload, payload_to_frames
from riskengine.errors import InvalidInputError, PolicyError
from riskengine.features import build_features, latest_of_runs
from riskengine.model.master_scale import GRADES, UNRATED, MasterScale
from riskengine.policy import credit_policy as _cp
from riskengine.policy._inputs import policy_tables
from riskengine.policy.cover import insurance_cover
from riskengine.policy.limits import REASONS, decide_limits, requested_limit
from riskengine.policy.pricing import advance_rate
from riskengine.scoring.hashing import DEBTOR_TABLES as _DEBTOR_TABLES
from riskengine.scoring.hashing import HASH_SCHEME
from riskengine.scoring.inputs import DebtorInputs, PairBytes, PairInputs
from riskengine.scoring.reasons import (
    DIRECTIONS,
    ReasonWords,
    decision_of,
    reason_type,
    reason_words,
)

__all__ = [
    "OverlayTerm",
    "Overlay",
    "DecisionBatch",
    "DecisionTable",
    "decision_schema",
    "warm_up",
    "Engine",
    "BASES",
]

FloatArray = npt.NDArray[np.float64]
CreditPolicy = _cp.CreditPolicy

#: Rating bases; code ``i`` is ``BASES[i]``.
BASES: tuple[str, ...] = ("statements", "tax_return", "no_financials")
_POLICY_BASIS = np.array([0, 1, 2])  # engine basis code -> policy.limits basis code
_TRANSFORMS = ("linear", "log1p")
_BINDING = ("requested", "capacity", "ledger_cap", "group_cap", "sector_cap", "insurer_cover")
_KNOCKOUTS = ("adverse_record", "insolvency", "related_party", "grade_default",
              "supplier_default")
_TOP_REASONS = 5
_REASON_NAMES = np.asarray(REASONS)
_REASON_SHIFTS = np.arange(len(REASONS), dtype=np.uint32)
_BINDING_SET = np.isin(_REASON_NAMES, _BINDING)
_KO_SET = np.isin(_REASON_NAMES, _KNOCKOUTS)
_GRADE_INDEX = {g: i + 1 for i, g in enumerate(GRADES)}  # as master_scale.grade_index


# --- the overlay --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverlayTerm:
    """One overlay term: ``weight * transform(clip(feature, 0, cap))``."""

    feature: str
    weight: float
    transform: str = "linear"
    cap: float = math.inf
    scale: float = 1.0
    label: str = ""


@dataclass(frozen=True, slots=True)
class Overlay:
    """Adverse/payment overlay, rating-basis priors and default definition.

    Attributes
    ----------
    version : str
    terms : tuple of OverlayTerm
        Non-negative weights on non-decreasing transforms (monotone overlay).
    max_statement_age_days : int
        An older latest statement does not rate the debtor (basis ``no_financials``).
    no_financials_pd, tax_return_pd : float
        PD priors of the two other bases, in (0, 1).
    days_past_due : int
        Past-due days beyond which a material amount means default (CRR art. 178).
    materiality_absolute, materiality_relative : float
        The past-due amount must exceed both (absolute money; share of the open balance).
    """

    version: str
    terms: tuple[OverlayTerm, ...]
    max_statement_age_days: int = 731
    no_financials_pd: float = 0.05
    tax_return_pd: float = 0.03
    days_past_due: int = 90
    materiality_absolute: float = 500.0
    materiality_relative: float = 0.01

    def __post_init__(self) -> None:
        from riskengine.features import adverse, payments

        known = set(adverse.ADVERSE_FEATURES) | set(payments.PAYMENT_FEATURES)
        seen: set[str] = set()
        for t in self.terms:
            key = f"terms.{t.feature}"
            if t.feature not in known:
                raise PolicyError(f"overlay {key}: unknown feature {t.feature!r}; use an "
                                  "adv_ or pay_ feature.", key=key)
            if t.feature in seen:
                raise PolicyError(f"overlay {key}: feature given twice.", key=key)
            seen.add(t.feature)
            if not (math.isfinite(t.weight) and t.weight >= 0):
                raise PolicyError(f"overlay {key}.weight = {t.weight!r}: weights must be "
                                  "finite and >= 0 (the overlay is monotone).",
                                  key=f"{key}.weight")
            if t.transform not in _TRANSFORMS:
                raise PolicyError(f"overlay {key}.transform = {t.transform!r}: use one of "
                                  f"{_TRANSFORMS}.", key=f"{key}.transform")
            if not t.cap > 0:
                raise PolicyError(f"overlay {key}.cap = {t.cap!r}: must be > 0.",
                                  key=f"{key}.cap")
            if not (math.isfinite(t.scale) and t.scale > 0):
                raise PolicyError(f"overlay {key}.scale = {t.scale!r}: must be > 0.",
                                  key=f"{key}.scale")
        for name in ("no_financials_pd", "tax_return_pd", "materiality_relative"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise PolicyError(f"overlay {name} = {v!r}: must be a fraction in (0, 1).",
                                  key=name)
        if self.max_statement_age_days < 0 or self.days_past_due < 0 \
                or self.materiality_absolute < 0:
            raise PolicyError("overlay: days and materiality must be >= 0.",
                              key="default_definition")

    @property
    def features(self) -> tuple[str, ...]:
        """The features of the terms, in order."""
        return tuple(t.feature for t in self.terms)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Overlay:
        """Build from the TOML layout of ``overlay.toml`` (unknown keys refused)."""
        allowed = {"version", "basis", "default_definition", "terms"}
        extra = sorted(set(data) - allowed)
        if extra:
            raise PolicyError(f"overlay: unknown key {extra[0]!r}.", key=extra[0])
        if "version" not in data:
            raise PolicyError("overlay: 'version' is missing.", key="version")
        basis = dict(data.get("basis", {}))
        dd = dict(data.get("default_definition", {}))
        terms = []
        for name, spec in dict(data.get("terms", {})).items():
            bad = sorted(set(spec) - {"weight", "transform", "cap", "scale", "label"})
            if bad:
                raise PolicyError(f"overlay terms.{name}: unknown key {bad[0]!r}.",
                                  key=f"terms.{name}.{bad[0]}")
            if "weight" not in spec:
                raise PolicyError(f"overlay terms.{name}.weight is missing.",
                                  key=f"terms.{name}.weight")
            terms.append(OverlayTerm(str(name), float(spec["weight"]),
                                     str(spec.get("transform", "linear")),
                                     float(spec.get("cap", math.inf)),
                                     float(spec.get("scale", 1.0)),
                                     str(spec.get("label", ""))))
        for sect, keys, got in (
            ("basis", ("max_statement_age_days", "no_financials_pd", "tax_return_pd"), basis),
            ("default_definition", ("days_past_due", "materiality_absolute",
                                    "materiality_relative"), dd)):
            bad = sorted(set(got) - set(keys))
            if bad:
                raise PolicyError(f"overlay {sect}: unknown key {bad[0]!r}.",
                                  key=f"{sect}.{bad[0]}")
        return cls(
            version=str(data["version"]), terms=tuple(terms),
            max_statement_age_days=int(basis.get("max_statement_age_days", 731)),
            no_financials_pd=float(basis.get("no_financials_pd", 0.05)),
            tax_return_pd=float(basis.get("tax_return_pd", 0.03)),
            days_past_due=int(dd.get("days_past_due", 90)),
            materiality_absolute=float(dd.get("materiality_absolute", 500.0)),
            materiality_relative=float(dd.get("materiality_relative", 0.01)),
        )

    def contributions(self, X: FloatArray) -> FloatArray:
        """Log-odds contribution of each term, shape ``(n, len(terms))``.

        Parameters
        ----------
        X : ndarray of shape (n, len(terms))
            The raw feature values, columns in :attr:`features` order; NaN
            contributes 0.

        Examples
        --------
        >>> o = Overlay("t", (OverlayTerm("adv_n_tier2", 1.0, "log1p"),))
        >>> o.contributions(np.array([[1.0], [np.nan]])).round(4).tolist()
        [[0.6931], [0.0]]
        """
        return _contributions(X, _OverlayStatic.of(self))


@dataclass(frozen=True)
class _OverlayStatic:
    """An overlay's term parameters as arrays, its features and the words of its reason
    codes (built once per overlay object: the single-debtor path pays no per-call
    rebuilding)."""

    overlay: Overlay
    features: tuple[str, ...]
    words: ReasonWords
    weight: FloatArray
    cap: FloatArray
    scale: FloatArray
    log: npt.NDArray[np.bool_]

    @staticmethod
    def of(ov: Overlay) -> _OverlayStatic:
        hit = _OVERLAY_STATIC.get(id(ov))
        if hit is not None and hit.overlay is ov:
            return hit
        terms = ov.terms
        out = _OverlayStatic(
            ov, tuple(t.feature for t in terms), reason_words(ov),
            np.array([t.weight for t in terms], dtype=np.float64),
            np.array([t.cap for t in terms], dtype=np.float64),
            np.array([t.scale for t in terms], dtype=np.float64),
            np.array([t.transform == "log1p" for t in terms], dtype=bool))
        if len(_OVERLAY_STATIC) > 64:
            _OVERLAY_STATIC.clear()
        _OVERLAY_STATIC[id(ov)] = out
        return out


_OVERLAY_STATIC: dict[int, _OverlayStatic] = {}


def _contributions(X: FloatArray, st: _OverlayStatic) -> FloatArray:
    """:meth:`Overlay.contributions` on the overlay's static arrays."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, st.weight.shape[0])
    x = np.minimum(np.maximum(np.where(np.isnan(X), 0.0, X), 0.0), st.cap)
    x = np.where(st.log, np.log1p(x), x / st.scale)
    out: FloatArray = x * st.weight
    return out


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


# --- the input hash: canonical binary records ----------------------------------------
#
# A decision's ``input_hash`` is the sha256 of a canonical *binary* document of
# everything that decided it (the as-of date, the debtor's records, the pair's
# terms). Values are encoded by kind, so a JSON round trip that turns 5.0 into 5
# or a date into a string does not change the hash:
#
# - float / int: IEEE-754 float64, little endian; every NaN (JSON null) as one
#   bit pattern (0x7ff8000000000000);
# - date: int64 days since 1970-01-01, little endian; missing as INT64_MIN;
# - bool: one byte 0/1 (missing as 0);
# - str / category: uint32 byte length + UTF-8 bytes; missing as length 0xffffffff.
#
# A record is its contract columns in contract order. The debtor block is the
# debtor record, then for statements (by period end), adverse records (by record
# id) and invoices (by invoice id, then supplier id) a uint32 count and the
# records without ``debtor_id``; its sha256 is the *debtor digest*. The pair document is
# ``HASH_SCHEME``, the as-of date (10 ASCII bytes), the debtor digest, the
# exposure record, the supplier record, the relation type, the product and the
# insurer limit. The batch path writes these bytes for all records at once, in
# one compiled pass (:func:`encode_records`), and hashes them with :mod:`hashlib`
# (:func:`_digests`); the single-debtor path writes them value by
# value (:func:`encode_value`); tests/test_engine.py checks both agree.

_NAN_BITS = np.uint64(0x7FF8000000000000)


@dataclass(frozen=True)
class _Records:
    """Canonical bytes of records, column by column, for :func:`encode_records`.

    Row ``r``'s record is, for each column ``j``, the ``width[j]`` low bytes of
    ``value[j, r]`` (little endian) followed, for a text column (``slot[j] >= 0``),
    by ``size[slot[j], r]`` UTF-8 bytes of ``data`` from ``start[slot[j], r]``.
    """

    value: npt.NDArray[np.uint64]   # (columns, rows)
    width: npt.NDArray[np.int64]    # (columns,), at most 8
    slot: npt.NDArray[np.int64]     # (columns,), -1: no UTF-8 bytes
    size: npt.NDArray[np.int64]     # (text columns, rows)
    start: npt.NDArray[np.int64]    # (text columns, rows)
    data: npt.NDArray[np.uint8]

    def sizes(self, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        """Bytes of each selected record (``rows`` indexes the rows)."""
        out = np.full(rows.size, int(self.width.sum()), dtype=np.int64)
        for size in self.size:
            out += size[rows]
        return out


#: A text column's UTF-8 bytes: each row's size and start in the data, and the data.
_Text = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.uint8]]


def _column_bytes(values: Any, kind: str, out: npt.NDArray[np.uint64]
                  ) -> tuple[int, _Text | None]:
    """Write a column's fixed bytes (as integers) into ``out``.

    Returns their width and, for text, each row's UTF-8 size, start and the data.
    """
    if kind in ("float", "int"):
        a = np.asarray(values, dtype=np.float64)
        np.copyto(out, a.view(np.uint64))
        np.copyto(out, _NAN_BITS, where=np.isnan(a))
        return 8, None
    if kind == "date":
        d = np.asarray(values, dtype="datetime64[D]")  # NaT is INT64_MIN
        np.copyto(out.view(np.int64), d.view(np.int64))
        return 8, None
    if kind == "bool":
        np.copyto(out, np.asarray(values, dtype=bool), casting="unsafe")
        return 1, None
    arr = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.large_string())
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset:arr.offset + n + 1] \
        if n else np.zeros(1, dtype=np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and n \
        else np.zeros(0, dtype=np.uint8)
    size = np.diff(offsets)
    if arr.null_count:
        valid = ~np.asarray(arr.is_null(), dtype=bool)
        size = np.where(valid, size, 0)
        np.copyto(out.view(np.int64), np.where(valid, size, 0xFFFFFFFF))
    else:
        np.copyto(out.view(np.int64), size)
    return 4, (size, offsets[:-1], data)


def column_records(columns: Sequence[tuple[Any, str]], n: int) -> _Records:
    """The :class:`_Records` of ``n`` rows of columns given as (values, kind)."""
    value = np.empty((len(columns), n), dtype=np.uint64)
    width: list[int] = []
    slot: list[int] = []
    sizes: list[npt.NDArray[np.int64]] = []
    starts: list[npt.NDArray[np.int64]] = []
    data: list[npt.NDArray[np.uint8]] = []
    base = 0
    for j, (values, kind) in enumerate(columns):
        w, text = _column_bytes(values, kind, value[j])
        width.append(w)
        slot.append(-1 if text is None else len(sizes))
        if text is not None:
            sizes.append(text[0])
            starts.append(text[1] + base)
            data.append(text[2])
            base += text[2].shape[0]
    return _Records(value, np.asarray(width, dtype=np.int64), np.asarray(slot, dtype=np.int64),
                    np.asarray(sizes, dtype=np.int64).reshape(len(sizes), n),
                    np.asarray(starts, dtype=np.int64).reshape(len(starts), n),
                    np.concatenate(data) if data else np.zeros(1, dtype=np.uint8))


def _frame_column(frame: pd.DataFrame, name: str, kind: str) -> Any:
    """A frame's column as :func:`_column_bytes` reads it (absent: all missing)."""
    n = len(frame)
    if name not in frame.columns:
        if kind in ("float", "int"):
            return np.full(n, np.nan)
        if kind == "date":
            return np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
        if kind == "bool":
            return np.zeros(n, dtype=bool)
        return pd.Series([None] * n, dtype=object)
    s = frame[name]
    if kind in ("float", "int"):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind == "date":
        return s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    if kind == "bool":
        return s.to_numpy(dtype=bool, na_value=False)
    if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
        return s.astype("str").array
    return s.array  # (a Series would make pyarrow probe its index for attributes)


def table_columns(frame: pd.DataFrame, contract: schemas.TableContract,
                  drop: tuple[str, ...] = ()) -> list[tuple[Any, str]]:
    """A frame's contract columns, in contract order, as (values, kind) for :func:`column_records`."""
    return [(_frame_column(frame, c.name, _kind(c)), _kind(c))
            for c in contract.columns if c.name not in drop]


def record_columns(frame: pd.DataFrame, contract: schemas.TableContract,
                   drop: tuple[str, ...] = ()) -> _Records:
    """The canonical bytes of a frame's contract columns, in contract order."""
    return column_records(table_columns(frame, contract, drop), len(frame))


def _kind(c: schemas.Column) -> str:
    return "str" if c.kind == "category" else c.kind


def encode_records(buf: npt.NDArray[np.uint8], dest: npt.NDArray[np.int64],
                   rec: _Records, rows: npt.NDArray[np.intp]) -> None:
    """Write records ``rows`` of ``rec`` into ``buf``, record k starting at ``dest[k]``.

    One compiled pass over the records (:func:`_pack_records`), reading each
    column's values where :func:`column_records` wrote them.
    """
    if rows.size == 0 or rec.width.size == 0:
        return
    _pack_kernel()(buf, np.ascontiguousarray(dest, dtype=np.int64),
                   np.ascontiguousarray(rows, dtype=np.int64), np.ascontiguousarray(rec.value),
                   rec.width, rec.slot, rec.size, rec.start, rec.data)


def _pack_records(buf: Any, dest: Any, rows: Any, value: Any, width: Any, slot: Any,
                  size: Any, start: Any, data: Any) -> None:  # pragma: no cover - compiled
    """Kernel of :func:`encode_records` (compiled by numba, see :func:`_pack_kernel`).

    Record ``k`` (row ``r = rows[k]``) is, for each column ``j``, the ``width[j]`` low
    bytes of ``value[j, r]``, little endian, followed when ``slot[j] >= 0`` by
    ``size[slot[j], r]`` bytes of ``data`` from ``start[slot[j], r]``. The bytes are
    written at unsigned positions (no negative-index test, so that the compiler
    merges the byte stores of a value into one store).
    """
    one = np.uint64(1)
    for k in range(rows.shape[0]):
        r = rows[k]
        at = np.uint64(dest[k])
        for j in range(value.shape[0]):
            v = value[j, r]
            w = width[j]
            if w == 8:
                buf[at] = v & 255
                buf[at + one] = (v >> 8) & 255
                buf[at + np.uint64(2)] = (v >> 16) & 255
                buf[at + np.uint64(3)] = (v >> 24) & 255
                buf[at + np.uint64(4)] = (v >> 32) & 255
                buf[at + np.uint64(5)] = (v >> 40) & 255
                buf[at + np.uint64(6)] = (v >> 48) & 255
                buf[at + np.uint64(7)] = (v >> 56) & 255
            elif w == 4:
                buf[at] = v & 255
                buf[at + one] = (v >> 8) & 255
                buf[at + np.uint64(2)] = (v >> 16) & 255
                buf[at + np.uint64(3)] = (v >> 24) & 255
            else:
                for b in range(w):
                    buf[at + np.uint64(b)] = (v >> np.uint64(8 * b)) & 255
            at += np.uint64(w)
            s = slot[j]
            if s >= 0:
                src = np.uint64(start[s, r])
                for _ in range(size[s, r]):
                    buf[at] = data[src]
                    at += one
                    src += one


@functools.cache
def _pack_kernel() -> Any:
    """:func:`_pack_records` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_pack_records)


def warm_up() -> None:
    """Compile (or load from the disk cache) the batch path's kernels now.

    The batch job calls it before it forks its workers, so that each worker
    does not load them again.
    """
    rec = column_records([(np.zeros(1), "float"), (pd.Series(["x"], dtype="str"), "str")], 1)
    buf = np.zeros(64, dtype=np.uint8)
    encode_records(buf, np.zeros(1, dtype=np.int64), rec, np.zeros(1, dtype=np.intp))
    z = np.zeros(1, dtype=np.int64)
    _past_due_kernel()(z, z, z, z, np.zeros(1), 0, 0, 1)
    _top_codes(np.zeros(1, dtype=np.intp), np.ones(1), 1, 1)
    _exps(np.zeros(1))
    from riskengine.features import payments  # the payment sums

    payments.warm_up()


def _digests(buf: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64],
             ends: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """sha256 of each ``buf[starts[i]:ends[i]]``, shape ``(n, 32)``: :mod:`hashlib`, one
    call per slice of a memoryview of the buffer (no copy of the bytes)."""
    mv = memoryview(np.ascontiguousarray(buf, dtype=np.uint8).data)
    h = hashlib.sha256
    joined = b"".join([h(mv[a:b]).digest() for a, b in zip(starts.tolist(), ends.tolist(),
                                                            strict=True)])
    return np.frombuffer(joined, dtype=np.uint8).reshape(-1, 32)


def _hash(doc: bytes) -> str:
    return hashlib.sha256(doc).hexdigest()


# --- the core --------------------------------------------------------------------------


def _decide_core(
    engine: Engine, deb: DebtorInputs, pairs: PairInputs, as_of: str,
    decided_at: str | None, scorer: Scorer,
) -> dict[str, list[Any]]:
    """Decisions as columns (:data:`~riskengine.contracts.decision.DECISION_FIELDS`), one per pair."""
    n = deb.debtor_id.shape[0]
    ov = engine.overlay

    # 1. PD before overlay: the model on statement rows, the basis prior otherwise
    pd_model = np.where(deb.basis == 1, ov.tax_return_pd, ov.no_financials_pd).astype(float)
    model_reasons: list[list[dict[str, Any]]] = [[] for _ in range(n)]
    rows = np.flatnonzero(deb.basis == 0)
    if rows.size:
        p, codes = scorer(deb.st_X[rows])
        pd_model[rows] = p
        for i, r in zip(rows.tolist(), codes, strict=True):
            model_reasons[i] = r
    c = _core_numbers(engine, deb, pairs, pd_model)
    debtor_reasons = _reason_dicts(engine, deb, c, model_reasons)
    return _core_lists(engine, deb, pairs, c, debtor_reasons, as_of, decided_at)


@dataclass(frozen=True)
class _Core:
    """The numbers of :func:`_decide_core` (steps 2 and 4), per debtor and per pair."""

    pd_model: FloatArray                  # (n,) PD before the overlay
    pd_final: FloatArray                  # (n,)
    valid: npt.NDArray[np.bool_]          # (n,) the model PD is a probability
    default: npt.NDArray[np.bool_]        # (n,)
    grade: np.ndarray                     # (n,) grade text, UNRATED when unrated
    contrib: FloatArray                   # (n, k) overlay contributions
    rated: npt.NDArray[np.bool_]          # (m,)
    gidx: npt.NDArray[np.int64]           # (m,) grade index of the pair's debtor (0: unrated)
    cur_mismatch: npt.NDArray[np.bool_]
    led_mismatch: npt.NDArray[np.bool_]
    sup_missing: npt.NDArray[np.bool_]
    approved: FloatArray
    decision: np.ndarray                  # (m,) decision type names
    reasons: npt.NDArray[np.uint32]       # (m,) policy reason bits
    insured: FloatArray
    retained: FloatArray
    el: FloatArray
    el_un: FloatArray
    adv: FloatArray
    comm: FloatArray
    disc: FloatArray


def _core_numbers(engine: Engine, deb: DebtorInputs, pairs: PairInputs,
                  pd_model: FloatArray) -> _Core:
    """Overlay, default flags, grade (step 2) and the policy per pair (step 4)."""
    n = deb.debtor_id.shape[0]
    ov = engine.overlay
    policy = engine.policy

    # 2. overlay on the log-odds (monotone), then default flags
    ov_static = _OverlayStatic.of(ov)
    contrib = _contributions(deb.overlay_X, ov_static)
    valid = np.isfinite(pd_model) & (pd_model > 0) & (pd_model < 1)
    z = _logit(np.where(valid, pd_model, 0.5))
    if n == 1:  # one debtor: the same additions in the same order, on Python floats
        zf = float(z[0])
        for c in contrib[0].tolist():
            zf = zf + c
        z = np.array([zf])
    else:
        for j in range(contrib.shape[1]):  # term by term: the same sum whatever the batch size
            z = z + contrib[:, j]
    pd_adj = np.where(valid, np.minimum(_expit(z), engine.pd_ceiling), np.nan)
    default = deb.insolvency | deb.past_due_default
    pd_final = np.where(default, 1.0, pd_adj)  # defaulted: PD 1 (CRR art. 178), any model PD
    grade = engine.master_scale.pd_to_grade(pd_final, default, invalid="unrated")

    # 4. policy per pair
    m = pairs.debtor_pos.shape[0]
    dp = pairs.debtor_pos
    g_pair = grade[dp]
    rated = g_pair != UNRATED
    same_cur = deb.fin_currency[dp] == pairs.currency
    needs_fin = deb.basis[dp] != 2
    cur_mismatch = needs_fin & ~same_cur
    led_mismatch = pairs.supplier_currency != pairs.currency
    fin_ok = ~cur_mismatch
    tnw = np.where(fin_ok, deb.tnw[dp], np.nan)
    rev = np.where(fin_ok, deb.revenue[dp], np.nan)
    prof = np.where(fin_ok, deb.profit[dp], np.nan)
    ledger = np.where(led_mismatch, np.nan, pairs.supplier_ledger)

    approved = np.zeros(m)
    decision = np.full(m, "unrated", dtype=object)
    reasons = np.zeros(m, dtype=np.uint32)
    r_idx = np.flatnonzero(rated)
    has_il = np.isfinite(pairs.insurer_limit)
    gidx = _lookup(g_pair, _GRADE_INDEX, 0)
    pcode = _lookup(pairs.product, engine.product_codes, None)
    # Recourse products: the supplier bears the debtor's risk, so the supplier, rated with
    # the same features (its own records decided as a debtor in the same batch), drives
    # the decision (a supplier in default refuses it) and the advance rate and fees
    # (seeds 001, 003). A supplier not rated in the batch leaves the debtor's grade in
    # charge, with the note supplier_not_rated.
    recourse = policy_tables(policy).recourse[pcode].astype(bool) & rated
    g_drive = gidx
    sup_missing = np.zeros(m, dtype=bool)
    if recourse.any():
        if n == 1:  # one debtor: is the supplier that debtor
            sup_pos = np.where(pairs.supplier_id == deb.debtor_id[0], 0, -1)
        else:
            sup_pos = pd.Index(deb.debtor_id).get_indexer(pairs.supplier_id)
        sup_grade = grade[np.maximum(sup_pos, 0)]
        sup_ok = (sup_pos >= 0) & (sup_grade != UNRATED)
        g_drive = np.where(recourse & sup_ok, _lookup(sup_grade, _GRADE_INDEX, 0), gidx)
        sup_missing = recourse & ~sup_ok
    # pairs with and without an insurer limit are decided apart (one pair: one group)
    groups = [r_idx] if m == 1 else [r_idx[has_il[r_idx]], r_idx[~has_il[r_idx]]]
    for sel in groups:
        if sel.size == 0:
            continue
        cols: dict[str, Any] = {
            "grade": gidx[sel], "requested": pairs.requested[sel],
            "product": pcode[sel],
            "basis": _POLICY_BASIS[deb.basis[dp[sel]]],
            "tnw": tnw[sel], "revenue": rev[sel], "profit": prof[sel],
            "adverse_knockout": deb.knockout[dp[sel]], "insolvency": deb.insolvency[dp[sel]],
            "related": pairs.related[sel], "supplier_ledger": ledger[sel],
            "supplier_grade": g_drive[sel],
        }
        if engine.factor_capital is not None:
            cols["factor_capital"] = engine.factor_capital
            cols["group_exposure"] = 0.0
        if has_il[sel[0]]:
            cols["insurer_limit"] = pairs.insurer_limit[sel]
        res = decide_limits(cols, policy)
        approved[sel] = res.approved
        decision[sel] = res.decision_names().astype(object)
        reasons[sel] = res.reasons

    # cover, expected loss, advance rate, fees on rated pairs
    insured = np.zeros(m)
    retained = np.zeros(m)
    el = np.full(m, np.nan)
    el_un, adv, comm, disc = el.copy(), el.copy(), el.copy(), el.copy()
    if r_idx.size:
        gi = gidx[r_idx]
        lim = approved[r_idx]
        prod = pcode[r_idx]
        il = pairs.insurer_limit[r_idx]
        cov = insurance_cover(gi, lim, pd_final[dp[r_idx]], policy,
                              insurer_limit=np.where(np.isnan(il), lim, il), product=prod)
        insured[r_idx] = cov.insured_limit
        retained[r_idx] = cov.retained
        el[r_idx] = cov.expected_loss_insured
        el_un[r_idx] = cov.expected_loss_uninsured
        gp = g_drive[r_idx]  # pricing grade: the supplier's for recourse products
        adv[r_idx] = advance_rate(gp, prod, policy, deb.dilution[dp[r_idx]])
        tables = policy_tables(policy)  # lookup arrays built once per policy
        comm[r_idx] = tables.service_commission[gp] + tables.commission_surcharge[prod]
        disc[r_idx] = tables.discount_rate[gp]
    return _Core(pd_model, pd_final, valid, default, grade, contrib, rated, gidx,
                 cur_mismatch, led_mismatch, sup_missing, approved, decision, reasons,
                 insured, retained, el, el_un, adv, comm, disc)


def _reason_dicts(engine: Engine, deb: DebtorInputs, c: _Core,
                  model_reasons: list[list[dict[str, Any]]]) -> list[tuple[dict[str, Any], ...]]:
    """3. Reason codes per debtor as dicts of :data:`~riskengine.scoring.reasons.REASON_FIELDS`
    (the single-debtor path and :meth:`Engine.decide`; :func:`_reason_lists` builds the
    same codes as Arrow)."""
    n = deb.debtor_id.shape[0]
    ov_static = _OverlayStatic.of(engine.overlay)
    contrib, valid, default = c.contrib, c.valid, c.default
    debtor_reasons: list[tuple[dict[str, Any], ...]] = []
    feats = ov_static.features
    if n == 1:  # one debtor: the positive terms from Python lists (same values, order)
        c_l = contrib[0].tolist()
        x_l = deb.overlay_X[0].astype(np.float64).tolist()
        pos_c = [j for j, c in enumerate(c_l) if c > 0]
        pos_bounds = [0, len(pos_c)]
        pos_v = [x_l[j] for j in pos_c]
        pos_w = [c_l[j] for j in pos_c]
    else:
        pr, pc = np.nonzero(contrib > 0)  # row-major: by debtor, then term order
        pos_bounds = np.searchsorted(pr, np.arange(n + 1)).tolist()
        pos_c = pc.tolist()
        pos_v = deb.overlay_X[pr, pc].astype(np.float64).tolist()
        pos_w = contrib[pr, pc].astype(np.float64).tolist()
    for i in range(n):
        out: list[tuple[float, dict[str, Any]]] = []
        for rc in model_reasons[i]:
            out.append((float(rc["impact"]), _reason(
                "statement_model", rc["feature"], rc["value"], rc["direction"], None)))
        for j in range(pos_bounds[i], pos_bounds[i + 1]):
            f, v, w = pos_c[j], pos_v[j], pos_w[j]
            out.append((w, _reason("overlay", feats[f], v, "higher", math.exp(w))))
        out.sort(key=lambda t: -t[0])  # stable: model codes first on ties
        head: list[dict[str, Any]] = []
        if not valid[i] and not default[i]:
            head.append(_reason("no_valid_pd", "pd", None, "missing", None))
        if deb.insolvency[i]:
            head.append(_reason("insolvency", "adv_insolvency", 1.0, "higher", None))
        if deb.past_due_default[i]:
            head.append(_reason("past_due_default", "past_due_amount",
                                float(deb.past_due_amount[i]), "higher", None))
        if deb.basis[i] != 0:
            head.append(_reason(_BASIS_CODES[int(deb.basis[i])], "rating_basis", None,
                                "missing", None))
        debtor_reasons.append(tuple(head + [d for _, d in out[:_TOP_REASONS]]))
    return debtor_reasons


#: The reason code of each rating basis without statements (index: basis code).
_BASIS_CODES = ("", "basis_tax_return", "basis_no_financials")


def _reason(code: str, feature: str, value: float | None, direction: str,
            odds_factor: float | None) -> dict[str, Any]:
    """One reason code as a dict of :data:`~riskengine.scoring.reasons.REASON_FIELDS`."""
    return {"code": code, "feature": feature, "value": value, "direction": direction,
            "odds_factor": odds_factor}


def _core_lists(engine: Engine, deb: DebtorInputs, pairs: PairInputs, c: _Core,
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
    grades = np.array([str(g) for g in c.grade[dp].tolist()], dtype=object)
    col["grade"] = [g if r else None for g, r in zip(grades.tolist(), ok_rated, strict=True)]
    basis_names = [BASES[b] for b in deb.basis.tolist()]
    col["rating_basis"] = [basis_names[i] for i in dp_l]
    col["reason_codes"] = [debtor_reasons[i] for i in dp_l]
    col["requested_limit"] = _floats(pairs.requested)
    col["approved_limit"] = c.approved.astype(np.float64).tolist()
    col["decision_type"] = [str(x) for x in c.decision.tolist()]
    # the three reason tuples depend only on the policy bits and three flags: build
    # each distinct combination once
    uniq_l, inv_l = _reason_keys(c, m)
    tuples = [_reason_tuples(u) for u in uniq_l]
    col["binding_constraints"] = [tuples[u][0] for u in inv_l]
    col["knockouts"] = [tuples[u][1] for u in inv_l]
    col["limit_notes"] = [tuples[u][2] for u in inv_l]
    col["product"] = [str(x) for x in pairs.product.tolist()]
    col["insured_limit"] = c.insured.astype(np.float64).tolist()
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
    hashes = []
    for i, a, b in zip(dp_l, pairs.terms.start.tolist(), pairs.terms.stop.tolist(),
                       strict=True):
        h = prefix.copy()
        h.update(dig[32 * i:32 * i + 32])
        h.update(terms_mv[a:b])
        hashes.append(h.hexdigest())
    col["input_hash"] = hashes
    col["decided_at"] = [decided_at] * m
    return {f: col[f] for f in DECISION_FIELDS}


def _reason_keys(c: _Core, m: int) -> tuple[list[int], list[int]]:
    """Distinct keys of :func:`_reason_tuples` and each pair's position among them."""
    key = _reason_key(c)
    if m <= 16:  # a few pairs: no sort needed
        key_l = key.tolist()
        uniq_l = sorted(set(key_l))
        return uniq_l, [uniq_l.index(u) for u in key_l]
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq.tolist(), inv.ravel().tolist()


def _reason_key(c: _Core) -> npt.NDArray[np.int64]:
    """Each pair's key of :func:`_reason_tuples`."""
    out: npt.NDArray[np.int64] = (
        c.reasons.astype(np.int64) | (c.cur_mismatch.astype(np.int64) << 32)
        | ((c.led_mismatch & c.rated).astype(np.int64) << 33)
        | ((~c.rated).astype(np.int64) << 34) | (c.sup_missing.astype(np.int64) << 35))
    return out


# --- the core as Arrow (the batch job) ---------------------------------------------------

def decision_schema() -> Any:
    """The Arrow schema of decision rows (:data:`~riskengine.contracts.decision.DECISION_FIELDS`).

    Text columns are ``large_string``, the reason lists ``list<string>`` and the
    reason codes ``list<struct<code, feature, value, direction, odds_factor>>``
    (:func:`riskengine.scoring.reasons.reason_type`: fields, no text): the types
    ``pyarrow`` gives the columns of :class:`DecisionBatch`.
    """
    return pa.schema([pa.field(f, _arrow_type(_DECISION_TYPES.get(f, "str")))
                      for f in DECISION_FIELDS])


_DECISION_TYPES: dict[str, str] = {
    "pd": "float", "pd_model": "float", "requested_limit": "float",
    "approved_limit": "float", "insured_limit": "float", "retained_exposure": "float",
    "expected_loss": "float", "expected_loss_uninsured": "float", "advance_rate": "float",
    "service_commission_rate": "float", "discount_rate": "float",
    "reason_codes": "reasons", "binding_constraints": "names", "knockouts": "names",
    "limit_notes": "names",
}  # every other decision field is text


def _arrow_type(kind: str) -> Any:
    if kind == "float":
        return pa.float64()
    if kind == "names":
        return pa.list_(pa.string())
    if kind == "reasons":
        return reason_type()
    return pa.large_string()


def _decide_table(
    engine: Engine, deb: DebtorInputs, pairs: PairInputs, as_of: str,
    decided_at: str | None, scorer: Scorer,
) -> Any:
    """:func:`_decide_core` as one Arrow table (:func:`decision_schema`), built from arrays.

    The same numbers and the same reason codes as :func:`_decide_core` (which the
    single-debtor path uses); the reason codes are assembled from flat arrays into
    an Arrow ``list<struct>`` instead of one dict per code.
    """
    ov = engine.overlay
    pd_model = np.where(deb.basis == 1, ov.tax_return_pd, ov.no_financials_pd).astype(float)
    rows = np.flatnonzero(deb.basis == 0)
    mr = _model_reason_arrays(scorer, deb.st_X[rows], rows, pd_model)
    c = _core_numbers(engine, deb, pairs, pd_model)
    reasons = _reason_lists(engine, deb, c, mr, pairs.debtor_pos)
    m = pairs.debtor_pos.shape[0]
    dp = pairs.debtor_pos
    schema = decision_schema()
    text = pa.large_string()

    def floats(a: FloatArray, ok: npt.NDArray[np.bool_] | None = None) -> Any:
        a = np.asarray(a, dtype=np.float64)
        keep = np.isfinite(a) if ok is None else np.isfinite(a) & ok
        return pa.array(a, type=pa.float64(), mask=None if keep.all() else ~keep)

    def nan_null(a: FloatArray) -> Any:  # what pyarrow makes of a float column: NaN -> null
        return pa.array(np.asarray(a, dtype=np.float64), type=pa.float64(), from_pandas=True)

    def strings(values: np.ndarray) -> Any:
        return pa.array(values, type=text, from_pandas=True)

    def as_text(values: np.ndarray) -> Any:  # strings(values.astype(str)), without the copy
        try:
            arr = strings(values)
        except (pa.ArrowTypeError, pa.ArrowInvalid):
            arr = None
        if arr is None or arr.null_count:  # not all text: str() of each, as astype(str)
            return strings(values.astype(str))
        return arr

    def const(value: str | None) -> Any:
        if value is None:
            return pa.nulls(m, text)
        return pa.repeat(pa.scalar(value, text), m)

    uniq, inv_np = np.unique(_reason_key(c), return_inverse=True)
    tuples = [_reason_tuples(u) for u in uniq.tolist()]
    inv = pa.array(inv_np.ravel().astype(np.int64))
    names_type = _arrow_type("names")

    def reason_names(k: int) -> Any:
        return pa.array([t[k] for t in tuples], type=names_type).take(inv)

    cols: dict[str, Any] = {
        "debtor_id": strings(deb.debtor_id).take(pa.array(dp)),
        "supplier_id": as_text(pairs.supplier_id),
        "as_of": const(as_of),
        "pd": floats(c.pd_final[dp], c.rated),
        "pd_model": floats(c.pd_model[dp]),
        "grade": _GRADE_TEXT().take(pa.array(np.where(c.rated, c.gidx, 0))),
        "rating_basis": pa.array(BASES, type=text).take(pa.array(deb.basis[dp])),
        "reason_codes": reasons,
        "requested_limit": floats(pairs.requested),
        "approved_limit": nan_null(c.approved),
        "decision_type": as_text(c.decision),
        "binding_constraints": reason_names(0),
        "knockouts": reason_names(1),
        "limit_notes": reason_names(2),
        "product": as_text(pairs.product),
        "insured_limit": nan_null(c.insured),
        "retained_exposure": nan_null(c.retained),
        "expected_loss": floats(c.el),
        "expected_loss_uninsured": floats(c.el_un),
        "advance_rate": floats(c.adv),
        "service_commission_rate": floats(c.comm),
        "discount_rate": floats(c.disc),
        "currency": as_text(pairs.currency),
        "model_version": const(engine.model_version),
        "policy_version": const(engine.policy.version),
        "master_scale_version": const(engine.master_scale.version),
        "overlay_version": const(ov.version),
        "input_hash": _input_hashes(as_of, deb.digest, dp, pairs.terms),
        "decided_at": const(decided_at),
    }
    return pa.Table.from_arrays([cols[f] for f in DECISION_FIELDS], schema=schema)


@functools.lru_cache(maxsize=1)
def _GRADE_TEXT() -> Any:
    """Grade text by grade index (index 0: null, unrated)."""
    return pa.array([None, *GRADES], type=pa.large_string())


@dataclass(frozen=True)
class _ModelReasons:
    """Statement-model reason codes as flat arrays, ordered by debtor then rank."""

    owner: npt.NDArray[np.intp]        # debtor position
    feature: npt.NDArray[np.intp]      # code into ``names``
    names: tuple[str, ...]             # feature names
    value: FloatArray                  # NaN: missing
    direction: npt.NDArray[np.int8]    # 0 higher, 1 lower, 2 missing
    impact: FloatArray


def _model_reason_arrays(scorer: Scorer, X: FloatArray, rows: npt.NDArray[np.intp],
                         pd_model: FloatArray) -> _ModelReasons:
    """Score ``X`` (the debtors ``rows``) into ``pd_model``; their reason codes, flat."""
    if rows.size == 0:
        return _ModelReasons(np.empty(0, np.intp), np.empty(0, np.intp), (), np.empty(0),
                             np.empty(0, np.int8), np.empty(0))
    explain = getattr(scorer, "explain", None)
    if explain is not None:
        pds, A, rs, _ = explain(X)
        pd_model[rows] = pds
        value = A[rs.row, rs.feature]
        ref = scorer.reference[rs.feature]  # type: ignore[attr-defined]
        miss = np.isnan(value)
        direction = np.where(miss, 2, np.where(value > ref, 0, 1)).astype(np.int8)
        names = tuple(str(x) for x in scorer.names)  # type: ignore[attr-defined]
        return _ModelReasons(rows[rs.row], np.asarray(rs.feature, dtype=np.intp), names, value,
                             direction, np.asarray(rs.impact, dtype=np.float64))
    p, codes = scorer(X)
    pd_model[rows] = p
    flat = [(i, rc) for i, r in zip(rows.tolist(), codes, strict=True) for rc in r]
    fcodes, fnames = pd.factorize(pd.Series([str(rc["feature"]) for _, rc in flat],
                                            dtype=object))
    return _ModelReasons(
        np.array([i for i, _ in flat], dtype=np.intp),
        np.asarray(fcodes, dtype=np.intp), tuple(str(x) for x in fnames),
        np.array([np.nan if rc["value"] is None else rc["value"] for _, rc in flat],
                 dtype=np.float64),
        np.array([DIRECTIONS.index(rc["direction"]) for _, rc in flat], dtype=np.int8),
        np.array([float(rc["impact"]) for _, rc in flat], dtype=np.float64))


def _reason_lists(engine: Engine, deb: DebtorInputs, c: _Core, mr: _ModelReasons,
                  at: npt.NDArray[np.int64]) -> Any:
    """3. Reason codes of the debtors ``at`` (positions, e.g. each pair's debtor) as an
    Arrow ``list<struct>`` (:func:`~riskengine.scoring.reasons.reason_type`), one list per position.

    The codes and the order of :func:`_reason_dicts`: the flags (no valid PD,
    insolvency, past due, rating basis), then the top codes by decreasing impact,
    model codes first on ties. Each field is one flat array, taken once into the
    lists of ``at``.
    """
    n = deb.debtor_id.shape[0]
    st = _OverlayStatic.of(engine.overlay)
    s = pa.string()
    # candidates: model codes (in rank order), then positive overlay terms (term order)
    pr, pc = np.nonzero(c.contrib > 0)
    k_model = mr.owner.size
    owner = np.concatenate([mr.owner, pr]).astype(np.intp)
    impact = np.concatenate([mr.impact, c.contrib[pr, pc]])
    top, top_rank = _top_codes(owner, impact, n, _TOP_REASONS)  # model codes first on ties
    is_model = top < k_model
    n_heads = 4
    # per group: owner, slot, code, feature (Arrow text), value, direction, odds factor
    groups: list[tuple[Any, ...]] = []

    def texts(values: Sequence[str]) -> Any:
        return pa.array(values, type=s)

    def repeat(text: str, k: int) -> Any:
        return pa.repeat(pa.scalar(text, s), k)

    mi = top[is_model]
    if mi.size:
        code = mr.feature[mi]
        groups.append((owner[mi], n_heads + top_rank[is_model], repeat("statement_model", mi.size),
                       texts(mr.names).take(pa.array(code)), mr.value[mi], mr.direction[mi],
                       np.full(mi.size, np.nan)))
    oi = top[~is_model] - k_model
    if oi.size:
        term, rows = pc[oi], pr[oi]
        groups.append((rows, n_heads + top_rank[~is_model], repeat("overlay", oi.size),
                       texts(st.features).take(pa.array(term)),
                       deb.overlay_X[rows, term].astype(np.float64), np.zeros(oi.size, np.int8),
                       _exps(c.contrib[rows, term].astype(np.float64))))
    # the flags, before the top codes: (who, code, feature, value, direction)
    heads = [
        (~c.valid & ~c.default, "no_valid_pd", "pd", np.nan, 2),
        (deb.insolvency, "insolvency", "adv_insolvency", 1.0, 0),
        (deb.past_due_default, "past_due_default", "past_due_amount", None, 0),
        (deb.basis != 0, None, "rating_basis", np.nan, 2),
    ]
    for slot, (flag, code_text, feat, v, dcode) in enumerate(heads):
        who = np.flatnonzero(flag)
        if who.size == 0:
            continue
        values = deb.past_due_amount[who].astype(np.float64) if v is None \
            else np.full(who.size, v)
        codes = texts(_BASIS_CODES).take(pa.array(deb.basis[who])) if code_text is None \
            else repeat(code_text, who.size)
        groups.append((who, np.full(who.size, slot), codes, repeat(feat, who.size), values,
                       np.full(who.size, dcode, np.int8), np.full(who.size, np.nan)))
    rtype = reason_type()
    if not groups:
        return pa.ListArray.from_arrays(pa.array(np.zeros(at.size + 1, np.int32)),
                                        pa.array([], type=rtype.value_type), type=rtype)
    # each debtor's codes by slot (one code per debtor and slot), then per position
    grid = np.full((n, n_heads + _TOP_REASONS), -1, dtype=np.int64)
    grid[np.concatenate([g[0] for g in groups]), np.concatenate([g[1] for g in groups])] = \
        np.arange(sum(g[0].size for g in groups))
    per_at = grid[at]
    found = per_at >= 0
    order = per_at[found]  # row-major: by position, then slot
    take = pa.array(order)
    val = np.concatenate([g[4] for g in groups])[order]
    odds = np.concatenate([g[6] for g in groups])[order]
    struct = pa.StructArray.from_arrays(
        [pa.concat_arrays([g[2] for g in groups]).take(take),
         pa.concat_arrays([g[3] for g in groups]).take(take),
         pa.array(val, type=pa.float64(), mask=np.isnan(val)),
         texts(DIRECTIONS).take(pa.array(np.concatenate([g[5] for g in groups])[order])),
         pa.array(odds, type=pa.float64(), mask=np.isnan(odds))],
        fields=list(rtype.value_type))
    offsets = np.zeros(at.size + 1, dtype=np.int32)
    np.cumsum(found.sum(axis=1), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), struct, type=rtype)


def _top_codes(owner: npt.NDArray[np.intp], impact: FloatArray, n: int, k: int
               ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The first ``k`` candidates of each owner (``0 <= owner < n``) by decreasing
    impact, the earlier candidate first on ties, NaN impacts last.

    The rows of ``np.lexsort((np.arange(len(owner)), -impact, owner))`` ranked
    below ``k`` in their owner, selected per owner by a compiled ``k``-slot
    insertion (:func:`_select_top`): positions into the candidates, ordered by
    owner then rank, and their ranks.
    """
    size = min(owner.size, n * k)
    top = np.empty(size, dtype=np.intp)
    rank = np.empty(size, dtype=np.intp)
    kept = _top_kernel()(np.asarray(owner, dtype=np.intp),
                         np.asarray(impact, dtype=np.float64), n, k, top, rank)
    return top[:kept], rank[:kept]


def _select_top(owner: Any, impact: Any, n: int, k: int, top: Any,
                rank: Any) -> int:  # pragma: no cover - compiled
    """Kernel of :func:`_top_codes` (compiled by numba, see :func:`_top_kernel`);
    returns the number of candidates written to ``top`` and ``rank``."""
    start = np.zeros(n + 1, np.int64)
    for j in range(owner.shape[0]):
        start[owner[j] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    by = np.empty(owner.shape[0], np.int64)  # by owner, each owner's in their order
    fill = start[:n].copy()
    for j in range(owner.shape[0]):
        by[fill[owner[j]]] = j
        fill[owner[j]] += 1
    slot = np.empty(k, np.int64)
    key = np.empty(k)  # -impact of the slots, ascending (NaN last)
    out = 0
    for i in range(n):
        c = 0
        for q in range(start[i], start[i + 1]):
            j = by[q]
            x = -impact[j]
            at = c  # after every slot it does not come strictly before
            while at > 0 and (x < key[at - 1] or (key[at - 1] != key[at - 1] and x == x)):
                at -= 1
            if at < k:
                for s in range(min(c, k - 1), at, -1):
                    slot[s] = slot[s - 1]
                    key[s] = key[s - 1]
                slot[at] = j
                key[at] = x
                c = min(c + 1, k)
        for s in range(c):
            top[out] = slot[s]
            rank[out] = s
            out += 1
    return out


@functools.cache
def _top_kernel() -> Any:
    """:func:`_select_top` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_select_top)


def _exps(values: FloatArray) -> FloatArray:
    """``math.exp`` of each value: the same C library call, compiled
    (:func:`_exp_kernel`); a finite value too large raises math.exp's OverflowError."""
    out = np.empty(values.shape[0])
    _exp_kernel()(np.ascontiguousarray(values, dtype=np.float64), out)
    over = np.isinf(out) & np.isfinite(values)
    if over.any():
        math.exp(float(values[over][0]))
    return out


def _exp_all(values: Any, out: Any) -> None:  # pragma: no cover - compiled
    """Kernel of :func:`_exps`."""
    for i in range(values.shape[0]):
        out[i] = math.exp(values[i])


@functools.cache
def _exp_kernel() -> Any:
    """:func:`_exp_all` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_exp_all)


def _input_hashes(as_of: str, digest: npt.NDArray[np.uint8], dp: npt.NDArray[np.int64],
                  terms: PairBytes) -> Any:
    """The pairs' ``input_hash`` (hex sha256 of each pair document) as Arrow text.

    The documents (scheme and date, the debtor digest, the pair's terms) are laid
    out in one buffer (:func:`encode_records`) and hashed slice by slice.
    """
    m = dp.shape[0]
    head = np.frombuffer(HASH_SCHEME + as_of.encode("ascii"), dtype=np.uint8)
    w = head.size + 32
    fixed = np.zeros((m, -(-w // 8) * 8), dtype=np.uint8)  # head and digest, as 8-byte words
    fixed[:, :head.size] = head
    fixed[:, head.size:w] = digest[dp]
    words = fixed.shape[1] // 8
    size = (terms.stop - terms.start).astype(np.int64)
    rec = _Records(
        np.concatenate([fixed.view("<u8").T, np.zeros((1, m), dtype=np.uint64)]),
        np.array([8] * (words - 1) + [w - 8 * (words - 1), 0], dtype=np.int64),
        np.array([-1] * words + [0], dtype=np.int64), size.reshape(1, m),
        terms.start.astype(np.int64).reshape(1, m), terms.buf)
    lens = w + size
    start = np.cumsum(lens) - lens
    buf = np.empty(int(lens.sum()), dtype=np.uint8)
    encode_records(buf, start, rec, np.arange(m))
    hexed = _digests(buf, start, start + lens).tobytes().hex().encode("ascii")  # 64 per pair
    offsets = np.arange(0, 64 * (m + 1), 64, dtype=np.int64)
    return pa.Array.from_buffers(pa.large_string(), m,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(hexed)])


@functools.lru_cache(maxsize=64)
def _hash_prefix(as_of: str) -> Any:
    """The sha256 state after the scheme and the decision date (cached: copy before use)."""
    return hashlib.sha256(HASH_SCHEME + as_of.encode("ascii"))


@functools.lru_cache(maxsize=4096)
def _reason_tuples(u: int) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Binding constraints, knock-outs and notes of one key of :func:`_decide_core`
    (the policy's reason bits, then currency mismatch, ledger mismatch, unrated,
    recourse supplier not rated)."""
    names = _REASON_NAMES
    bits = ((np.uint32(u & 0xFFFFFFFF) >> _REASON_SHIFTS) & 1).astype(bool)
    notes = [str(x) for x in names[bits & ~_BINDING_SET & ~_KO_SET]]
    if u >> 32 & 1:
        notes.append("currency_mismatch")
    if u >> 33 & 1:
        notes.append("ledger_currency_mismatch")
    if u >> 34 & 1:
        notes.append("unrated")
    if u >> 35 & 1:
        notes.append("supplier_not_rated")
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
    if len(values) <= 16:  # a few values: no numpy round trips
        isfinite = math.isfinite
        if ok is None:
            return [v if isfinite(v) else None for v in values]  # type: ignore[arg-type]
        return [v if k and isfinite(v) else None  # type: ignore[arg-type]
                for v, k in zip(values, ok.tolist(), strict=True)]
    keep = np.isfinite(a) if ok is None else np.isfinite(a) & ok
    if keep.all():
        return values
    return [v if k else None for v, k in zip(values, keep.tolist(), strict=True)]


def _f(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


# --- batch inputs from frames ----------------------------------------------------------

_SORT_KEY = {"statements": "period_end", "adverse_records": "record_id",
             "invoices": "invoice_id"}


def _sort_codes(frame: pd.DataFrame, name: str) -> npt.NDArray[np.int64]:
    """Integer sort key of a table's records within a debtor (period end, record id...)."""
    key = frame[_SORT_KEY[name]]
    if name == "statements":
        out: npt.NDArray[np.int64] = key.to_numpy(dtype="datetime64[ns]").astype(
            "datetime64[D]").view(np.int64)
        return out
    codes, _ = pd.factorize(key.astype("str"), sort=True)  # code-point order, as sorted()
    if name == "invoices":  # an invoice id may recur under another supplier: then by supplier
        sup, uniques = pd.factorize(frame["supplier_id"].astype("str"), sort=True)
        codes = codes.astype(np.int64) * max(len(uniques), 1) + sup
    return np.asarray(codes, dtype=np.int64)


def _sorted_records(frame: pd.DataFrame, name: str) -> bool:
    """Whether a table's rows are in (debtor id, sort key) order, none missing.

    Then the stable sort of :func:`debtor_digests` keeps every row in place (ids are
    compared as text, as the sorted debtor index orders them). One Arrow pass.
    """
    n = len(frame)
    if n < 2:
        return True
    try:
        d = pa.array(frame["debtor_id"], from_pandas=True)
        k = pa.array(frame[_SORT_KEY[name]], from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return False
    if d.null_count or k.null_count or not (
            pa.types.is_string(d.type) or pa.types.is_large_string(d.type)):
        return False
    if name != "statements" and not (pa.types.is_string(k.type) or
                                     pa.types.is_large_string(k.type)):
        return False
    d0, d1, k0, k1 = d.slice(0, n - 1), d.slice(1), k.slice(0, n - 1), k.slice(1)
    within = pc.less(k0, k1) if name == "invoices" else pc.less_equal(k0, k1)  # ties: by supplier
    ok = pc.or_(pc.less(d0, d1), pc.and_(pc.equal(d0, d1), within))
    return bool(pc.all(ok).as_py())


def debtor_digests(debtors: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                   ids: pd.Index) -> npt.NDArray[np.uint8]:
    """The debtor digest of every debtor of ``ids`` (see the input-hash notes above).

    Parameters
    ----------
    debtors : pandas.DataFrame
        One debtors row per id of ``ids``, in that order.
    tables : mapping
        ``statements``, ``adverse_records``, ``invoices`` (validated frames).
    ids : pandas.Index
        Debtor ids (str).

    Returns
    -------
    ndarray of uint8, shape (len(ids), 32)
    """
    n = len(ids)
    dcols = record_columns(debtors, schemas.DEBTORS)
    deb_rows = np.arange(n)
    deb_len = dcols.sizes(deb_rows)
    parts = []
    block_len = deb_len.copy()
    for name in _DEBTOR_TABLES:
        frame = tables[name]
        if len(frame):
            codes = _positions(frame["debtor_id"], ids)
            if _sorted_records(frame, name):  # already in (debtor, key) order
                order = np.flatnonzero(codes >= 0)
            else:
                order = np.lexsort((_sort_codes(frame, name), codes))
                order = order[codes[order] >= 0]
            sc = codes[order]
        else:
            order = sc = np.empty(0, dtype=np.intp)
        cols = record_columns(frame, schemas.CONTRACTS[name], drop=("debtor_id",))
        lens = cols.sizes(order)
        tbytes = np.bincount(sc, weights=lens, minlength=n).astype(np.int64)
        count = np.bincount(sc, minlength=n)
        parts.append((order, sc, cols, lens, tbytes, count))
        block_len += 4 + tbytes
    block_start = np.cumsum(block_len) - block_len
    block_end = block_start + block_len
    # debtors in batches of about _DIGEST_BATCH bytes, each laid out in one reused buffer
    # (no fresh pages to fault in, hashed while the bytes are still in the cache)
    cuts = np.unique(np.concatenate([[0], np.searchsorted(
        block_end, _DIGEST_BATCH * np.arange(1, int(block_end[-1]) // _DIGEST_BATCH + 1)
        if n else np.zeros(0, dtype=np.int64), side="right"), [n]]))
    writes = []
    off = block_start + deb_len
    for order, sc, cols, lens, tbytes, count in parts:
        # the records of a debtor, one run of ``order``, follow its count
        run_start = np.cumsum(tbytes) - tbytes
        excl = np.cumsum(lens) - lens
        writes.append((off, count.astype("<u4").view(np.uint8).reshape(-1, 4),
                       (off + 4 - run_start)[sc] + excl, cols, order, np.searchsorted(sc, cuts)))
        off = off + 4 + tbytes
    out = np.empty((n, 32), dtype=np.uint8)
    sizes = block_end[cuts[1:] - 1] - block_start[cuts[:-1]]
    buf = np.empty(int(sizes.max()) if sizes.size else 0, dtype=np.uint8)
    for j, (a, b) in enumerate(zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)):
        base = block_start[a]
        encode_records(buf, block_start[a:b] - base, dcols, deb_rows[a:b])
        for count_at, count_bytes, dest, cols, order, run in writes:
            for i in range(4):
                buf[count_at[a:b] - base + i] = count_bytes[a:b, i]
            encode_records(buf, dest[run[j]:run[j + 1]] - base, cols, order[run[j]:run[j + 1]])
        out[a:b] = _digests(buf, block_start[a:b] - base, block_end[a:b] - base)
    return out


#: Bytes of debtor blocks laid out and hashed at a time by :func:`debtor_digests`.
_DIGEST_BATCH = 4 << 20


def pair_bytes(rec: _Records) -> PairBytes:
    """Concatenate the records of per-pair columns into :class:`PairBytes`."""
    rows = np.arange(rec.value.shape[1])
    lens = rec.sizes(rows)
    start = np.cumsum(lens) - lens
    buf = np.empty(int(lens.sum()), dtype=np.uint8)
    encode_records(buf, start, rec, rows)
    return PairBytes(buf, start, start + lens)


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
        One row per decided pair, :func:`decision_schema` (the rows and values of
        :attr:`DecisionBatch.decisions`).
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
        The factor's eligible capital: switches the group large-exposure cap on
        (group exposure of other pairs is taken as 0: a single payload does not
        know the book).
    reason_top_k : int, default 3
        Statement-model reason codes per debtor.

    Notes
    -----
    An engine is immutable after construction and holds no per-call state;
    one instance serves concurrent calls.
    """

    def __init__(
        self, pd_model: Any, master_scale: MasterScale, policy: CreditPolicy, *,
        overlay: Overlay, model_version: str, default_product: str = "non_recourse",
        factor_capital: float | None = None, reason_top_k: int = 3,
    ) -> None:
        if default_product not in policy.product_names:
            raise PolicyError(f"default_product {default_product!r} is not a product of "
                              f"policy {policy.version} ({', '.join(policy.product_names)}).",
                              key="products")
        self.pd_model = pd_model
        self.master_scale = master_scale
        self.policy = policy
        self.overlay = overlay
        self.model_version = model_version
        self.default_product = default_product
        self.factor_capital = factor_capital
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
               scorer: Scorer | None = None) -> DecisionBatch:
        """Decide every supplier-debtor pair (exposure) of a portfolio.

        Parameters
        ----------
        frames : mapping of str to pandas.DataFrame
            Portfolio tables (:data:`riskengine.contracts.schemas.CONTRACTS`), plus the
            optional ``pair_terms`` (product and insurer limit per pair,
            :data:`riskengine.contracts.payload.PAIR_TERMS_COLUMNS`). Not modified.
        as_of : date-like
            Decision date; records dated after it are not used.
        decided_at : str, optional
            Timestamp recorded in each decision (the shell passes it).
        reference_date : date-like, optional
            Extraction date: records dated after it are invalid (``future_date``).
        scorer : callable, optional
            Statement-model scorer; default the fitted scikit-learn model.

        Returns
        -------
        DecisionBatch
            Invalid debtors become error rows (validated with
            :func:`riskengine.validation.validate_portfolio`); the rest are decided.
        """
        p = self._prepare(frames, as_of, reference_date)
        col = _decide_core(self, p.debtors, p.pairs, p.day, decided_at, scorer or self._scorer)
        decisions = _columns_frame(col)
        return DecisionBatch(decisions, p.errors, p.pairs_in, p.pairs_in - len(decisions),
                             p.debtors_in, p.debtors_rejected,
                             _OverlayStatic.of(self.overlay).words)

    def decide_table(self, frames: Mapping[str, pd.DataFrame], as_of: Any, *,
                     decided_at: str | None = None, reference_date: Any = None,
                     scorer: Scorer | None = None) -> DecisionTable:
        """:meth:`decide` with the decisions as one Arrow table (the batch job's path).

        The same decisions as :meth:`decide`, in the same order, as an Arrow table
        of :func:`decision_schema` built from the core's arrays (no Python object
        per decision or per reason code).

        Returns
        -------
        DecisionTable
        """
        p = self._prepare(frames, as_of, reference_date)
        table = _decide_table(self, p.debtors, p.pairs, p.day, decided_at,
                              scorer or self._scorer)
        return DecisionTable(table, p.errors, p.pairs_in, p.pairs_in - table.num_rows,
                             p.debtors_in, p.debtors_rejected)

    def _prepare(self, frames: Mapping[str, pd.DataFrame], as_of: Any,
                 reference_date: Any) -> _Prepared:
        """Validation and the core's inputs of :meth:`decide` and :meth:`decide_table`."""
        from riskengine.validation import validate_portfolio

        day = as_of_text(as_of)
        _refuse_future(day, reference_date, "as_of", "")
        core = {k: v for k, v in frames.items() if k != "pair_terms"}
        vp = validate_portfolio(core, reference_date=reference_date)
        clean = vp.frames
        errors = [vp.errors]
        exp_in = frames.get("exposures")
        pairs_in = 0 if exp_in is None else len(exp_in)
        deb_inputs, pair_inputs, pair_errors = self._batch_inputs(
            clean, frames.get("pair_terms"), day)
        if pair_errors:
            errors.append(pd.DataFrame(pair_errors, columns=list(schemas.ERROR_COLUMNS)))
        err = pd.concat([e for e in errors if len(e)], ignore_index=True) if any(
            len(e) for e in errors) else vp.errors.iloc[0:0]
        return _Prepared(day, deb_inputs, pair_inputs, err, pairs_in, vp.debtors_in,
                         len(vp.rejected_debtors) + vp.debtors_unidentified)

    def _batch_inputs(self, clean: Mapping[str, pd.DataFrame], terms: pd.DataFrame | None,
                      day: str) -> tuple[DebtorInputs, PairInputs, list[dict[str, Any]]]:
        ov = self.overlay
        feats = build_features(
            clean, day, families=("statements", "adverse", "payments"),
            lookback_years=self.lookback_years,
            significant_amount=float(self.policy.knockouts.adverse_min_amount))
        ids = feats.index
        st_X = feats.reindex(columns=list(self.feature_names)).to_numpy(
            dtype=np.float64, na_value=np.nan)
        fin = latest_financials(clean["statements"], day, ids)
        basis = rating_basis(fin["statement_type"], fin["total_assets"], fin["revenue"],
                             fin["age_days"], ov.max_statement_age_days)
        ko_col = "adv_knockout" if self.policy.knockouts.adverse_count_settled \
            else "adv_knockout_open"
        pdue, open_bal = past_due(clean["invoices"], day, ov.days_past_due, ids)
        deb_frame = _on_index(clean["debtors"], ids)
        digest = debtor_digests(deb_frame, clean, ids)
        deb = DebtorInputs(
            debtor_id=np.asarray(ids, dtype=object), st_X=st_X, basis=basis,
            overlay_X=feats.reindex(columns=list(ov.features)).to_numpy(
                dtype=np.float64, na_value=np.nan),
            insolvency=feats["adv_insolvency"].to_numpy(dtype=np.float64) > 0,
            past_due_default=default_past_due(pdue, open_bal, ov),
            knockout=feats[ko_col].to_numpy(dtype=np.float64) > 0,
            dilution=feats["pay_dilution"].to_numpy(dtype=np.float64, na_value=np.nan),
            tnw=fin["equity"], revenue=fin["revenue"], profit=fin["net_income"],
            fin_currency=fin["currency"], past_due_amount=pdue, digest=digest,
        )
        pairs, errs = self._pairs_from_frames(clean, terms, ids)
        return deb, pairs, errs

    def _pairs_from_frames(self, clean: Mapping[str, pd.DataFrame],
                           terms: pd.DataFrame | None, ids: pd.Index
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
        sup_pos = _positions(ex["supplier_id"], sup.index)[sel] if sup.index.is_unique \
            else np.full(sel.size, -1)
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
        terms = pair_bytes(column_records(
            [*table_columns(exs, schemas.EXPOSURES), *table_columns(srow, schemas.SUPPLIERS),
             (rel_type, "str"), (product[sel], "str"), (insurer[sel], "float")], sel.size))
        pairs = PairInputs(
            debtor_pos=pos[sel].astype(np.int64), supplier_id=sid[sel],
            currency=exs["currency"].astype(object).to_numpy(dtype=object),
            requested=req, annual_sales=sales, product=product[sel],
            supplier_ledger=srow["ledger_total"].to_numpy(dtype=np.float64, na_value=np.nan),
            supplier_currency=srow["currency"].astype(object).to_numpy(dtype=object),
            related=related | same_group, insurer_limit=insurer[sel], terms=terms)
        return pairs, errs

    # --- payloads -----------------------------------------------------------------

    def score_payloads(self, payloads: Sequence[DebtorPayload | dict[str, Any]], *,
                       as_of: Any = None, decided_at: str | None = None,
                       reference_date: Any = None) -> list[dict[str, Any]]:
        """Decide many payloads through the batch path; one decision dict per payload.

        Parameters
        ----------
        payloads : sequence of DebtorPayload or dict
        as_of : date-like, optional
            Used for payloads without ``as_of``; a payload without one and no
            ``as_of`` here is refused.
        decided_at, reference_date
            As in :meth:`decide`.

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
        out: list[dict[str, Any] | None] = [None] * len(parsed)
        for day in sorted(set(days)):
            idx = [i for i, d in enumerate(days) if d == day]
            batch = self.decide(payload_to_frames([parsed[i] for i in idx]), day,
                                decided_at=decided_at, reference_date=reference_date)
            if len(batch.errors):
                raise _batch_error(batch.errors)
            by_debtor = {d["debtor_id"]: d for d in batch.to_dicts()}
            for i in idx:
                out[i] = by_debtor[parsed[i].debtor.debtor_id]
        return [o for o in out if o is not None]

    def decide_one(self, payload: DebtorPayload | dict[str, Any], *, as_of: Any = None,
                   decided_at: str | None = None, reference_date: Any = None
                   ) -> dict[str, Any]:
        """Decide one payload on the compact numpy path (same core as :meth:`decide`).

        Returns
        -------
        dict
            :meth:`Decision.to_dict` of the pair's decision.

        Raises
        ------
        InvalidInputError
            As :meth:`score_payloads`.
        """
        p = parse_payload(payload)
        day = self._payload_day(p, as_of, None)
        _refuse_future(day, reference_date, "as_of", p.debtor.debtor_id)
        out: dict[str, Any] = self._fast.decide_one(p, day, decided_at, reference_date)
        return out

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


# --- frame helpers shared by the batch path ----------------------------------------


def _positions(values: Any, ids: pd.Index) -> npt.NDArray[np.int64]:
    """Position of each value in ``ids`` (distinct), -1 when absent or missing: one
    Arrow hash lookup for arrow-backed text (:func:`riskengine.features.adverse._positions`)."""
    from riskengine.features.adverse import _positions as positions

    s = values if isinstance(values, (pd.Series, pd.Index)) else pd.Series(values, dtype="str")
    if not (isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow"):
        s = s.astype("str")
    out: npt.NDArray[np.int64] = positions(s, ids)
    return out


def _on_index(debtors: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """The debtors table indexed by ``debtor_id`` and aligned on ``ids``."""
    pos = _positions(debtors["debtor_id"], ids)
    if len(pos) == len(ids) and bool((pos == np.arange(len(pos))).all()):
        return debtors.set_axis(ids, axis=0)  # the same rows in the same order
    frame = debtors.set_index(debtors["debtor_id"].astype("str"))
    return frame.reindex(ids)


def latest_financials(statements: pd.DataFrame, day: str, ids: pd.Index) -> dict[str, Any]:
    """Latest statement up to ``day`` per debtor of ``ids``: items, type, currency, age.

    Equity falls back to total assets - total liabilities (the statement
    pipeline's identity); tangible net worth is taken as equity (the contract
    carries no intangibles).
    """
    n = len(ids)
    out: dict[str, Any] = {k: np.full(n, np.nan) for k in
                           ("equity", "revenue", "net_income", "total_assets", "age_days")}
    out["statement_type"] = np.full(n, "", dtype=object)
    out["currency"] = np.full(n, "", dtype=object)
    if statements.empty:
        return out
    t = np.datetime64(day, "D")
    pe = statements["period_end"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    rows, pos = _latest_statements(statements["debtor_id"], pe, t, ids)

    def col(name: str) -> FloatArray:
        return statements[name].to_numpy(dtype=np.float64, na_value=np.nan)[rows]

    eq = col("equity")
    eq = np.where(np.isnan(eq), col("total_assets") - col("total_liabilities"), eq)
    for name, v in (("equity", eq), ("revenue", col("revenue")),
                    ("net_income", col("net_income")), ("total_assets", col("total_assets")),
                    ("age_days", (t - pe[rows]).astype(np.int64).astype(np.float64))):
        out[name][pos] = v
    out["statement_type"][pos] = _objects_at(statements["statement_type"], rows)
    out["currency"][pos] = _objects_at(statements["currency"], rows)
    return out


def _latest_statements(debtor_id: pd.Series, pe: npt.NDArray[np.datetime64], t: np.datetime64,
                       ids: pd.Index) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row of each debtor's latest statement up to ``t`` and the debtor's position in
    ``ids``, in ascending position (a debtor absent from ``ids`` has position -1, and
    the latest of all such statements comes first).

    Statements sorted by debtor and period (as riskengine writes them) are taken from
    their runs (:func:`riskengine.features.latest_of_runs`) and only their distinct
    debtors are looked up in ``ids``; otherwise every row is looked up and sorted.
    """
    eligible = pe <= t
    latest = latest_of_runs(debtor_id, eligible, pe)
    if latest is not None:
        rows, debtors = latest
        pos = _positions(debtors, ids)
        if len(pos) == 0 or pos.min() >= 0:  # every debtor known: one row each
            return rows, pos
    sel = np.flatnonzero(eligible)
    codes = _positions(debtor_id, ids)[sel]
    order = np.lexsort((pe[sel].astype(np.int64), codes))
    sc = codes[order]
    last = np.ones(sc.size, dtype=bool)
    last[:-1] = sc[1:] != sc[:-1]
    return sel[order[last]], sc[last]


def _objects_at(values: pd.Series, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.object_]:
    """``values.iloc[rows].astype(object)`` as an array: arrow-backed text without
    missing values is converted once per distinct value (a dictionary encoding)."""
    arr = getattr(values.array, "_pa_array", None)
    if arr is not None:
        taken = arr.take(rows)
        taken = taken.combine_chunks() if isinstance(taken, pa.ChunkedArray) else taken
        if not taken.null_count:
            enc = pc.dictionary_encode(taken)
            words = enc.dictionary.to_numpy(zero_copy_only=False)
            out: npt.NDArray[np.object_] = words[enc.indices.to_numpy()]
            return out
    return values.iloc[rows].astype(object).to_numpy()


def rating_basis(statement_type: np.ndarray, total_assets: FloatArray, revenue: FloatArray,
                 age_days: FloatArray, max_age: int) -> npt.NDArray[np.int64]:
    """Code into :data:`BASES` per debtor (see the module docstring)."""
    stype = np.asarray(statement_type, dtype=object)
    fresh = age_days <= max_age
    full = fresh & (stype != "tax_return") & (stype != "") & (total_assets > 0) & \
        ~np.isnan(revenue)
    tax = fresh & (stype == "tax_return") & ~np.isnan(revenue)
    return np.where(full, 0, np.where(tax, 1, 2)).astype(np.int64)


def past_due(invoices: pd.DataFrame, day: str, days_past_due: int, ids: pd.Index
             ) -> tuple[FloatArray, FloatArray]:
    """Per debtor: amount open more than ``days_past_due`` past due, and the open balance."""
    n = len(ids)
    if invoices.empty:
        return np.zeros(n), np.zeros(n)
    t = int(np.datetime64(day, "D").astype(np.int64))

    def ns(name: str) -> npt.NDArray[np.int64]:
        return invoices[name].to_numpy(dtype="datetime64[ns]").view(np.int64)

    amount = invoices["amount"].to_numpy(dtype=np.float64, na_value=np.nan)
    codes = _positions(invoices["debtor_id"], ids)
    out: tuple[FloatArray, FloatArray] = _past_due_kernel()(
        codes, ns("issue_date"), ns("due_date"), ns("paid_date"), amount, t, days_past_due, n)
    return out


_DAY_NS = 86_400_000_000_000


def _past_due_sums(codes: Any, issue: Any, due: Any, paid: Any, amount: Any, t: int,
                   days_past_due: int, n: int) -> Any:  # pragma: no cover - compiled
    """Kernel of :func:`past_due`, dates as int64 nanoseconds (NaT the int64 minimum).

    A date is its day number (floored, as numpy's cast to ``datetime64[D]``), NaT
    a day after every other. An invoice of a debtor of ``ids`` (code >= 0) issued by
    day ``t`` and not paid by then is open; it is past due when ``t - due`` exceeds
    ``days_past_due``. Each sum adds its invoices' amounts in row order from 0.0, as
    ``numpy.bincount`` does with zero weights elsewhere (a zero adds nothing to a
    sum that is never -0.0).
    """
    nat = np.iinfo(np.int64).min
    never = np.iinfo(np.int64).max
    pdue = np.zeros(n)
    bal = np.zeros(n)
    for i in range(codes.shape[0]):
        c = codes[i]
        if c < 0 or issue[i] == nat or issue[i] // _DAY_NS > t:
            continue
        if paid[i] != nat and paid[i] // _DAY_NS <= t:
            continue
        a = amount[i]
        bal[c] += a
        due_day = never if due[i] == nat else due[i] // _DAY_NS
        if t - due_day > days_past_due:
            pdue[c] += a
    return pdue, bal


@functools.cache
def _past_due_kernel() -> Any:
    """:func:`_past_due_sums` compiled (numba, cached on disk beside this module)."""
    from numba import njit

    return njit(cache=True, nogil=True)(_past_due_sums)


def default_past_due(pdue: FloatArray, open_balance: FloatArray, ov: Overlay
                     ) -> npt.NDArray[np.bool_]:
    """Material past-due default: above the absolute and the relative threshold."""
    out: npt.NDArray[np.bool_] = (pdue > ov.materiality_absolute) & (
        pdue > ov.materiality_relative * open_balance)
    return out
