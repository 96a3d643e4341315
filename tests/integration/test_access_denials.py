"""The gate every RPC entrypoint asks (`allodiscri.platform.access`), over a real store: a
caller the table allows passes and leaves nothing; any other is refused with `Forbidden` and
leaves one `AccessDenied` event saying who tried what and why, on the day's `denied-` stream.

The `Access` provider is run in a nameko container (nameko's testing helpers, no broker): it
names the action after the service and the entrypoint, and the trace after the call.
"""

import json
import re
from datetime import UTC, datetime

import jwt
import pytest
from nameko.testing.services import dummy, entrypoint_hook

from allodiscri.kernel import tokens
from allodiscri.kernel.actors import Actor
from allodiscri.platform.access import Access, Forbidden, Gate
from allodiscri.platform.unit_of_work import record_denial
from services.permissions import PERMISSIONS
from tests.helpers import TEST_ACTOR_KEY, TEST_MASTER_KEY, actor

KEY = TEST_ACTOR_KEY.encode()
ANOTHER_KEY = b"not-the-platform-key-not-the-platform-key"


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def gate(store, action, service="cases", correlation_id="call-1") -> Gate:
    """A gate that leaves its traces in `store`, as the provider wires it."""

    def trace(action, who, reason):
        record_denial(store, service, correlation_id, action, who, reason)

    return Gate(action, KEY, trace, PERMISSIONS)


def denials(store):
    """The AccessDenied events, as an auditor reads them: stream, metadata, data."""
    return [
        (event.stream, event.meta.to_dict(), event.data)
        for event in store.read_all()
        if event.type == "AccessDenied"
    ]


def refusal(call) -> Forbidden:
    with pytest.raises(Forbidden) as refused:
        call()
    return refused.value


def forged(**claims) -> str:
    """A well-formed token signed with a key that is not the platform's."""
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": "allodiscri", "iat": now, "exp": now + 60, **claims}
    return jwt.encode(claims, ANOTHER_KEY, algorithm="HS256")


# -- the gate ----------------------------------------------------------------------------------


def test_an_allowed_actor_passes_and_leaves_no_trace(store):
    who = gate(store, "cases.get_case").actor(actor("listener", "PN", "listener-7"))
    assert who == Actor("listener-7", "listener", "PN")
    assert store.events.count_documents({}) == 0


def test_a_role_not_in_the_table_is_refused_and_traced(store):
    """Authenticated, but the table does not list the role for this entrypoint."""
    day = today()
    forbidden = refusal(lambda: gate(store, "cases.get_case").actor(actor("analyst", "GN", "a-1")))
    assert (forbidden.actor_id, forbidden.role, forbidden.action) == (
        "a-1",
        "analyst",
        "cases.get_case",
    )
    assert json.loads(str(forbidden)) == {
        "forbidden": "cases.get_case",
        "role": "analyst",
        "reason": "role analyst may not call cases.get_case",
    }
    assert denials(store) == [
        (
            f"denied-{day}",
            {
                "actor_id": "a-1",
                "actor_role": "analyst",
                "platform": "GN",
                "service": "cases",
                "correlation_id": "call-1",
                "causation_id": None,
            },
            {
                "action": "cases.get_case",
                "reason": "role analyst may not call cases.get_case",
                "claimed_actor_id": "a-1",
                "claimed_role": "analyst",
                "claimed_platform": "GN",
            },
        )
    ]


def test_a_forged_token_is_refused_as_unknown_and_traced_with_what_it_claimed(store):
    """Nothing in a forged token is trusted, yet the auditor sees whom it pretended to be."""
    token = forged(sub="mallory", role="cell-manager", platform="PN")
    forbidden = refusal(lambda: gate(store, "cases.erase_case").actor(token))
    assert (forbidden.actor_id, forbidden.role, forbidden.action) == (
        "unknown",
        "unknown",
        "cases.erase_case",
    )
    assert json.loads(str(forbidden)) == {
        "forbidden": "cases.erase_case",
        "role": "unknown",
        "reason": "the actor token's signature is not valid",
    }
    [(_, meta, data)] = denials(store)
    assert (meta["actor_id"], meta["actor_role"], meta["platform"]) == (
        "mallory",
        "cell-manager",
        "PN",
    )
    assert data == {
        "action": "cases.erase_case",
        "reason": "the actor token's signature is not valid",
        "claimed_actor_id": "mallory",
        "claimed_role": "cell-manager",
        "claimed_platform": "PN",
    }


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "no actor token"),
        (forged(), "the actor token's signature is not valid"),
        (forged(sub="", role="", platform=""), "the actor token's signature is not valid"),
    ],
    ids=["missing", "claims-nothing", "claims-empty"],
)
def test_a_token_that_claims_nobody_is_traced_as_unknown(store, token, reason):
    refusal(lambda: gate(store, "reporting.get_statistics").actor(token))
    [(_, meta, data)] = denials(store)
    assert (meta["actor_id"], meta["actor_role"], meta["platform"]) == ("unknown",) * 3
    assert data == {
        "action": "reporting.get_statistics",
        "reason": reason,
        "claimed_actor_id": "unknown",
        "claimed_role": "unknown",
        "claimed_platform": "unknown",
    }


