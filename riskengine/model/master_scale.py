"""The master scale: 12-month PD bands -> grades ``"1"`` (best) ... ``"10"`` and ``"D"``.

A :class:`MasterScale` is a frozen value object. It validates its own
invariants (contiguous, strictly increasing bands covering (0, 1], each central
PD inside its band) and round-trips through a plain dict so that it can live in
a reviewed TOML file (``riskengine/config/master_scale.toml``, loaded by
``riskengine.config.load_master_scale``).

Band convention (used everywhere in riskengine)
-----------------------------------------------
Bands are **closed on the upper side**: grade *k* holds the PDs in
``(upper[k-1], upper[k]]`` (grade 1 holds ``(0, upper[0]]``). This matches the
"PD <= 0.10 %" wording of the EU credit-quality-step mapping (Commission
Implementing Regulation (EU) 2016/2251), so a PD exactly on a cut-point, e.g.
0.10 %, gets the *better* grade. Grade 10 may reach up to (but not include)
a PD of 1 (the shipped scale: ``(30 %, 100 %)``). The default grade ``"D"`` is
not a PD band of the model: it holds a PD of exactly 1, a PD above grade 10's
bound when a scale sets that bound below 1, and any row whose default flag is
set (CRR art. 178: 90 days past due on a material amount, or unlikely to pay —
insolvency). A high model PD alone is a weak grade, not a default.

A NaN, infinite, zero, negative or > 1 PD is never given a grade: by default
:meth:`MasterScale.pd_to_grade` raises :class:`~riskengine.errors.InvalidInputError`
naming the position and value; with ``invalid="unrated"`` it returns the explicit
marker :data:`UNRATED` (``"NR"``) for those rows instead, so that a batch can
report them as *unrated* decisions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from riskengine.errors import InvalidInputError, PolicyError

__all__ = [
    "GRADES",
    "DEFAULT_GRADE",
    "UNRATED",
    "N_GRADES",
    "MasterScale",
    "grade_index",
]

GRADES: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "D")
"""All grades in order, best first; the grade index of ``GRADES[i]`` is ``i + 1``."""

DEFAULT_GRADE = "D"
UNRATED = "NR"
"""Marker returned for rows that cannot be rated (NaN or out-of-range PD)."""

N_GRADES = 10
"""Number of non-default grades."""

_GRADE_ARRAY = np.asarray(GRADES)
_GRADE_U2 = _GRADE_ARRAY.astype("<U2")
_INDEX = {g: i + 1 for i, g in enumerate(GRADES)}


def grade_index(grades: Any) -> npt.NDArray[np.int64]:
    """Grade index ``1`` ... ``11`` (``"D"`` = 11) of each grade string.

    Parameters
    ----------
    grades : str or array-like of str
        Grades from :data:`GRADES`.

    Returns
    -------
    numpy.ndarray of int64
        Same shape as the input (0-d for a single string).

    Raises
    ------
    InvalidInputError
        A value that is not a grade (e.g. the ``"NR"`` marker): it has no order.

    Examples
    --------
    >>> grade_index(["1", "10", "D"]).tolist()
    [1, 10, 11]
    """
    arr = np.asarray(grades).astype(str)
    uniq, inverse = np.unique(arr.ravel(), return_inverse=True)
    codes = np.array([_INDEX.get(str(g), 0) for g in uniq], dtype=np.int64)  # <= few values
    out = codes[inverse]
    if (out == 0).any():
        pos = int(np.flatnonzero(out == 0)[0])
        g = str(arr.ravel()[pos])
        raise InvalidInputError(
            f"Position {pos}: {g!r} is not a master-scale grade; expected one of "
            f"{', '.join(GRADES)}. Unrated rows have no grade index: filter them first.",
            [{"table": "grades", "record": str(pos), "debtor_id": "", "column": "grade",
              "value": str(g), "reason": "unknown_category",
              "message": f"{g!r} is not a grade"}],
        )
    return out.reshape(arr.shape)


_BOUNDS: dict[int, tuple[Any, npt.NDArray[np.float64]]] = {}


def _bounds(scale: MasterScale) -> npt.NDArray[np.float64]:
    """``scale.upper_bounds`` as a read-only array, built once per scale object."""
    hit = _BOUNDS.get(id(scale))
    if hit is not None and hit[0] is scale:
        return hit[1]
    arr = np.asarray(scale.upper_bounds)
    arr.setflags(write=False)
    if len(_BOUNDS) >= 64:  # many scales (tests): keep the cache small
        _BOUNDS.clear()
    _BOUNDS[id(scale)] = (scale, arr)  # the strong reference keeps the id unique
    return arr


def _require(cond: bool, message: str, key: str) -> None:
    if not cond:
        raise PolicyError(f"master scale: {key}: {message}", key=key)


@dataclass(frozen=True, slots=True)
class MasterScale:
    """A versioned master scale of 10 non-default grades and the default grade ``"D"``.

    Parameters
    ----------
    version : str
        Version label of the scale (recorded in every decision).
    upper_bounds : tuple of float
        The 10 upper PD bounds of grades 1 ... 10, strictly increasing, each in
        (0, 1). Grade *k* is ``(upper_bounds[k-2], upper_bounds[k-1]]``.
    central_pds : tuple of float
        The central (representative) PD of grades 1 ... 10, each inside its band.
        The central PD of ``"D"`` is 1.
    floor : float, default 0.0005
        The lowest PD the model can produce (Basel 3.1 corporate floor); the
        nominal lower end of grade 1 used for its central PD. Must be below
        ``upper_bounds[0]``.

    Raises
    ------
    PolicyError
        When an invariant fails; ``key`` names the offending entry
        (e.g. ``"grades.4.upper"``).

    Notes
    -----
    PDs are fractions in [0, 1], never percents. Bands are closed above (see
    the module docstring).

    Examples
    --------
    >>> s = MasterScale.from_dict({"version": "t", "floor": 0.0005, "grades": [
    ...     {"grade": str(k), "upper": u} for k, u in enumerate(
    ...         [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.075, 0.15, 0.3, 0.5], start=1)]})
    >>> s.pd_to_grade([0.0005, 0.001, 0.0011, 0.075, 0.6, 1.0]).tolist()
    ['1', '1', '2', '7', 'D', 'D']
    """

    version: str
    upper_bounds: tuple[float, ...]
    central_pds: tuple[float, ...]
    floor: float = 0.0005

    def __post_init__(self) -> None:
        _require(isinstance(self.version, str) and bool(self.version.strip()),
                 f"version must be a non-empty string, got {self.version!r}", "version")
        ub = tuple(float(u) for u in self.upper_bounds)
        cp = tuple(float(c) for c in self.central_pds)
        object.__setattr__(self, "upper_bounds", ub)
        object.__setattr__(self, "central_pds", cp)
        object.__setattr__(self, "floor", float(self.floor))
        _require(len(ub) == N_GRADES,
                 f"needs exactly {N_GRADES} upper bounds (grades 1..10), got {len(ub)}",
                 "grades")
        _require(len(cp) == N_GRADES,
                 f"needs exactly {N_GRADES} central PDs (grades 1..10), got {len(cp)}",
                 "grades")
        _require(math.isfinite(self.floor) and 0.0 < self.floor and not self.floor >= ub[0],
                 f"floor {self.floor!r} must be in (0, upper bound of grade 1 = {ub[0]!r})",
                 "floor")
        prev = 0.0
        for k, (u, c) in enumerate(zip(ub, cp, strict=True), start=1):
            _require(math.isfinite(u) and 0.0 < u < 1.0 or (k == N_GRADES and u == 1.0),
                     f"upper bound {u!r} must be a PD fraction in (0, 1) (grade 10's may be 1: "
                     "a PD of exactly 1 is then the default grade D)", f"grades.{k}.upper")
            _require(u > prev,
                     f"upper bound {u!r} must be strictly greater than the previous bound "
                     f"{prev!r} (bands increase with the grade)", f"grades.{k}.upper")
            lo = self.floor if k == 1 else prev
            _require(math.isfinite(c) and lo <= c <= u and c > 0.0,
                     f"central PD {c!r} must lie inside the band [{lo!r}, {u!r}]",
                     f"grades.{k}.central_pd")
            prev = u

    # ------------------------------------------------------------------ dicts
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MasterScale:
        """Build a scale from a plain dict (the parsed TOML file).

        Parameters
        ----------
        data : mapping
            ``{"version": str, "floor": float, "grades": [{"grade": "1",
            "lower": float (optional), "upper": float, "central_pd": float
            (optional)}, ...]}`` with the 10 non-default grades in order. A
            given ``lower`` must equal the previous grade's ``upper`` (0 for
            grade 1): bands are contiguous. A missing ``central_pd`` is the
            geometric midpoint of the band (grade 1: of ``[floor, upper]``).

        Raises
        ------
        PolicyError
            Missing or bad keys, non-contiguous bands, and every invariant of
            the class; ``key`` is the dotted path.
        """
        _require(isinstance(data, Mapping), "the scale must be a table", "")
        _require("version" in data, "missing key 'version'", "version")
        _require("grades" in data, "missing array of tables 'grades'", "grades")
        floor = data.get("floor", 0.0005)
        _require(isinstance(floor, int | float) and not isinstance(floor, bool),
                 f"floor must be a number, got {floor!r}", "floor")
        rows = data["grades"]
        _require(isinstance(rows, list | tuple) and len(rows) == N_GRADES,
                 f"needs exactly {N_GRADES} grade tables (grades 1..10; D is implicit), "
                 f"got {len(rows) if isinstance(rows, list | tuple) else type(rows).__name__}",
                 "grades")
        uppers: list[float] = []
        centrals: list[float] = []
        prev = 0.0
        for k, row in enumerate(rows, start=1):
            base = f"grades.{k}"
            _require(isinstance(row, Mapping), "each grade must be a table", base)
            _require(str(row.get("grade", k)) == str(k),
                     f"grade label {row.get('grade')!r} out of order; expected {str(k)!r}",
                     f"{base}.grade")
            for name in ("lower", "upper", "central_pd"):
                v = row.get(name)
                _require(v is None or (isinstance(v, int | float) and not isinstance(v, bool)),
                         f"{name} must be a number, got {v!r}", f"{base}.{name}")
            _require("upper" in row, "missing key 'upper'", f"{base}.upper")
            upper = float(row["upper"])
            _require(upper > prev,
                     f"upper bound {upper!r} must be strictly greater than the previous bound "
                     f"{prev!r} (bands increase with the grade)", f"{base}.upper")
            if "lower" in row:
                _require(math.isclose(float(row["lower"]), prev, rel_tol=1e-12, abs_tol=0.0),
                         f"lower {row['lower']!r} must equal the previous grade's upper bound "
                         f"{prev!r}: bands must be contiguous", f"{base}.lower")
            lo = float(floor) if k == 1 else prev
            if "central_pd" in row:
                central = float(row["central_pd"])
            else:
                central = math.sqrt(lo * upper) if lo > 0 and upper > 0 else float("nan")
            uppers.append(upper)
            centrals.append(central)
            prev = upper
        return cls(version=str(data["version"]), upper_bounds=tuple(uppers),
                   central_pds=tuple(centrals), floor=float(floor))

    def to_dict(self) -> dict[str, Any]:
        """The plain-dict form read by :meth:`from_dict` (with explicit lower bounds)."""
        lowers = (0.0, *self.upper_bounds[:-1])
        return {
            "version": self.version,
            "floor": self.floor,
            "grades": [
                {"grade": GRADES[i], "lower": lowers[i], "upper": self.upper_bounds[i],
                 "central_pd": self.central_pds[i]}
                for i in range(N_GRADES)
            ],
        }

    # --------------------------------------------------------------- mapping
    @property
    def cut_points(self) -> tuple[float, ...]:
        """The 10 upper bounds of grades 1 ... 10 (= the cut-points to the next grade)."""
        return self.upper_bounds

    def band(self, grade: str) -> tuple[float, float]:
        """The ``(lower, upper]`` PD band of a grade (``"D"``: ``(upper of 10, 1]``)."""
        i = int(grade_index(grade)) - 1
        bounds = (0.0, *self.upper_bounds, 1.0)
        return bounds[i], bounds[i + 1]

    def pd_to_grade(
        self,
        pd: Any,
        default_flag: Any = None,
        *,
        invalid: Literal["raise", "unrated"] = "raise",
    ) -> npt.NDArray[np.str_]:
        """Map 12-month PDs to grades (vectorised, ``numpy.searchsorted``).

        Parameters
        ----------
        pd : float or array-like of float
            PD fractions in (0, 1].
        default_flag : bool or array-like of bool, optional
            Rows already in default (CRR art. 178) get ``"D"`` whatever their PD.
        invalid : {"raise", "unrated"}, default "raise"
            What to do with a NaN/infinite PD or one outside (0, 1]: raise
            :class:`~riskengine.errors.InvalidInputError`, or return
            :data:`UNRATED` (``"NR"``) for those rows. Never a grade.

        Returns
        -------
        numpy.ndarray of str
            Grades from :data:`GRADES` (or ``"NR"``), same shape as ``pd``.

        Notes
        -----
        Upper-inclusive bands: ``pd == upper_bounds[k-1]`` is grade *k*.
        A defaulted row with an invalid PD is still ``"D"`` (the flag decides).
        """
        p = np.asarray(pd, dtype=float)
        flat = p.ravel()
        idx = np.searchsorted(_bounds(self), flat, side="left")
        idx[flat >= 1.0] = N_GRADES  # a PD of 1 is default, whatever grade 10's bound
        out = _GRADE_U2[np.minimum(idx, N_GRADES)]
        bad = ~((flat > 0.0) & (flat <= 1.0))  # NaN, infinite, <= 0 or > 1
        if default_flag is not None:
            if (type(default_flag) is np.ndarray and default_flag.dtype == np.bool_
                    and default_flag.shape == p.shape):
                flag = default_flag.ravel()  # already a bool array of the PDs' shape
            else:
                flag = np.broadcast_to(np.asarray(default_flag, dtype=bool), p.shape).ravel()
            out[flag] = DEFAULT_GRADE
            bad &= ~flag
        if bad.any():
            if invalid == "unrated":
                out[bad] = UNRATED
            else:
                pos = np.flatnonzero(bad)
                first = int(pos[0])
                problems = [
                    {"table": "pd", "record": str(int(i)), "debtor_id": "", "column": "pd",
                     "value": repr(float(flat[i])), "reason": "out_of_range",
                     "message": "PD must be a finite fraction in (0, 1]"}
                    for i in pos[:1000]
                ]
                raise InvalidInputError(
                    f"{pos.size} PD value(s) cannot be graded; first at position {first}: "
                    f"pd={float(flat[first])!r}. A PD must be a finite fraction in (0, 1]; "
                    "fix the model input, or call pd_to_grade(..., invalid='unrated') to "
                    "report these rows as unrated.",
                    problems,
                )
        return out.reshape(p.shape)

    def grade_index(self, grades: Any) -> npt.NDArray[np.int64]:
        """Grade index ``1`` ... ``11`` (see the module-level :func:`grade_index`)."""
        return grade_index(grades)

    def central_pd(self, grade: Any) -> npt.NDArray[np.float64]:
        """Central PD of each grade (``"D"`` -> 1.0), same shape as the input.

        Examples
        --------
        >>> s = MasterScale("t", (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.075, 0.15, 0.3, 0.5),
        ...                 (0.0007, 0.0016, 0.0035, 0.007, 0.014, 0.028, 0.055, 0.106, 0.21, 0.39))
        >>> s.central_pd(["1", "D"]).tolist()
        [0.0007, 1.0]
        """
        table = np.asarray((*self.central_pds, 1.0))
        return table[grade_index(grade) - 1]
