"""Sessions of the officer's pages (issue 18): server-side sessions in the decision store
(:meth:`~riskengine.store.DecisionStore.open_session`), the cookie carrying only the
session's random id signed by itsdangerous (:class:`CookieSigner`), the
:class:`UiSession` a request runs under, and the cookie names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from riskengine.errors import RiskEngineError

SESSION_COOKIE = "riskengine_session"
"""Name of the session cookie (signed id; ``HttpOnly``, ``SameSite=Strict``, ``Path=/ui``)."""
LOGIN_COOKIE = "riskengine_login"
"""Name of the login form's nonce cookie (signed, ten minutes, single-use)."""
SESSION_MAX_AGE_S = 8 * 3600
"""Lifetime of a session, seconds (a working day); the store's expiry is the one that
counts (the cookie's signature age is checked too)."""
_MAX_COOKIE = 4096


class CookieSigner:
    """Signs and checks short texts for cookies (itsdangerous, HMAC-SHA1 over a key
    derived per purpose, with a timestamp).

    Parameters
    ----------
    secret : bytes
        The signing key (at least 16 bytes).

    Examples
    --------
    >>> s = CookieSigner(b"k" * 32)
    >>> text = s.sign("session", "abc")
    >>> s.unsign("session", text, max_age_s=60)
    'abc'
    >>> s.unsign("login", text, max_age_s=60) is None  # another purpose
    True
    >>> s.unsign("session", text[:-2] + "xx", max_age_s=60) is None  # tampered
    True
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise RiskEngineError("the session secret must be at least 16 bytes long; "
                                  "use secrets.token_bytes(32).")
        self._secret = secret

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._secret, salt=f"riskengine-ui-{purpose}")

    def sign(self, purpose: str, value: str) -> str:
        """``value`` signed for ``purpose`` (URL-safe text)."""
        out: str = self._serializer(purpose).dumps(value)
        return out

    def unsign(self, purpose: str, text: str | None, *, max_age_s: int) -> str | None:
        """The signed text, or None if missing, tampered, of another purpose or older
        than ``max_age_s``."""
        if not text or len(text) > _MAX_COOKIE:
            return None
        try:
            value = self._serializer(purpose).loads(text, max_age=max_age_s)
        except BadSignature:  # SignatureExpired is one
            return None
        return value if isinstance(value, str) else None


def session_key(session_id: str) -> str:
    """What the store keeps of a session id: its SHA-256 (a copy of the store does not
    give working cookies)."""
    return hashlib.sha256(session_id.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class UiSession:
    """A signed-in account: its name (recorded with overrides), role and the session's CSRF
    token and key (the SHA-256 of its id)."""

    officer: str
    role: str
    csrf: str
    key: str

    def can(self, action: str) -> bool:
        """Whether the role may ``score``, ``override`` or ``approve`` (every role reads)."""
        return self.role in _ALLOWED.get(action, ())


_ALLOWED: dict[str, tuple[str, ...]] = {
    "score": ("officer", "approver"),
    "override": ("officer", "approver"),
    "approve": ("approver",),
}
