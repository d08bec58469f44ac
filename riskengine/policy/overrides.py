"""Credit officers' overrides of a decision's grade or limit, and their rules.

An *override* replaces the engine's grade and/or approved limit of one
decision with the officer's, for a stated reason. The rules (issue 7 §2; EBA
GL/2017/16 on the monitoring of overrides; CRR art. 172(3)):

- **Downgrades are free**: a worse grade, or a lower limit, needs only a reason
  and the officer's identity.
- **Upgrades are bounded**: at most ``max_upgrade_notches`` grades better than
  the engine's (a policy value, ``[overrides] max_upgrade_notches``, default
  2), and **flagged** for a second review.
- **Never out of D**: a default is a fact (CRR art. 178), not an opinion; an
  override cannot move a ``D`` debtor to a better grade nor raise its limit.
  An unrated decision has no grade to override (fix its inputs instead).
- **A limit above what the policy grants** (at the override's grade) is an
  upgrade-type override: allowed, and flagged for a second review.
- **Never above the policy's caps** (issue 18): the largest limit the policy
  allows the debtor at the override's grade (capacity, supplier and book caps:
  the core decided again with an unbounded request) bounds every override; when
  it cannot be known (the decision's inputs were not kept), a limit increase is
  refused.
- **Four eyes** (issue 18): a flagged override is *pending* until a second user
  with the approver role, not its author, approves it (:func:`check_review`);
  until then the limit in force stays. Unflagged overrides apply at once.
- **A reason** is mandatory and must say something: at least
  :data:`MIN_REASON_LENGTH` characters and :data:`MIN_REASON_WORDS` words.
- **The officer's identity** is mandatory (the signed-in account).

An override re-runs the policy on the overridden grade: ``apply_override`` takes a
``rerun(grade, requested)`` of the shell (the engine's own core on the decision's kept
inputs, :meth:`riskengine.scoring.engine.Engine.decide_payload` with ``grades``) and
records the limit, cover, advance rate and fees it gives (``terms``).

:func:`check_override` is pure (it applies the rules and says why it refuses);
:func:`apply_override` is the shell step that checks and records an override
in a :class:`riskengine.store.DecisionStore` (append-only), and moves the
limit register when the limit changes.

Notches count grade steps on the master scale (``"1"`` best ... ``"10"``,
``"D"``): ``notches = index(original) - index(new)``, positive for an
upgrade (a better grade).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from riskengine.errors import InvalidInputError, PolicyError
from riskengine.model.master_scale import DEFAULT_GRADE, GRADES
from riskengine.policy.credit_policy import CreditPolicy
from riskengine.policy.limits import decision_knockout

__all__ = [
    "DEFAULT_MAX_UPGRADE_NOTCHES",
    "MIN_REASON_LENGTH",
    "MIN_REASON_WORDS",
    "MAX_REASON_LENGTH",
    "DIRECTIONS",
    "LIMIT_CHANGES",
    "OverrideCheck",
    "OverrideRefusedError",
    "max_upgrade_notches",
    "check_override",
    "apply_override",
]

#: Upgrade bound when the policy has no ``[overrides] max_upgrade_notches`` (issue 7 §2).
DEFAULT_MAX_UPGRADE_NOTCHES = 2
#: Minimum length of an override reason, in characters after stripping blanks.
MIN_REASON_LENGTH = 20
#: Minimum number of words (runs of letters) in an override reason.
MIN_REASON_WORDS = 3
#: Longest reason kept (the store's column size).
MAX_REASON_LENGTH = 2000
#: Override directions: by the grade when it changes, else ``limit_only``.
DIRECTIONS: tuple[str, ...] = ("upgrade", "downgrade", "limit_only")
#: Limit changes of an override.
LIMIT_CHANGES: tuple[str, ...] = ("increase", "decrease", "none")

_INDEX = {g: i + 1 for i, g in enumerate(GRADES)}
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True, slots=True)
class OverrideCheck:
    """The verdict of :func:`check_override`.

    Attributes
    ----------
    allowed : bool
        The override may be recorded.
    notches : int
        ``index(original_grade) - index(new_grade)``: positive = upgrade
        (better grade), negative = downgrade, 0 = same grade.
    direction : str
        ``upgrade`` / ``downgrade`` when the grade changes, else ``limit_only``.
    limit_change : str
        ``increase``, ``decrease`` or ``none``.
    flagged : bool
        Needs a second review (any upgrade, any limit increase).
    reasons : tuple of str
        Why it is refused (empty when allowed); each sentence names the rule.
    flag_reasons : tuple of str
        Why it is flagged.
    original_grade, new_grade : str
    original_limit, new_limit : float
    """

    allowed: bool
    notches: int
    direction: str
    limit_change: str
    flagged: bool
    reasons: tuple[str, ...]
    flag_reasons: tuple[str, ...]
    original_grade: str
    new_grade: str
    original_limit: float
    new_limit: float

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-safe dict (lists for tuples)."""
        return {"allowed": self.allowed, "notches": self.notches, "direction": self.direction,
                "limit_change": self.limit_change, "flagged": self.flagged,
                "reasons": list(self.reasons), "flag_reasons": list(self.flag_reasons),
                "original_grade": self.original_grade, "new_grade": self.new_grade,
                "original_limit": self.original_limit, "new_limit": self.new_limit}


