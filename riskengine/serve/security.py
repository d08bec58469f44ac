"""API tokens of the HTTP service: where they come from and how they are checked (shell).

Tokens come from the environment variable ``RISKENGINE_API_TOKEN`` (several
allowed, comma-separated) and/or a token file (one token per line, ``#``
comments and blank lines ignored). There is **no default token**. A presented
token is compared with every allowed one in constant time
(:func:`hmac.compare_digest` on SHA-256 digests, so neither the content nor
the length of a token leaks through timing).

Scopes (issue 18): a token may do ``decide`` (decide debtors, record insurer answers and
exchange rates), ``check`` (funding checks of invoices) and ``read`` (stored decisions,
limits, insurer requests). A bare token has all three (token files of before stay valid);
a line ``TOKEN scopes=check,read`` gives only those. Tokens never sign in to the
officer's pages (they have accounts: :mod:`riskengine.serve.accounts`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from riskengine.errors import RiskEngineError

__all__ = [
    "SCOPES",
    "TOKEN_ENV",
    "MIN_TOKEN_LENGTH",
    "TokenSet",
    "load_tokens",
    "parse_entry",
    "read_token_file",
    "split_tokens",
]

TOKEN_ENV = "RISKENGINE_API_TOKEN"
"""Environment variable with the allowed API tokens, comma-separated."""

MIN_TOKEN_LENGTH = 16
"""Shortest token accepted (characters); shorter ones are refused at start."""

SCOPES: tuple[str, ...] = ("decide", "check", "read")
"""What a token may do; a token line without ``scopes=`` has them all."""

_log = logging.getLogger("riskengine.serve.api")


def split_tokens(text: str, source: str) -> list[str]:
    """Token entries in a comma- or newline-separated text (``#`` starts a comment line).

    An entry is a token, or ``TOKEN scopes=a,b`` (one per line: the commas then list
    scopes): the entry is returned normalised as ``"TOKEN scopes=a,b"``.

    Raises
    ------
    RiskEngineError
        A token is shorter than :data:`MIN_TOKEN_LENGTH` or contains a space, or a
        scope is unknown (the token itself is never printed).

    Examples
    --------
    >>> split_tokens("# ops\\n0123456789abcdef, fedcba9876543210\\n", "file")
    ['0123456789abcdef', 'fedcba9876543210']
    >>> split_tokens("0123456789abcdef scopes=check,read", "file")
    ['0123456789abcdef scopes=check,read']
    """
    out: list[str] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("#"):
            continue
        words = line.split()
        if len(words) == 2 and words[1].startswith("scopes="):
            scopes = [w.strip() for w in words[1][len("scopes="):].split(",") if w.strip()]
            bad = [w for w in scopes if w not in SCOPES]
            if bad or not scopes:
                raise RiskEngineError(
                    f"API token {len(out) + 1} in {source} (line {line_no}): scopes= lists "
                    f"{'an unknown scope' if bad else 'no scope'}; give some of "
                    f"{', '.join(SCOPES)}, comma-separated.")
            _check_token(words[0], len(out) + 1, source, line_no)
            out.append(f"{words[0]} scopes={','.join(dict.fromkeys(scopes))}")
            continue
        for part in line.split(","):
            token = part.strip()
            if not token:
                continue
            _check_token(token, len(out) + 1, source, line_no)
            out.append(token)
    return out


def _check_token(token: str, number: int, source: str, line_no: int) -> None:
    if len(token) < MIN_TOKEN_LENGTH or any(ch.isspace() for ch in token):
        raise RiskEngineError(
            f"API token {number} in {source} (line {line_no}) is shorter than "
            f"{MIN_TOKEN_LENGTH} characters or contains a space; use a long random "
            "token, e.g. `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`.")


def parse_entry(entry: str) -> tuple[str, frozenset[str]]:
    """A token entry as ``(token, scopes)``: a bare token has every scope.

    Examples
    --------
    >>> parse_entry("0123456789abcdef scopes=read")[1] == {"read"}
    True
    """
    words = entry.split()
    if len(words) == 2 and words[1].startswith("scopes="):
        return words[0], frozenset(w for w in words[1][7:].split(",") if w in SCOPES)
    return entry, frozenset(SCOPES)


def read_token_file(path: str | Path) -> list[str]:
    """Tokens of a token file; warns when the file is readable by group or others.

    Raises
    ------
    RiskEngineError
        The file cannot be read, or holds a bad token.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
        mode = p.stat().st_mode
    except OSError as exc:
        raise RiskEngineError(
            f"token file {p} cannot be read ({exc.strerror}); give a readable file with one "
            "API token per line.") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        _log.warning("token file %s is readable by group or others; chmod 600 it", p)
    return split_tokens(text, f"token file {p}")


def load_tokens(token_file: str | Path | None = None,
                environ: dict[str, str] | None = None) -> tuple[str, ...]:
    """The allowed tokens: ``$RISKENGINE_API_TOKEN`` plus the token file's (may be empty).

    Parameters
    ----------
    token_file : str or Path, optional
    environ : dict, optional
        The environment to read (default :data:`os.environ`).

    Returns
    -------
    tuple of str
        Distinct tokens, in order; empty when none is configured.
    """
    env = os.environ if environ is None else environ
    tokens = split_tokens(env.get(TOKEN_ENV, ""), f"${TOKEN_ENV}")
    if token_file:
        tokens += read_token_file(token_file)
    return tuple(dict.fromkeys(tokens))


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenSet:
    """Allowed bearer tokens and their scopes, checked in constant time.

    Parameters
    ----------
    tokens : iterable of str
        At least one token entry (a token, or ``"TOKEN scopes=a,b"``).

    Examples
    --------
    >>> ts = TokenSet(["0123456789abcdef", "fedcba9876543210 scopes=read"])
    >>> ts.allows("0123456789abcdef"), ts.allows("0123456789abcdeX"), ts.allows(None)
    (True, False, False)
    >>> sorted(ts.scopes_of("fedcba9876543210")), ts.allows("fedcba9876543210", "decide")
    (['read'], False)
    """

    __slots__ = ("_entries",)

    def __init__(self, tokens: Iterable[str]) -> None:
        entries: dict[bytes, frozenset[str]] = {}
        for entry in dict.fromkeys(tokens):
            if not entry:
                continue
            token, scopes = parse_entry(entry)
            d = _digest(token)
            entries[d] = entries.get(d, frozenset()) | scopes
        self._entries = tuple(entries.items())
        if not self._entries:
            raise RiskEngineError(
                f"no API token configured: set {TOKEN_ENV} (comma-separated) or give a token "
                "file; there is no default token.")

    def __len__(self) -> int:
        return len(self._entries)

    def scopes_of(self, presented: str | None) -> frozenset[str] | None:
        """The scopes of ``presented`` (every token is compared), None when unknown."""
        if not presented:
            return None
        d = _digest(presented)
        found: frozenset[str] | None = None
        for allowed, scopes in self._entries:
            if hmac.compare_digest(d, allowed):
                found = scopes
        return found

    def allows(self, presented: str | None, scope: str | None = None) -> bool:
        """Whether ``presented`` is one of the tokens (with ``scope``, when given)."""
        scopes = self.scopes_of(presented)
        return scopes is not None and (scope is None or scope in scopes)
