"""Insurance cover: insured limit by appetite, retained exposure, expected loss, premium."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.config import load_policy
from riskengine.errors import InvalidInputError
from riskengine.policy.cover import expected_loss, insurance_cover, retained_exposure
from riskengine.policy.credit_policy import GRADES

POLICY = load_policy()


def test_seed_003_insurer_pays_70_percent() -> None:
    """Seed 003: the partner insurer indemnifies about 70 %, so the factor's maximum
    loss is about 30 %: retained = 0 + (1 - 0.70) x 100,000 = 30,000."""
    c = insurance_cover(["1"], [100_000], [0.01], POLICY, indemnity=0.70)
    assert c.insured_limit[0] == 100_000
    assert c.retained[0] == pytest.approx(30_000)


def test_retained_exposure_hand_calculation() -> None:
    """Atradius UK: the part above the insured limit is uninsured.

    Exposure 100,000, insured 60,000, indemnity 90 %:
    retained = 40,000 + 10 % x 60,000 = 46,000.
    """
    assert retained_exposure(100_000, 60_000, 0.90) == pytest.approx(46_000)
    assert retained_exposure(50_000, 60_000, 0.90) == pytest.approx(5_000)


def test_appetite_full_partial_none() -> None:
    """Shipped policy: grades 1-6 fully insured, 7-8 half, 9-10 and D not at all."""
    c = insurance_cover(list(GRADES), 100_000, 0.05, POLICY)
    assert c.insured_limit.tolist() == [100_000] * 6 + [50_000] * 2 + [0] * 3
    np.testing.assert_allclose(c.uninsured_limit + c.insured_limit, 100_000)


def test_expected_loss_with_and_without_cover() -> None:
    """Hand calculation, grade 4, PD 2 %, LGD 40 %, limit 100,000, indemnity 90 %:
    EL without cover = 0.02 x 0.40 x 100,000 = 800; with cover = 0.02 x 0.40 x 10,000 = 80."""
    c = insurance_cover(["4"], [100_000], [0.02], POLICY)
    assert c.expected_loss_uninsured[0] == pytest.approx(800)
    assert c.expected_loss_insured[0] == pytest.approx(80)
    assert expected_loss(0.02, 0.40, 100_000) == pytest.approx(800)


def test_insurer_limit_exposure_and_product() -> None:
    c = insurance_cover(["4", "4", "4"], [100_000] * 3, [0.02] * 3, POLICY,
                        insurer_limit=[70_000, 200_000, 200_000], exposure=[80_000, 80_000, 80_000],
                        product=["non_recourse", "non_recourse", "recourse"])
    assert c.insured_limit.tolist() == [70_000, 100_000, 0]
    assert c.insured_exposure.tolist() == [70_000, 80_000, 0]
    np.testing.assert_allclose(c.retained, [10_000 + 7_000, 8_000, 80_000])


def test_premium_on_insured_turnover() -> None:
    """DOMAIN.md §4: premium 0.1-0.5 % of turnover. Grade 7 (0.40 %, half insured):
    0.004 x 400,000 x 50 % = 800."""
    c = insurance_cover(["7"], [100_000], [0.05], POLICY, annual_sales=[400_000])
    assert c.premium is not None and c.premium[0] == pytest.approx(800)
    assert insurance_cover(["7"], [100_000], [0.05], POLICY).premium is None


def test_bad_pd_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"cover row 1: pd = nan"):
        insurance_cover(["1", "2"], [1.0, 1.0], [0.01, float("nan")], POLICY)
    with pytest.raises(InvalidInputError, match=r"pd = 1\.5"):
        insurance_cover(["1"], [1.0], [1.5], POLICY)
    with pytest.raises(InvalidInputError, match="indemnity"):
        insurance_cover(["1"], [1.0], [0.1], POLICY, indemnity=1.5)


@settings(max_examples=150, deadline=None)
@given(
    grade=st.sampled_from(GRADES), limit=st.floats(0, 1e9), pd=st.floats(0, 1),
    insurer=st.one_of(st.none(), st.floats(0, 1e9)),
    exposure=st.one_of(st.none(), st.floats(0, 1e9)),
    indemnity=st.floats(0, 1), product=st.sampled_from(POLICY.product_names),
)
def test_cover_never_exceeds_limit(grade, limit, pd, insurer, exposure, indemnity,
                                   product) -> None:
    """Issue 4 §2 / STYLE.md: cover <= limit; retained between 0 and the exposure;
    EL with cover <= EL without."""
    c = insurance_cover([grade], [limit], [pd], POLICY, insurer_limit=insurer,
                        exposure=exposure, indemnity=indemnity, product=product)
    assert 0 <= c.insured_limit[0] <= limit
    assert c.insured_exposure[0] <= c.exposure[0]
    assert -1e-6 <= c.retained[0] <= c.exposure[0] * (1 + 1e-12)
    assert c.expected_loss_insured[0] <= c.expected_loss_uninsured[0] * (1 + 1e-12)