class OverrideRefusedError(InvalidInputError):
    """An override breaks a rule; ``check`` holds the verdict and ``problems`` one row per rule."""

    def __init__(self, message: str, check: OverrideCheck,
                 problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, problems)
        self.check = check


def _bad(record: str, column: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        f"override of {record}: {message}",
        [{"table": "overrides", "record": record, "debtor_id": None, "column": column,
          "value": None, "reason": "invalid_value", "message": message}])


def max_upgrade_notches(policy: Any = None) -> int:
    """The policy's upgrade bound: ``[overrides] max_upgrade_notches`` or the default 2.

    Parameters
    ----------
    policy : CreditPolicy, mapping or None
        A policy object with an ``overrides`` attribute (itself with
        ``max_upgrade_notches``, or a mapping), the parsed TOML dict, or None.
        A policy without the key gets :data:`DEFAULT_MAX_UPGRADE_NOTCHES`.

    Raises
    ------
    PolicyError
        The value is not an integer >= 0 (key ``overrides.max_upgrade_notches``).

    Examples
    --------
    >>> max_upgrade_notches(None), max_upgrade_notches({"overrides": {"max_upgrade_notches": 1}})
    (2, 1)
    """
    section: Any = None
    if isinstance(policy, Mapping):
        section = policy.get("overrides")
    elif policy is not None:
        section = getattr(policy, "overrides", None)
    if section is None:
        return DEFAULT_MAX_UPGRADE_NOTCHES
    value = (section.get("max_upgrade_notches", DEFAULT_MAX_UPGRADE_NOTCHES)
             if isinstance(section, Mapping)
             else getattr(section, "max_upgrade_notches", DEFAULT_MAX_UPGRADE_NOTCHES))
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PolicyError(f"policy overrides.max_upgrade_notches = {value!r}: must be an "
                          "integer >= 0 (0 forbids upgrades by override).",
                          key="overrides.max_upgrade_notches")
    return value


