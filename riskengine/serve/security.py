"""API tokens of the HTTP service: where they come from and how they are checked (shell).

Tokens come from the environment variable ``RISKENGINE_API_TOKEN`` (several
allowed, comma-separated) and/or a token file (one token per line, ``#``
comments and blank lines ignored). There is **no default token**. A presented
token is compared with every allowed one in constant time
(:func:`hmac.compare_digest` on SHA-256 digests, so neither the content nor
the length of a token leaks through timing).
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
    "TOKEN_ENV",
    "MIN_TOKEN_LENGTH",
    "TokenSet",
    "load_tokens",
    "read_token_file",
    "split_tokens",
]

TOKEN_ENV = "RISKENGINE_API_TOKEN"
"""Environment variable with the allowed API tokens, comma-separated."""

MIN_TOKEN_LENGTH = 16
"""Shortest token accepted (characters); shorter ones are refused at start."""

_log = logging.getLogger("riskengine.serve.api")


def split_tokens(text: str, source: str) -> list[str]:
    """Tokens in a comma- or newline-separated text (``#`` starts a comment line).

    Raises
    ------
    RiskEngineError
        A token is shorter than :data:`MIN_TOKEN_LENGTH` or contains a space
        (the token itself is never printed).

    Examples
    --------
    >>> split_tokens("# ops\\n0123456789abcdef, fedcba9876543210\\n", "file")
    ['0123456789abcdef', 'fedcba9876543210']
    """
    out: list[str] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("#"):
            continue
        for part in line.split(","):
            token = part.strip()
            if not token:
                continue
            if len(token) < MIN_TOKEN_LENGTH or any(ch.isspace() for ch in token):
                raise RiskEngineError(
                    f"API token {len(out) + 1} in {source} (line {line_no}) is shorter than "
                    f"{MIN_TOKEN_LENGTH} characters or contains a space; use a long random "
                    "token, e.g. `python -c \"import secrets; print(secrets.token_urlsafe(32))\"`.")
            out.append(token)
    return out


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
    """Allowed bearer tokens, checked in constant time.

    Parameters
    ----------
    tokens : iterable of str
        At least one token.

    Examples
    --------
    >>> ts = TokenSet(["0123456789abcdef"])
    >>> ts.allows("0123456789abcdef"), ts.allows("0123456789abcdeX"), ts.allows(None)
    (True, False, False)
    """

    __slots__ = ("_digests",)

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = tuple(_digest(t) for t in dict.fromkeys(tokens) if t)
        if not self._digests:
            raise RiskEngineError(
                f"no API token configured: set {TOKEN_ENV} (comma-separated) or give a token "
                "file; there is no default token.")

    def __len__(self) -> int:
        return len(self._digests)

    def allows(self, presented: str | None) -> bool:
        """Whether ``presented`` is one of the tokens (every token is compared)."""
        if not presented:
            return False
        d = _digest(presented)
        ok = False
        for allowed in self._digests:
            ok |= hmac.compare_digest(d, allowed)
        return ok
