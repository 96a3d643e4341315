"""Need-to-know, enforced in one place: every RPC entrypoint starts with
`self.access.actor(token)`. The `Access` provider verifies the signed actor token, asks the
permission table it was given (the services', `services.permissions`) whether the role may run
this entrypoint, and refuses with `Forbidden` otherwise, leaving an `AccessDenied` trace.
Scope rules that depend on the data (own platform, assigned listener, granted identity access)
are checked by the services.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from nameko.extensions import DependencyProvider

from allodiscri.kernel import tokens
from allodiscri.kernel.actors import Actor
from allodiscri.platform.dependencies import MongoConnection
from allodiscri.platform.unit_of_work import record_denial

PermissionTable = Mapping[str, frozenset[str]]


class Forbidden(Exception):
    """The actor may not do this; nothing was done."""

    def __init__(self, actor_id: str, role: str, action: str, reason: str | None = None):
        self.actor_id = actor_id
        self.role = role
        self.action = action
        because = reason or f"role {role} may not call {action}"
        super().__init__(json.dumps({"forbidden": action, "role": role, "reason": because}))


class Gate:
    """What an entrypoint asks: who is calling, and may they call me? Refusals are traced."""

    def __init__(
        self,
        action: str,
        key: bytes,
        trace: Callable[..., None],
        permissions: PermissionTable,
    ):
        self.action = action
        self._allowed = permissions.get(action, frozenset())
        self._key = key
        self._trace = trace

    def actor(self, token) -> Actor:
        """The caller named by a signed token (allodiscri.kernel.tokens), if allowed here."""
        try:
            actor = tokens.verify(token, self._key)
        except tokens.TokenRefused as refused:
            claims = refused.claims
            self.deny(
                Actor(
                    str(claims.get("sub") or "unknown"),
                    str(claims.get("role") or "unknown"),
                    str(claims.get("platform") or "unknown"),
                ),
                refused.reason,
            )
            raise Forbidden("unknown", "unknown", self.action, refused.reason) from None
        if actor.role not in self._allowed:
            reason = f"role {actor.role} may not call {self.action}"
            self.deny(actor, reason)
            raise Forbidden(actor.id, actor.role, self.action, reason)
        return actor

    def require(self, role: str) -> None:
        """For callers proven by other means than a token (a declarant's receipt code)."""
        if role not in self._allowed:
            reason = f"role {role} may not call {self.action}"
            self.deny(Actor("anonymous", role, "unknown"), reason)
            raise Forbidden("anonymous", role, self.action, reason)

    def deny(self, actor: Actor, reason: str) -> None:
        """Leave the access-denied trace (also for data of another platform)."""
        self._trace(self.action, actor, reason)


class Access(DependencyProvider):
    """Resolves the calling actor for the running entrypoint, the one place to do it."""

    mongo = MongoConnection()

    def __init__(self, permissions: PermissionTable):
        self.permissions = permissions

    def setup(self):
        key = self.container.config.get("ACTOR_TOKEN_KEY")
        if not key:
            raise RuntimeError("ACTOR_TOKEN_KEY is not set: actors cannot be verified")
        self.key = str(key).encode("utf-8")

    def get_dependency(self, worker_ctx) -> Gate:
        service = self.container.service_name
        action = f"{service}.{worker_ctx.entrypoint.method_name}"
        correlation_id = worker_ctx.context_data.get("correlation_id") or worker_ctx.call_id

        def trace(action: str, actor: Actor, reason: str) -> None:
            record_denial(self.mongo.store, service, correlation_id, action, actor, reason)

        return Gate(action, self.key, trace, self.permissions)
