"""Master scale: PD -> grade mapping and the validated, versioned scale file.

Sources: issue 3 §2 (10 grades + D, geometric bands containing the EU 2016/2251
bounds 0.10 %, 0.25 %, 1 %, 7.5 %; contiguous, increasing, covering (0, 1]);
DOMAIN.md §4 (Basel 3.1 floor 0.05 %); riskengine/config/master_scale.toml.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskengine.config import load_master_scale
from riskengine.errors import InvalidInputError, PolicyError
from riskengine.model.master_scale import GRADES, UNRATED, MasterScale, grade_index

SCALE = load_master_scale()
pds = st.floats(min_value=0.0, max_value=1.0, exclude_min=True, allow_nan=False)


def test_shipped_scale_is_versioned_and_has_ten_grades() -> None:
    assert SCALE.version == "2026.1"
    assert len(SCALE.upper_bounds) == 10 and SCALE.upper_bounds[-1] == 1.0
    assert SCALE.pd_to_grade([0.999, 1.0]).tolist() == ["10", "D"]
    assert SCALE.floor == 0.0005


@pytest.mark.parametrize("bound", [0.001, 0.0025, 0.01, 0.075])
def test_eu_credit_quality_step_bounds_are_cut_points(bound: float) -> None:
    """EU 2016/2251 bounds (DOMAIN.md §4) are exact grade edges, closed above."""
    assert bound in SCALE.upper_bounds
    k = SCALE.upper_bounds.index(bound)
    below, above = SCALE.pd_to_grade([bound, math.nextafter(bound, 1.0)])
    assert below == GRADES[k] and above == GRADES[k + 1]


def test_scale_is_geometric_and_central_pds_are_geometric_midpoints() -> None:
    """Band ratios stay between 1.6 and 2.5; central PD = sqrt(lower * upper), grade 1 from the floor."""
    lowers = (SCALE.floor, *SCALE.upper_bounds[:-1])
    ratios = np.array(SCALE.upper_bounds) / np.array(lowers)
    # grade 10 is the open-ended top band (30 %, 100 %): not part of the geometric ladder
    assert ratios[:-1].min() >= 1.6 and ratios[:-1].max() <= 2.5
    mids = np.sqrt(np.array(lowers) * np.array(SCALE.upper_bounds))
    np.testing.assert_allclose(SCALE.central_pds, mids, rtol=1e-3)  # 6 decimals in the TOML


@given(pds)
def test_mapping_is_total_over_open_closed_unit_interval(p: float) -> None:
    g = SCALE.pd_to_grade(p)
    assert str(g) in GRADES
    if str(g) == "D":  # only a PD of exactly 1 is default without a flag
        assert p == 1.0
        return
    lo, hi = SCALE.band(str(g))
    assert lo < p <= hi and p < 1.0


@given(pds, pds)
def test_mapping_is_monotone(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    ga, gb = SCALE.pd_to_grade([lo, hi])
    assert grade_index(ga) <= grade_index(gb)


@given(st.integers(min_value=0, max_value=8))
def test_boundaries_inclusive_on_the_upper_side(k: int) -> None:
    u = SCALE.upper_bounds[k]
    assert SCALE.pd_to_grade(u) == GRADES[k]
    assert SCALE.pd_to_grade(math.nextafter(u, 1.0)) == GRADES[k + 1]
    assert SCALE.pd_to_grade(math.nextafter(u, 0.0)) == GRADES[k]


def test_pd_of_one_and_default_flag_give_d() -> None:
    out = SCALE.pd_to_grade([1.0, 0.001, 0.6, 0.001], default_flag=[False, True, False, False])
    assert out.tolist() == ["D", "D", "10", "1"]  # a high PD alone is grade 10, not default


def test_nan_pd_raises_naming_position_and_value() -> None:
    pd_ = np.array([0.01, np.nan, 0.02])
    with pytest.raises(InvalidInputError, match=r"position 1: pd=nan") as info:
        SCALE.pd_to_grade(pd_)
    assert info.value.first["record"] == "1"


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, np.inf])
def test_out_of_range_pd_is_unrated_never_a_grade(bad: float) -> None:
    out = SCALE.pd_to_grade([0.01, bad], invalid="unrated")
    assert out.tolist() == ["4", UNRATED]


def test_grade_index_and_central_pd() -> None:
    assert grade_index(["1", "10", "D"]).tolist() == [1, 10, 11]
    assert SCALE.central_pd("D") == 1.0
    assert SCALE.central_pd(["4"]).tolist() == [0.007071]
    with pytest.raises(InvalidInputError, match="'NR' is not a master-scale grade"):
        grade_index(["1", "NR"])


def test_dict_round_trip() -> None:
    assert MasterScale.from_dict(SCALE.to_dict()) == SCALE


def test_missing_central_pd_defaults_to_geometric_midpoint() -> None:
    d = SCALE.to_dict()
    for row in d["grades"]:
        del row["central_pd"]
    s = MasterScale.from_dict(d)
    assert s.central_pds[1] == pytest.approx(math.sqrt(0.001 * 0.0025))
    assert s.central_pds[0] == pytest.approx(math.sqrt(0.0005 * 0.001))


def _with(grade: int, **changes: float) -> dict:
    d = SCALE.to_dict()
    d["grades"][grade - 1].update(changes)
    return d


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (_with(4, upper=0.004), "grades.4.upper"),  # below grade 3's upper bound
        (_with(5, lower=0.011), "grades.5.lower"),  # gap between bands
        (_with(6, central_pd=0.05), "grades.6.central_pd"),  # outside (0.02, 0.04]
        (_with(10, upper=1.5), "grades.10.upper"),  # beyond a PD of 1
        (_with(2, upper="high"), "grades.2.upper"),
    ],
)
def test_bad_scale_is_refused_naming_the_key(data: dict, key: str) -> None:
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")) as info:
        MasterScale.from_dict(data)
    assert info.value.key == key


def test_wrong_number_of_grades_and_bad_floor_refused() -> None:
    d = SCALE.to_dict()
    d["grades"] = d["grades"][:9]
    with pytest.raises(PolicyError, match="exactly 10 grade tables"):
        MasterScale.from_dict(d)
    with pytest.raises(PolicyError, match="floor"):
        MasterScale("v", SCALE.upper_bounds, SCALE.central_pds, floor=0.002)


def test_bad_toml_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "scale.toml"
    path.write_text('version = "x"\nfloor = 0.0005\ngrades = "none"\n')
    with pytest.raises(PolicyError, match="grades") as info:
        load_master_scale(path)
    assert info.value.key == "grades"


def test_scale_is_frozen() -> None:
    with pytest.raises(AttributeError, match="cannot assign to field 'version'"):
        SCALE.version = "other"  # type: ignore[misc]