def test_overlong_claims_and_reasons_are_cut_to_what_the_trace_holds(store):
    """A forged token may claim anything; the trace keeps 100, 50 and 20 characters of the id,
    role and platform it claims, and 500 of a reason."""
    token = forged(sub="i" * 150, role="r" * 80, platform="p" * 30)
    refusal(lambda: gate(store, "cases.get_case").actor(token))
    gate(store, "cases.get_case").deny(Actor("listener-1", "listener", "SG"), "x" * 600)
    [(_, meta, data), (_, _, long_reason)] = denials(store)
    assert (meta["actor_id"], meta["actor_role"], meta["platform"]) == (
        "i" * 100,
        "r" * 50,
        "p" * 20,
    )
    assert (data["claimed_actor_id"], data["claimed_role"], data["claimed_platform"]) == (
        "i" * 100,
        "r" * 50,
        "p" * 20,
    )
    assert long_reason["reason"] == "x" * 500


def test_a_caller_proven_otherwise_is_checked_by_role(store):
    """The declarant proves themselves with a receipt code, not a token: only the role counts."""
    gate(store, "intake.follow_report").require("declarant")
    assert store.events.count_documents({}) == 0
    forbidden = refusal(lambda: gate(store, "cases.get_case").require("declarant"))
    assert (forbidden.actor_id, forbidden.role, forbidden.action) == (
        "anonymous",
        "declarant",
        "cases.get_case",
    )
    assert json.loads(str(forbidden))["reason"] == "role declarant may not call cases.get_case"
    [(_, meta, data)] = denials(store)
    assert (meta["actor_id"], meta["actor_role"], meta["platform"]) == (
        "anonymous",
        "declarant",
        "unknown",
    )
    assert data["reason"] == "role declarant may not call cases.get_case"


def test_denials_of_one_day_share_one_stream_whatever_the_caller(store):
    """The `denied-` stream takes any number of writers: no expected version is checked."""
    day = today()
    for role in ("analyst", "auditor", "referral-interlocutor"):
        refusal(lambda role=role: gate(store, "cases.close_case").actor(actor(role)))
    assert [stream for stream, _, _ in denials(store)] == [f"denied-{day}"] * 3


# -- the provider, in a nameko container -------------------------------------------------------


class Cases:
    """Stands for the cases service: two entrypoints that ask the gate first."""

    name = "cases"
    access = Access(PERMISSIONS)

    @dummy
    def get_case(self, token):
        return self.access.actor(token)

    @dummy
    def erase_case(self, token):
        return self.access.actor(token)


@pytest.fixture
def container_config(mongo_uri, db_name, database):
    return {
        "MONGO_URI": mongo_uri,
        "MONGO_DB": db_name,
        "MASTER_KEY": TEST_MASTER_KEY,
        "ACTOR_TOKEN_KEY": TEST_ACTOR_KEY,
    }


@pytest.fixture
def cases(container_factory, container_config):
    container = container_factory(Cases, container_config)
    container.start()
    return container


def test_the_provider_checks_the_running_entrypoint_against_the_table(cases, store):
    """A listener may read a case but not erase it: the action is `<service>.<entrypoint>`."""
    with entrypoint_hook(cases, "get_case") as get_case:
        assert get_case(actor("listener", "SG", "l-1")) == Actor("l-1", "listener", "SG")
    with entrypoint_hook(cases, "erase_case", context_data={"correlation_id": "corr-9"}) as erase:
        forbidden = refusal(lambda: erase(actor("listener", "SG", "l-1")))
    assert forbidden.action == "cases.erase_case"
    [(_, meta, data)] = denials(store)
    assert (meta["service"], meta["correlation_id"]) == ("cases", "corr-9")
    assert (data["action"], data["claimed_actor_id"]) == ("cases.erase_case", "l-1")


def test_the_provider_verifies_tokens_with_the_configured_key(cases, store):
    signed_elsewhere = tokens.issue(Actor("l-1", "listener", "SG"), b"k" * 32)
    with entrypoint_hook(cases, "get_case") as get_case:
        forbidden = refusal(lambda: get_case(signed_elsewhere))
    assert json.loads(str(forbidden))["reason"] == "the actor token's signature is not valid"
    [(_, meta, _)] = denials(store)
    # Without a correlation id from the caller, the trace is tied to the call's own id.
    assert re.fullmatch(r"cases\.get_case\.[0-9a-f-]{36}", meta["correlation_id"])


def test_a_service_without_an_actor_token_key_does_not_start(container_factory, container_config):
    container = container_factory(Cases, {**container_config, "ACTOR_TOKEN_KEY": ""})
    with pytest.raises(RuntimeError, match="ACTOR_TOKEN_KEY is not set"):
        container.start()
