"""Insurance cover: the covered part of a limit and its percentage, retained exposure,
expected loss, premium; no cover is assumed (issue 16)."""

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
    loss is about 30 %: a limit of 100,000 fully under a granted limit at 70 %:
    insured amount 70,000, retained = 0 + (1 - 0.70) x 100,000 = 30,000."""
    c = insurance_cover(["1"], [100_000], [0.01], POLICY, covered=[100_000], cover_pct=0.70)
    assert c.insured_limit[0] == 100_000
    assert c.insured_amount[0] == pytest.approx(70_000)
    assert c.retained[0] == pytest.approx(30_000)


def test_no_cover_is_assumed() -> None:
    """Issue 16: without a covered amount the insured limit is 0 at every grade and the
    factor retains the whole limit (the old cover assumed the limit was insured)."""
    c = insurance_cover(list(GRADES), 100_000, 0.05, POLICY)
    assert c.insured_limit.tolist() == [0.0] * len(GRADES)
    assert c.insured_amount.tolist() == [0.0] * len(GRADES)
    np.testing.assert_allclose(c.retained, 100_000)


def test_retained_exposure_hand_calculation() -> None:
    """Atradius UK: the part above the insured limit is uninsured.

    Exposure 100,000, insured 60,000, indemnity 90 %:
    retained = 40,000 + 10 % x 60,000 = 46,000.
    """
    assert retained_exposure(100_000, 60_000, 0.90) == pytest.approx(46_000)
    assert retained_exposure(50_000, 60_000, 0.90) == pytest.approx(5_000)


def test_cover_per_basis_hand_calculation() -> None:
    """Limits of 100,000 (DOMAIN.md §6): an insurer limit of 60,000 at 90 % (insured
    amount 54,000; retained 40,000 + 10 % x 60,000 = 46,000), discretionary cover of
    25,000 at 60 % (Allianz Trade Simplicity; insured 15,000; retained 75,000 + 40 % x
    25,000 = 85,000), none (retained 100,000)."""
    c = insurance_cover(["4", "4", "4"], 100_000, 0.01, POLICY,
                        covered=[60_000, 25_000, 0], cover_pct=[0.90, 0.60, 0.0])
    assert c.insured_limit.tolist() == [60_000, 25_000, 0]
    assert c.insured_amount.tolist() == pytest.approx([54_000, 15_000, 0])
    assert c.retained.tolist() == pytest.approx([46_000, 85_000, 100_000])
    np.testing.assert_allclose(c.uninsured_limit + c.insured_limit, 100_000)


def test_expected_loss_with_and_without_cover() -> None:
    """Hand calculation, grade 4, PD 2 %, LGD 40 %, limit 100,000, indemnity 90 %:
    EL without cover = 0.02 x 0.40 x 100,000 = 800; with cover = 0.02 x 0.40 x 10,000 = 80."""
    c = insurance_cover(["4"], [100_000], [0.02], POLICY, covered=[100_000])
    assert c.expected_loss_uninsured[0] == pytest.approx(800)
    assert c.expected_loss_insured[0] == pytest.approx(80)
    assert expected_loss(0.02, 0.40, 100_000) == pytest.approx(800)


def test_insurer_limit_exposure_and_product() -> None:
    c = insurance_cover(["4", "4", "4"], [100_000] * 3, [0.02] * 3, POLICY,
                        covered=[70_000, 200_000, 200_000], exposure=[80_000, 80_000, 80_000],
                        product=["non_recourse", "non_recourse", "recourse"])
    assert c.insured_limit.tolist() == [70_000, 100_000, 0]
    assert c.insured_exposure.tolist() == [70_000, 80_000, 0]
    np.testing.assert_allclose(c.retained, [10_000 + 7_000, 8_000, 80_000])


def test_premium_on_insured_turnover() -> None:
    """DOMAIN.md §4: premium 0.1-0.5 % of turnover. Grade 7 (0.40 %, half the limit
    covered): 0.004 x 400,000 x 50 % = 800."""
    c = insurance_cover(["7"], [100_000], [0.05], POLICY, covered=[50_000],
                        annual_sales=[400_000])
    assert c.premium is not None and c.premium[0] == pytest.approx(800)
    assert insurance_cover(["7"], [100_000], [0.05], POLICY).premium is None


def test_bad_pd_is_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"cover row 1: pd = nan"):
        insurance_cover(["1", "2"], [1.0, 1.0], [0.01, float("nan")], POLICY)
    with pytest.raises(InvalidInputError, match=r"pd = 1\.5"):
        insurance_cover(["1"], [1.0], [1.5], POLICY)
    with pytest.raises(InvalidInputError, match=r"cover_pct = 1\.5"):
        insurance_cover(["1"], [1.0], [0.1], POLICY, cover_pct=1.5)


@settings(max_examples=150, deadline=None)
@given(
    grade=st.sampled_from(GRADES), limit=st.floats(0, 1e9), pd=st.floats(0, 1),
    insurer=st.one_of(st.none(), st.floats(0, 1e9)),
    exposure=st.one_of(st.none(), st.floats(0, 1e9)),
    indemnity=st.floats(0, 1), product=st.sampled_from(POLICY.product_names),
)
def test_cover_never_exceeds_limit(grade, limit, pd, insurer, exposure, indemnity,
                                   product) -> None:
    """Issue 4 §2 / STYLE.md: cover <= limit, insured amount <= cover; retained between
    0 and the exposure; EL with cover <= EL without."""
    c = insurance_cover([grade], [limit], [pd], POLICY, covered=insurer,
                        exposure=exposure, cover_pct=indemnity, product=product)
    assert 0 <= c.insured_limit[0] <= limit
    assert c.insured_amount[0] <= c.insured_limit[0] * (1 + 1e-12)
    assert c.insured_exposure[0] <= c.exposure[0]
    assert -1e-6 <= c.retained[0] <= c.exposure[0] * (1 + 1e-12)
    assert c.expected_loss_insured[0] <= c.expected_loss_uninsured[0] * (1 + 1e-12)
