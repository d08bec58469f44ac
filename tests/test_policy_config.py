"""The policy file: the shipped one loads and validates; bad ones are refused naming the key.

Source of the rules: issue 4 §7 ("a bad policy file (missing grade,
non-monotone table, indemnity > 100%) is refused naming the key") and
docs/STYLE.md (frozen value objects round-tripping through plain dicts).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from riskengine.config import load_policy
from riskengine.errors import PolicyError
from riskengine.policy.credit_policy import GRADES, CreditPolicy, GradeTable


@pytest.fixture(scope="module")
def raw() -> dict:
    return load_policy().to_dict()


def _bad(raw: dict, path: str, value: object) -> dict:
    d = copy.deepcopy(raw)
    *parents, last = path.split(".")
    node = d
    for p in parents:
        node = node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return d


_DELETE = object()


def test_shipped_policy_loads_and_validates() -> None:
    """The shipped riskengine/config/policy.toml is a valid, versioned policy."""
    policy = load_policy()
    assert policy.version == "2026.3"
    assert policy.product_names == ("recourse", "non_recourse")
    assert policy.cover.indemnity == 0.90  # ICISA typical (DOMAIN.md §2)
    assert policy.limits.notice_days == 30  # Atradius; FCI GRIF art. 18
    assert policy.book.group_capital_share == 0.25  # CRR art. 395
    assert policy.eligibility.max_invoice_age_days == 90
    assert policy.eligibility.cross_age_share == 0.10
    for p in policy.products:
        rates = [v for g, v in p.advance_rate.to_dict().items() if g != "D"]
        assert all(0.70 <= r <= 0.95 for r in rates)  # seeds 002-003: 70-95 %
    sc = policy.fees.service_commission.values
    dr = policy.fees.discount_rate.values
    assert min(sc) >= 0.01 and max(sc) <= 0.03  # seed 002: 1-3 % of invoice
    assert min(dr) >= 0.08 and max(dr) <= 0.15  # seed 002: 8-15 % a year


def test_round_trip(raw: dict) -> None:
    policy = CreditPolicy.from_dict(raw)
    assert CreditPolicy.from_dict(policy.to_dict()) == policy
    assert policy.to_dict() == raw


def test_load_from_path(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[1] / "riskengine/config/policy.toml").read_text()
    path = tmp_path / "p.toml"
    path.write_text(text.replace('version = "2026.3"', 'version = "test.1"'))
    assert load_policy(path).version == "test.1"


def test_missing_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot be read"):
        load_policy(tmp_path / "absent.toml")


def test_invalid_toml_is_a_policy_error(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text("version = \n")
    with pytest.raises(PolicyError, match="not valid TOML"):
        load_policy(path)


@pytest.mark.parametrize(
    ("path", "value", "key", "match"),
    [
        ("capacity.tnw_fraction.7", _DELETE, "capacity.tnw_fraction.7", "missing"),
        ("cover.insured_fraction.D", _DELETE, "cover.insured_fraction.D", "missing"),
        ("capacity.revenue_fraction.6", 0.5, "capacity.revenue_fraction.6", "non-increasing"),
        ("fees.discount_rate.3", 0.01, "fees.discount_rate.3", "non-decreasing"),
        ("cover.indemnity", 1.2, "cover.indemnity", r"outside \[0.0, 1.0\]"),
        ("products.recourse.advance_rate.1", 1.05, "products.recourse.advance_rate.1",
         "outside"),
        ("products.non_recourse.advance_rate.D", 0.5, "products.non_recourse.advance_rate.D",
         "0 at the default grade"),
        ("book.group_capital_share", -0.1, "book.group_capital_share",
         "outside"),
        ("concentration.ledger_share.1", -0.3, "concentration.ledger_share.1", "outside"),
        ("capacity.no_financials_limit.1", -5, "capacity.no_financials_limit.1", "outside"),
        ("limits.rounding_unit", 0, "limits.rounding_unit", "must be > 0"),
        ("limits.notice_days", 30.5, "limits.notice_days", "whole number"),
        ("fees.day_count", 364, "fees.day_count", "360 or 365"),
        ("capacity.negative_equity", "ignore", "capacity.negative_equity", "unknown rule"),
        ("cover.lgd", "40%", "cover.lgd", "not a number"),
        ("cover.indemnity", True, "cover.indemnity", "not a number"),
        ("cover.indemnty", 0.9, "cover.indemnty", "unknown key"),
        ("capacity.tnw_fraction.11", 0.0, "capacity.tnw_fraction.11", "unknown key"),
        ("knockouts.adverse_event_types", ["bounced_check"],
         "knockouts.adverse_event_types[0]", "unknown event type"),
        ("products.recourse.recourse", "yes", "products.recourse.recourse", "true/false"),
        ("eligibility", _DELETE, "eligibility", "missing"),
        ("version", 2026.1, "version", "must be a string"),
        # a group cap without the capital it is measured on (issue 15)
        ("book.factor_capital", _DELETE, "book.factor_capital", "missing while"),
        ("book.factor_capital", -1.0, "book.factor_capital", "outside"),
        ("book.currency", "euro", "book.currency", "ISO 4217"),
        ("book.country_book_share", 1.5, "book.country_book_share", "outside"),
        ("concentration.sector_book_share", 0.25, "concentration.sector_book_share",
         "moved to"),
        ("products", {}, "products", "not a table of products"),
        ("extra_section", {}, "extra_section", "unknown key"),
    ],
)
def test_bad_policy_is_refused_naming_the_key(
    raw: dict, path: str, value: object, key: str, match: str,
) -> None:
    bad = _bad(raw, path, value)
    with pytest.raises(PolicyError, match=match) as err:
        CreditPolicy.from_dict(bad)
    assert err.value.key == key
    assert key in str(err.value)


def test_bad_policy_file_names_the_key(tmp_path: Path) -> None:
    """A policy file with indemnity above 100 % is refused by the loader, naming the key."""
    text = (Path(__file__).resolve().parents[1] / "riskengine/config/policy.toml").read_text()
    path = tmp_path / "p.toml"
    path.write_text(text.replace("indemnity = 0.90", "indemnity = 1.10"))
    with pytest.raises(PolicyError, match=r"cover\.indemnity = 1\.1"):
        load_policy(path)


def test_grade_table_lookup_and_wrong_length() -> None:
    t = GradeTable(tuple(float(i) for i in range(11)))
    assert t["1"] == 0.0 and t["D"] == 10.0
    assert t.to_dict() == {g: float(i) for i, g in enumerate(GRADES)}
    with pytest.raises(PolicyError, match="needs 11 values"):
        GradeTable((1.0, 2.0))


def test_policy_is_frozen() -> None:
    policy = load_policy()
    with pytest.raises(AttributeError, match="cannot assign to field 'version'"):
        policy.version = "x"  # type: ignore[misc]


def test_override_bound_is_policy_and_defaults_to_two(raw: dict) -> None:
    """docs/POLICY.md [overrides]: upgrades at most 2 notches unless the committee says otherwise."""
    assert load_policy().overrides.max_upgrade_notches == 2
    without = copy.deepcopy(raw)
    without.pop("overrides", None)
    assert CreditPolicy.from_dict(without).overrides.max_upgrade_notches == 2
    bad = copy.deepcopy(raw)
    bad["overrides"] = {"max_upgrade_notches": -1}
    with pytest.raises(PolicyError, match=r"overrides\.max_upgrade_notches"):
        CreditPolicy.from_dict(bad)


def test_factor_capital_override_and_no_group_cap(raw: dict) -> None:
    """--factor-capital replaces the policy's capital; without a capital the group cap
    must be switched off explicitly (group_capital_share = 1)."""
    policy = CreditPolicy.from_dict(raw)
    assert policy.with_factor_capital(1_000_000).book.factor_capital == 1_000_000.0
    assert policy.with_factor_capital(None) is policy
    with pytest.raises(PolicyError) as err:
        policy.with_factor_capital(-5)
    assert err.value.key == "book.factor_capital"
    no_cap = _bad(_bad(raw, "book.factor_capital", _DELETE), "book.group_capital_share", 1.0)
    assert CreditPolicy.from_dict(no_cap).book.factor_capital is None
