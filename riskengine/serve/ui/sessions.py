"""Signed cookies of the officer's pages: :class:`SessionSigner` (HMAC-SHA256, with
expiry), the :class:`UiSession` a session cookie holds, and the cookie names."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from riskengine.errors import RiskEngineError

SESSION_COOKIE = "riskengine_session"
"""Name of the session cookie (signed; ``HttpOnly``, ``SameSite=Strict``, ``Path=/ui``)."""
LOGIN_COOKIE = "riskengine_login"
"""Name of the login form's nonce cookie (signed, ten minutes)."""
SESSION_MAX_AGE_S = 8 * 3600
"""Lifetime of a session, seconds (a working day)."""
_MAX_COOKIE = 4096


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and checks small JSON documents for cookies (HMAC-SHA256, with expiry).

    Parameters
    ----------
    secret : bytes
        The signing key (at least 16 bytes).
    max_age_s : int
        Documents older than this (their ``iat``) are refused.

    Examples
    --------
    >>> s = SessionSigner(b"k" * 32)
    >>> text = s.sign("session", {"officer": "A. Papadopoulou", "iat": 1000})
    >>> s.unsign("session", text, now=1001)["officer"]
    'A. Papadopoulou'
    >>> s.unsign("login", text, now=1001) is None  # another purpose
    True
    >>> s.unsign("session", text[:-2] + "xx", now=1001) is None  # tampered
    True
    """

    def __init__(self, secret: bytes, max_age_s: int = SESSION_MAX_AGE_S) -> None:
        if len(secret) < 16:
            raise RiskEngineError("the session secret must be at least 16 bytes long; "
                                  "use secrets.token_bytes(32).")
        self._key = hashlib.sha256(b"riskengine-ui|" + secret).digest()
        self.max_age_s = int(max_age_s)

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{body}".encode(), hashlib.sha256).digest())

    def sign(self, purpose: str, data: Mapping[str, Any]) -> str:
        """``data`` (JSON-able, with an integer ``iat``) as ``body.mac`` (URL-safe base64)."""
        body = _b64(json.dumps(dict(data), sort_keys=True, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, text: str | None, *, now: float,
               max_age_s: int | None = None) -> dict[str, Any] | None:
        """The signed document, or None if missing, tampered, of another purpose or expired."""
        if not text or len(text) > _MAX_COOKIE or text.count(".") != 1:
            return None
        body, mac = text.split(".")
        if not hmac.compare_digest(mac.encode(), self._mac(purpose, body).encode()):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        iat = data.get("iat")
        age = self.max_age_s if max_age_s is None else max_age_s
        if not isinstance(iat, int) or not -60 <= now - iat <= age:
            return None
        return data

    def key_id(self, token: str) -> str:
        """A short id of an API token (not reversible), to end sessions of removed tokens."""
        return _b64(hmac.new(self._key, b"token|" + token.encode("utf-8", "surrogatepass"),
                             hashlib.sha256).digest()[:12])


@dataclass(frozen=True, slots=True)
class UiSession:
    """A logged-in officer: the name recorded with overrides, and the session's CSRF token."""

    officer: str
    csrf: str
    issued_at: int
    key_id: str