def _limit(value: Any, column: str, record: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise _bad(record, column, f"{column} {value!r} is not a number; give an amount "
                                   ">= 0 in the decision's currency.") from None
    if not math.isfinite(out) or out < 0:
        raise _bad(record, column, f"{column} {value!r} must be a finite amount >= 0.")
    return out


def check_override(original_grade: str | None, new_grade: str | None,
                   original_limit: float | None, new_limit: float | None,
                   reason: str | None, officer: str | None,
                   policy_max_upgrade_notches: int = DEFAULT_MAX_UPGRADE_NOTCHES,
                   policy_limit: float | None = None, policy_cap: float | None = None,
                   cap_known: bool = True) -> OverrideCheck:
    """Apply the override rules to one proposed override.

    Parameters
    ----------
    original_grade : str or None
        The decision's grade (``"1"`` ... ``"10"``, ``"D"``); None when the
        decision is unrated (always refused).
    new_grade : str or None
        The officer's grade; None keeps the original grade.
    original_limit : float or None
        The decision's approved limit (None counts as 0).
    new_limit : float or None
        The officer's limit; None keeps the original limit.
    reason : str
        Why: at least :data:`MIN_REASON_LENGTH` characters and
        :data:`MIN_REASON_WORDS` words.
    officer : str
        The officer's identity (user name).
    policy_max_upgrade_notches : int, default 2
        The policy's upgrade bound (:func:`max_upgrade_notches`).
    policy_limit : float, optional
        What the policy grants at the override's grade (default the original
        limit): a new limit above it is flagged.
    policy_cap : float, optional
        The largest limit the policy allows the debtor at the override's grade: a new
        limit above it is refused.
    cap_known : bool, default True
        False when the cap could not be computed: every limit increase is refused.

    Returns
    -------
    OverrideCheck
        ``allowed`` with the reasons of a refusal; rule breaches never raise.

    Raises
    ------
    InvalidInputError
        Malformed input, not a rule: an unknown grade, a negative or non-numeric
        limit, a negative bound.

    Examples
    --------
    >>> c = check_override("6", "4", 100_000.0, None, "Audited 2026 H1 accounts show "
    ...                    "a strong recovery", "officer.k")
    >>> c.allowed, c.notches, c.direction, c.flagged
    (True, 2, 'upgrade', True)
    >>> check_override("6", "3", 100_000.0, None, "Audited 2026 H1 accounts show a strong "
    ...                "recovery", "officer.k").reasons[0][:45]
    'upgrade of 3 notches exceeds the policy bound'
    """
    record = f"grade {original_grade!s}"
    if isinstance(policy_max_upgrade_notches, bool) or not isinstance(
            policy_max_upgrade_notches, int) or policy_max_upgrade_notches < 0:
        raise _bad(record, "policy_max_upgrade_notches",
                   f"policy_max_upgrade_notches {policy_max_upgrade_notches!r} must be an "
                   "integer >= 0.")
    refusals: list[str] = []
    flags: list[str] = []
    if original_grade is not None and str(original_grade) not in _INDEX:
        raise _bad(record, "original_grade", f"original_grade {original_grade!r} is not a "
                   f"master-scale grade ({', '.join(GRADES)}).")
    if new_grade is not None and str(new_grade) not in _INDEX:
        raise _bad(record, "new_grade", f"new_grade {new_grade!r} is not a master-scale "
                   f"grade ({', '.join(GRADES)}); choose one of them.")
    old_lim = 0.0 if original_limit is None else _limit(original_limit, "original_limit",
                                                         record)
    new_lim = old_lim if new_limit is None else _limit(new_limit, "new_limit", record)
    if original_grade is None:
        refusals.append("the decision is unrated (no PD, no grade): an override cannot rate "
                        "a debtor; correct its inputs and decide again")
        og = ng = ""
        notches = 0
    else:
        og = str(original_grade)
        ng = og if new_grade is None else str(new_grade)
        notches = _INDEX[og] - _INDEX[ng]
    change = "increase" if new_lim > old_lim else "decrease" if new_lim < old_lim else "none"
    direction = ("upgrade" if notches > 0 else "downgrade" if notches < 0 else "limit_only")

    if og and notches == 0 and change == "none":
        refusals.append("nothing to override: the new grade and limit equal the decision's")
    if og == DEFAULT_GRADE and notches > 0:
        refusals.append("grade D cannot be upgraded by override: a default is a fact "
                        "(CRR art. 178), not an opinion")
    elif notches > policy_max_upgrade_notches:
        refusals.append(f"upgrade of {notches} notches exceeds the policy bound of "
                        f"{policy_max_upgrade_notches} notches ([overrides] "
                        "max_upgrade_notches)")
    if DEFAULT_GRADE in (og, ng) and change == "increase":
        refusals.append("the limit of a debtor in grade D (default) cannot be raised by "
                        "override")
    grant = old_lim if policy_limit is None else float(policy_limit)
    if policy_cap is not None and new_lim > float(policy_cap) + 0.5:
        refusals.append(f"a limit of {new_lim:,.0f} exceeds the largest limit the policy "
                        f"allows this debtor at grade {ng or og} ({float(policy_cap):,.0f})")
    elif not cap_known and change == "increase":
        refusals.append("the policy's cap cannot be checked (the decision's inputs were not "
                        "kept, or the engine is not loaded): score the debtor again before "
                        "raising its limit")
    if notches > 0:
        flags.append(f"upgrade of {notches} notch{'es' if notches > 1 else ''}")
    if new_lim > grant + 0.5:
        flags.append(f"limit above what the policy grants ({grant:,.0f})")

    text = "" if reason is None else str(reason).strip()
    if not text:
        refusals.append("a reason is mandatory")
    elif len(text) < MIN_REASON_LENGTH or len(_WORD.findall(text)) < MIN_REASON_WORDS:
        refusals.append(f"the reason is too short: give at least {MIN_REASON_LENGTH} "
                        f"characters and {MIN_REASON_WORDS} words saying why")
    elif len(text) > MAX_REASON_LENGTH:
        refusals.append(f"the reason is longer than {MAX_REASON_LENGTH} characters")
    who = "" if officer is None else str(officer).strip()
    if not who:
        refusals.append("the officer's identity is mandatory")
    elif len(who) > 128:
        refusals.append("the officer's identity is longer than 128 characters")
    return OverrideCheck(
        allowed=not refusals, notches=notches, direction=direction, limit_change=change,
        flagged=bool(flags), reasons=tuple(refusals), flag_reasons=tuple(flags),
        original_grade=og, new_grade=ng, original_limit=old_lim, new_limit=new_lim)


def _field(decision: Any, name: str) -> Any:
    if isinstance(decision, Mapping):
        return decision.get(name)
    return getattr(decision, name, None)


#: The request of the re-run that finds the policy's cap (no limit is larger).
UNBOUNDED_REQUEST = 1e12
#: Verdicts of a review.
VERDICTS: tuple[str, ...] = ("approved", "rejected")
#: Roles that may approve others' overrides.
APPROVER_ROLES: tuple[str, ...] = ("approver",)
#: The terms of a re-run recorded with an override.
TERMS_FIELDS: tuple[str, ...] = (
    "grade", "pd", "approved_limit", "decision_type", "binding_constraints", "insured_limit",
    "insured_amount", "retained_exposure", "expected_loss", "advance_rate",
    "service_commission_rate", "discount_rate")

Rerun = Callable[[str, "float | None"], "Mapping[str, Any] | None"]
"""``rerun(grade, requested)``: the pair's decision by the engine's core at ``grade``
(requested ``None``: the decision's own request), or None when it cannot be re-run."""


def check_review(override: Mapping[str, Any], approver: str, role: str,
                 verdict: str) -> list[str]:
    """Why a review of ``override`` by ``approver`` is refused (empty: allowed).

    Four eyes: only a pending override, only the approver role, never its author.

    Examples
    --------
    >>> check_review({"status": "pending", "officer": "maria"}, "maria", "approver", "approved")
    ['the author of an override cannot review it: a second approver must']
    """
    out: list[str] = []
    if verdict not in VERDICTS:
        out.append(f"the verdict must be one of {', '.join(VERDICTS)}")
    if role not in APPROVER_ROLES:
        out.append("only an account with the approver role may review overrides")
    if str(override.get("officer") or "") == str(approver):
        out.append("the author of an override cannot review it: a second approver must")
    if override.get("status") != "pending":
        out.append(f"the override is {override.get('status')}, not pending")
    return out


def _terms(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {k: d.get(k) for k in TERMS_FIELDS}


def apply_override(store: Any, decision: Any, *, reason: str, officer: str,
                   new_grade: str | None = None, new_limit: float | None = None,
                   policy_max_upgrade_notches: int | None = None, policy: Any = None,
                   update_register: bool = True, effective_date: Any = None,
                   rerun: Rerun | None = None) -> dict[str, Any]:
    """Check an override and record it in the store (shell step).

    Parameters
    ----------
    store : DecisionStore
        Where the override is appended (:meth:`DecisionStore.record_override`).
    decision : mapping or Decision
        The decision overridden: a stored decision dict
        (:meth:`DecisionStore.latest_decision`, with ``decision_id``) or a
        :class:`~riskengine.contracts.decision.Decision`. Its ``debtor_id``,
        ``supplier_id``, ``grade``, ``approved_limit``, ``currency``,
        ``model_version``, ``policy_version`` and ``input_hash`` are recorded.
    reason, officer : str
        Mandatory (see :func:`check_override`).
    new_grade, new_limit : optional
        The officer's grade and limit; None keeps the decision's.
    policy_max_upgrade_notches : int, optional
        The upgrade bound; default :func:`max_upgrade_notches` of ``policy``.
    policy : CreditPolicy or mapping, optional
    update_register : bool, default True
        When the limit changes and the decision names its supplier, apply the
        new limit to the pair's register entry in the same transaction, by the
        register's one rule (source ``override:<id>``, history reason
        ``override <id>: <reason>``, changed by the officer): an increase at
        once, a cut after the policy's ``limits.notice_days`` (at once when the
        decision has knock-outs).
    effective_date : date-like, optional
        An explicit date for that register change instead of the rule.
    rerun : callable, optional
        ``rerun(grade, requested)`` (:data:`Rerun`): the policy decided again at the
        override's grade. It gives what the policy grants (``policy_limit``; a grade
        override without a limit takes it as its new limit), the cap (requested
        :data:`UNBOUNDED_REQUEST`) and the terms at the new limit. Without it (or
        when it answers None) the grant is the decision's limit, the cap is unknown
        and a limit increase is refused.

    Returns
    -------
    dict
        The stored override row (``id``, ``created_at``, ``flagged``, ``status``
        ``pending`` or ``applied`` ...), plus ``register_change`` (the limit-history
        row, or None: a pending override changes nothing until approved).

    Raises
    ------
    OverrideRefusedError
        A rule refuses the override; the message lists every reason.
    InvalidInputError
        Malformed input (unknown grade, negative limit, no debtor id).
    """
    bound = (max_upgrade_notches(policy) if policy_max_upgrade_notches is None
             else policy_max_upgrade_notches)
    debtor = _field(decision, "debtor_id")
    if debtor is None or str(debtor) == "":
        raise _bad("decision", "debtor_id", "the decision has no debtor_id; override a "
                   "stored decision.")
    og = _field(decision, "grade")
    grade = new_grade if new_grade is not None else og
    grant = cap = terms = None
    if rerun is not None and grade is not None and str(grade) in _INDEX:
        granted = rerun(str(grade), None)
        if granted is not None:
            grant = float(granted.get("approved_limit") or 0.0)
            capped = rerun(str(grade), UNBOUNDED_REQUEST)
            cap = float((capped or {}).get("approved_limit") or 0.0)
            if new_limit is None and new_grade is not None:
                new_limit = grant  # the grade's own limit: the policy decides it
                terms = _terms(granted)
            else:
                terms = _terms(granted if new_limit is None else rerun(str(grade), new_limit))
    check = check_override(og, new_grade, _field(decision, "approved_limit"), new_limit,
                           reason, officer, policy_max_upgrade_notches=bound,
                           policy_limit=grant, policy_cap=cap, cap_known=cap is not None)
    if not check.allowed:
        problems = [{"table": "overrides", "record": str(debtor), "debtor_id": str(debtor),
                     "column": "override", "value": None, "reason": "override_refused",
                     "message": r} for r in check.reasons]
        raise OverrideRefusedError(
            f"override of debtor {debtor!s} refused: {'; '.join(check.reasons)}.", check,
            problems)
    did = _field(decision, "decision_id")
    row: dict[str, Any] = store.record_override(
        debtor_id=str(debtor), supplier_id=_field(decision, "supplier_id"),
        decision_id=None if did is None else int(did),
        input_hash=_field(decision, "input_hash"),
        original_grade=check.original_grade, new_grade=check.new_grade,
        original_limit=check.original_limit, new_limit=check.new_limit,
        currency=_field(decision, "currency"), notches=check.notches,
        direction=check.direction, limit_change=check.limit_change,
        reason=str(reason).strip(), officer=str(officer).strip(), flagged=check.flagged,
        flag_reasons=check.flag_reasons, model_version=_field(decision, "model_version"),
        policy_version=_field(decision, "policy_version"),
        update_register=(update_register and check.limit_change != "none"
                         and not check.flagged),
        status="pending" if check.flagged else "applied", policy_limit=grant,
        policy_cap=cap, terms=terms, effective_date=effective_date,
        policy=policy if isinstance(policy, CreditPolicy) else None,
        knockout=decision_knockout({"knockouts": _field(decision, "knockouts")}))
    return row
