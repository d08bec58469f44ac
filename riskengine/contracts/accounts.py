"""What an officer's account is (issue 18): its roles and the grammar of its name.

Light on purpose: the command line's parser reads :data:`ROLES` without loading the
store.
"""

from __future__ import annotations

import re

__all__ = ["ROLES", "USER_NAME_MAX", "USER_NAME_RULE", "valid_user_name"]

ROLES: tuple[str, ...] = ("officer", "approver", "admin", "auditor")
"""Roles of an account: officer (scores, proposes overrides), approver (also approves
others' overrides), admin (accounts), auditor (reads pages and reports only)."""

USER_NAME_MAX = 64
"""Longest account name (characters)."""

USER_NAME_RULE = (f"1 to {USER_NAME_MAX} lower-case letters, digits and . _ @ - (starting "
                  "with a letter or digit)")
"""The name grammar in words, for messages."""

_NAME = re.compile(rf"[a-z0-9][a-z0-9._@-]{{0,{USER_NAME_MAX - 1}}}")


def valid_user_name(name: str) -> bool:
    """Whether ``name`` follows :data:`USER_NAME_RULE`.

    Examples
    --------
    >>> valid_user_name("maria.p"), valid_user_name("Maria P")
    (True, False)
    """
    return bool(_NAME.fullmatch(name))
