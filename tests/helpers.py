"""Builders and polling helpers for tests."""

from __future__ import annotations

import copy
import time
import uuid
from typing import Any

import pytest
from kombu import Consumer
from nameko.exceptions import RemoteError

from allodiscri.kernel import tokens
from allodiscri.kernel.actors import Actor
from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.events import Metadata, NewEvent
from allodiscri.platform.crypto import (
    DataKeys,
    FieldCipher,
    MasterKey,
    MasterKeyring,
    keys_database_name,
)


def eventually(check, timeout: float = 20.0, interval: float = 0.05):
    """Poll `check` until it returns a truthy value; fail with its last answer otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def meta(platform: str = "SG", actor_id: str = "listener-1", role: str = "listener") -> Metadata:
    return Metadata(
        actor_id=actor_id,
        actor_role=role,
        platform=platform,
        service="tests",
        correlation_id=str(uuid.uuid4()),
    )


def new_event(event_type: str = "Noted", **data: Any) -> NewEvent:
    return NewEvent(type=event_type, data=data or {"note": "x"}, meta=meta())


# The e2e platform is configured with this key (tests/e2e/conftest.py); never used elsewhere.
TEST_ACTOR_KEY = "tests-only-actor-token-key-32-bytes-or-more"
# 32 bytes, base64: the tests' master key, which wraps every case's data key.
TEST_MASTER_KEY = "dGVzdHMtb25seSBtYXN0ZXIga2V5LCAzMiBieXRlcyE="


def actor(role: str = "listener", platform: str = "SG", actor_id: str = "agent-1") -> str:
    """A signed actor token, as the ministry's sign-on would issue it."""
    return tokens.issue(Actor(actor_id, role, platform), TEST_ACTOR_KEY.encode())


REPORT = {
    "platform": "SG",
    "channel": "web",
    "declarant": {
        "role": "victim",
        "name": "Camille Martin",
        "email": "camille.martin@example.org",
        "phone": "+33 1 23 45 67 89",
        "perimeter": "prefecture",
        "assignment": "Préfecture de la Somme, bureau des étrangers",
        "status": "contractuel",
        "category": "B",
        "corps": "secrétaire administratif",
        "grade": "classe normale",
    },
    "facts": {
        "kinds": ["discrimination", "harcelement-moral"],
        "criteria": ["origine", "sexe"],
        "period": "depuis mars 2026",
        "place": "Amiens",
        "alleged_author_relation": "supérieur hiérarchique",
        "narrative": "Remarques répétées sur mon origine devant l'équipe; refus de formation.",
    },
}


def report(**changes: Any) -> dict[str, Any]:
    """A valid web report; keyword arguments replace top-level fields."""
    built = copy.deepcopy(REPORT)
    built.update(changes)
    return built


def drain(connection, queue, timeout=0.5):
    """Every message waiting in `queue` (bodies decoded), acked."""
    received = []

    def keep(body, message):
        received.append((body, message))
        message.ack()

    with Consumer(connection, queues=[queue], callbacks=[keep], accept=["json"]):
        while True:
            try:
                connection.drain_events(timeout=timeout)
            except TimeoutError:
                return received


def cipher_for(database) -> FieldCipher:
    """The cipher the e2e platform seals with, over the keys database beside `database`."""
    keys = DataKeys(
        database.client.get_database(keys_database_name(database.name)),
        MasterKeyring(MasterKey.from_text(TEST_MASTER_KEY)),
    )
    return FieldCipher(keys, CATALOGUE.personal_paths)


def opened(database, data: Any) -> Any:
    """Stored event data with its personal fields opened, as an entitled reader sees them."""
    return cipher_for(database).open(data, fresh=True)


def rpc_refusal(call) -> RemoteError:
    """The RemoteError a call is refused with (fails the test if it is not refused)."""
    with pytest.raises(RemoteError) as refused:
        call()
    return refused.value


class CaseDriver:
    """Drives one case through the cases service, carrying the version each command expects."""

    def __init__(self, cluster, case_id, actor_token: str, version: int = 1):
        self.cluster, self.case_id, self.version = cluster, case_id, version
        self.actor = actor_token

    def do(self, command, who=None, **details):
        result = getattr(self.cluster.cases, command)(
            self.case_id, who or self.actor, self.version, **details
        )
        self.version = result["version"]
        return result


def report_naming(people: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """A web report whose declarant and facts carry the given distinctive texts (keys: name,
    email, phone, assignment, corps, grade, period, place, relation, narrative)."""
    built = report(**overrides)
    built["declarant"].update(
        {
            field: people[field]
            for field in ("name", "email", "phone", "assignment", "corps", "grade")
        }
    )
    built["facts"].update(
        period=people["period"],
        place=people["place"],
        alleged_author_relation=people["relation"],
        narrative=people["narrative"],
    )
    return built


def answered_referral(cluster, case_id, listener, interlocutor, texts: dict[str, str]) -> str:
    """A referral requested, sent, acknowledged, answered and closed, its free text taken from
    `texts` (keys: referral_note, answer, measure, referral_closed); returns its id."""
    referral_id = cluster.referrals.request_referral(case_id, "hr-office", "authority", listener)
    sent = cluster.referrals.send_referral(referral_id, listener, 1, note=texts["referral_note"])
    acknowledged = cluster.referrals.acknowledge_referral(
        referral_id, interlocutor, sent["version"]
    )
    answered = cluster.referrals.answer_referral(
        referral_id,
        interlocutor,
        acknowledged["version"],
        answer=texts["answer"],
        measures=[texts["measure"]],
    )
    cluster.referrals.close_referral(
        referral_id, listener, answered["version"], reason=texts["referral_closed"]
    )
    return referral_id
