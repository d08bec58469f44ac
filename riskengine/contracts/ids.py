"""The identifier grammar: one definition for the batch contracts and the HTTP API.

Every id (``debtor_id``, ``supplier_id``, ``group_id``, ``record_id``,
``invoice_id``) is 1 to :data:`ID_MAX_LENGTH` ASCII characters: a letter or a
digit, then letters, digits and ``_ . : / -``. No space, comma or control
character, so an id reads the same in a CSV cell, a log line, a URL and a
message. :data:`ID_PATTERN` is written for every regex engine that checks it:
pydantic (Rust ``regex``), JSON Schema (ECMA-262), Arrow (RE2), where ``$``
is the end of the text; Python's ``re`` also lets ``$`` match before a final
newline, so Python code checks with :func:`is_identifier` (a full match).

Examples
--------
>>> is_identifier("D-102"), is_identifier("S/7:2023.1")
(True, True)
>>> is_identifier("D,5"), is_identifier("D\\n6"), is_identifier(" D000008 ")
(False, False, False)
>>> is_identifier("D\\n"), is_identifier("x" * 65)
(False, False)
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ID_MAX_LENGTH", "ID_PATTERN", "ID_RE", "ID_RULE", "is_identifier"]

#: Longest identifier, in characters (ASCII, so also in bytes).
ID_MAX_LENGTH = 64
#: The whole grammar, length included, anchored at both ends.
ID_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.:/-]{{0,{ID_MAX_LENGTH - 1}}}$"
#: :data:`ID_PATTERN` compiled; match with ``fullmatch`` (see the module notes).
ID_RE = re.compile(ID_PATTERN)
#: The grammar in words, for messages.
ID_RULE = (f"1 to {ID_MAX_LENGTH} characters: a letter or digit, then letters, digits "
           "and _ . : / - (no spaces, commas or control characters)")


def is_identifier(value: Any) -> bool:
    """Whether ``value`` is a string in the identifier grammar."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None
