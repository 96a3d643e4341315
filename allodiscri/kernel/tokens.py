"""Signed, expiring actor tokens: who calls, in which role, for which platform.

A JWT (RFC 7519) signed with HMAC-SHA256 and a key from the environment (`ACTOR_TOKEN_KEY`),
issued by the ministry's sign-on and checked by the one provider that resolves actors
(`allodiscri.platform.access.Access`). Claims: `sub` (actor id), `role`, `platform`, `iat`, `exp`.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from marshmallow import ValidationError

from allodiscri.kernel.actors import Actor, ActorSchema
from allodiscri.kernel.boundary import text_problem

ALGORITHM = "HS256"
ISSUER = "allodiscri"
MAX_TTL_SECONDS = 12 * 3600
MIN_KEY_BYTES = 32


class TokenRefused(Exception):
    """The token proves nothing: missing, malformed, forged, expired or with bad claims."""

    def __init__(self, reason: str, claims: dict[str, Any] | None = None):
        self.reason = reason
        self.claims = claims or {}
        super().__init__(reason)


def _checked_key(key: bytes) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"an actor token key has at least {MIN_KEY_BYTES} bytes")
    return key


def issue(actor: Actor, key: bytes, ttl_seconds: int = 3600, now: float | None = None) -> str:
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"a token lives between 1 and {MAX_TTL_SECONDS} seconds")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": ISSUER,
        "sub": actor.id,
        "role": actor.role,
        "platform": actor.platform,
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, _checked_key(key), algorithm=ALGORITHM)


def verify(token: Any, key: bytes, now: float | None = None) -> Actor:
    """The actor a token names, or `TokenRefused` saying why not."""
    if token is None or token == "":
        raise TokenRefused("no actor token")
    if not isinstance(token, str):
        raise TokenRefused("an actor token is a signed string (JWT)")
    if problem := text_problem(token):
        raise TokenRefused(f"an actor token is plain text: {problem}")
    try:
        claims = jwt.decode(
            token,
            _checked_key(key),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
            leeway=0,
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused("the actor token has expired", _unverified(token)) from None
    except jwt.InvalidSignatureError:
        raise TokenRefused("the actor token's signature is not valid", _unverified(token)) from None
    except jwt.InvalidTokenError as error:
        raise TokenRefused(f"the actor token is not valid: {error}", _unverified(token)) from None
    if now is not None and claims["exp"] <= now:
        raise TokenRefused("the actor token has expired", claims)
    if claims["exp"] - claims["iat"] > MAX_TTL_SECONDS:
        raise TokenRefused("the actor token lives longer than allowed", claims)
    try:
        return ActorSchema().load(
            {"id": claims["sub"], "role": claims.get("role"), "platform": claims.get("platform")}
        )
    except ValidationError as error:
        raise TokenRefused(
            f"the actor token's claims are not valid: {error.messages}", claims
        ) from None


def _unverified(token: str) -> dict[str, Any]:
    """What a refused token claims, for the access-denied trace only (never trusted)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return {}
    return {name: claims.get(name) for name in ("sub", "role", "platform") if name in claims}
