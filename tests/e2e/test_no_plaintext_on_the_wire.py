"""Messages published on RabbitMQ never carry personal data in clear.

A raw consumer, bound to every published exchange before anything happens, receives the whole
of a case's life: every kind of personal field filled with text found nowhere else. It then
searches each message body, as bytes and decoded, for every one of those texts.
"""

import base64
import binascii
import json
import uuid

from kombu import Connection, Consumer, Exchange, Queue, binding

from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.contracts import EACH
from allodiscri.platform.crypto import is_sealed
from tests.helpers import actor, answered_referral, eventually, opened, report, report_naming

LISTENER = actor("listener", actor_id="listener-1")
MANAGER = actor("cell-manager", actor_id="manager-1")
INTERLOCUTOR = actor("referral-interlocutor", actor_id="rh-1")
PUBLISHED = {"intake": "report", "cases": "case", "referrals": "referral"}

# Each text appears in one field only; accents make their JSON escaping differ from UTF-8.
SECRET = {
    "name": "Zéphyrine Vaudémont-Quillet",
    "email": "zephyrine.vaudemont@clair-interdit.example",
    "phone": "+33 6 71 42 93 58",
    "assignment": "Sous-préfecture de Lodève, guichet cartes grises",
    "corps": "attaché d'administration de l'État",
    "grade": "attaché principal hors classe",
    "period": "entre la Chandeleur et Pâques 2026",
    "place": "salle Ferdinand-Buisson, 3e étage",
    "relation": "adjointe du chef de bureau Bérénice",
    "narrative": "Le chef Théophraste répète « retourne chez toi » devant l'équipe.",
    "filename": "capture-théophraste-réunion.pdf",
    "phone_name": "Anatole Brisefer-Lancelin",
    "minutes": "Procès-verbal : Anatole décrit trois mises à l'écart par Théodule.",
    "rectified": "Rectification : quatre mises à l'écart, dont une devant Léocadie.",
    "added": "Un témoin, Hermengarde Poulidor, peut confirmer la scène du 4 mars.",
    "added_file": "témoignage-hermengarde.pdf",
    "notes": "Entretien : Zéphyrine pleure en évoquant Théophraste, arrêt maladie de 8 jours.",
    "informed": "Madame Vaudémont-Quillet, une mesure d'éloignement a été décidée.",
    "referral_note": "Transmis à Mme Gwendoline Carabosse, DRH, par pli confidentiel.",
    "answer": "Théophraste Ledru est muté au service courrier à compter du 1er juin.",
    "measure": "Mutation de Théophraste Ledru hors du bureau des étrangers",
    "referral_closed": "Réponse de Mme Carabosse reçue et jugée suffisante.",
    "recorded_measure": "Aménagement d'horaires pour Zéphyrine décidé par Mme Carabosse",
    "closing": "Clôture : Théophraste muté, Zéphyrine satisfaite des mesures.",
}


def pdf(name: str) -> dict:
    data = base64.b64encode(b"%PDF-1.4\n% evidence\n%%EOF\n").decode()
    return {"filename": name, "content_type": "application/pdf", "content_base64": data}


def watch(connection) -> Queue:
    """A queue bound to every published exchange, for every routing key."""
    queue = Queue(
        f"raw-watch-{uuid.uuid4().hex[:8]}",
        bindings=[
            binding(Exchange(f"{service}.events", type="topic", durable=True), routing_key="#")
            for service in PUBLISHED
        ],
        exclusive=True,
    )
    queue(connection.default_channel).declare()
    return queue


def drain_raw(connection, queue) -> list[bytes]:
    """The bodies waiting in `queue`, as the bytes the broker delivers, not deserialized.

    The AMQP client turns a body with a content encoding into text: encoding it back gives the
    very bytes that crossed the wire (a lossless round trip for UTF-8).
    """
    bodies = []

    def keep(message):
        body = message.body
        bodies.append(body if isinstance(body, bytes) else body.encode(message.content_encoding))
        message.ack()

    with Consumer(connection, queues=[queue], on_message=keep):
        while True:
            try:
                connection.drain_events(timeout=0.3)
            except TimeoutError:
                return bodies


def live_a_case(cluster, database) -> None:
    """Every kind of personal field, filled through the RPCs as callers fill them."""
    web = cluster.intake.submit_report(report_naming(SECRET, attachments=[pdf(SECRET["filename"])]))
    phone_report = report()
    phone_report["declarant"]["name"] = SECRET["phone_name"]
    phone = cluster.intake.record_phone_report(phone_report, SECRET["minutes"], LISTENER)
    cluster.intake.show_minutes(phone["report_id"], LISTENER, 2)
    cluster.intake.rectify_minutes(phone["report_id"], phone["receipt_code"], SECRET["rectified"])
    cluster.intake.add_information(
        web["report_id"], web["receipt_code"], SECRET["added"], [pdf(SECRET["added_file"])]
    )

    case_id = web["report_id"]
    for opened_case in (case_id, phone["report_id"]):
        eventually(lambda c=opened_case: database.cases_view.find_one({"_id": c}))
    version = 1

    def do(command, who=LISTENER, **details):
        nonlocal version
        version = getattr(cluster.cases, command)(case_id, who, version, **details)["version"]

    do("acknowledge_receipt")
    do("assign_listener", MANAGER, listener_id="listener-1")
    do("schedule_interview", scheduled_for="2026-12-02T10:00:00+01:00", mode="phone")
    do("hold_interview", notes=SECRET["notes"])
    do("inform_declarant", message=SECRET["informed"])
    answered_referral(cluster, case_id, LISTENER, INTERLOCUTOR, SECRET)
    do("record_measure", measure=SECRET["recorded_measure"], taken_by="bureau RH")
    do("close_case", outcome="facts-confirmed", reason=SECRET["closing"])


def published_events(database) -> dict[str, dict]:
    """The stored events the relays publish, by id."""
    stream_types = list(PUBLISHED.values())
    return {e["_id"]: e for e in database.events.find({"stream_type": {"$in": stream_types}})}


def forms(text: str) -> list[bytes]:
    """How `text` would look in a JSON body: UTF-8, or with non-ASCII escaped."""
    return [text.encode("utf-8"), json.dumps(text)[1:-1].encode("ascii")]


def base64_decodings(value) -> list[bytes]:
    """Every string inside a decoded body that is base64, decoded (a sealed field's bytes)."""
    if isinstance(value, dict):
        return [raw for item in value.values() for raw in base64_decodings(item)]
    if isinstance(value, list):
        return [raw for item in value for raw in base64_decodings(item)]
    if isinstance(value, str):
        try:
            return [base64.b64decode(value, validate=True)]
        except (binascii.Error, ValueError):
            return []
    return []


def values_at(data, path):
    """The values at a catalogue path (EACH: every item of a list); null or absent: none."""
    if not path:
        return [data]
    if path[0] == EACH:
        return [found for item in data or [] for found in values_at(item, path[1:])]
    if not isinstance(data, dict) or data.get(path[0]) is None:
        return []
    return values_at(data[path[0]], path[1:])


def test_no_message_carries_personal_data_in_clear(cluster, database, platform_config):
    with Connection(platform_config["AMQP_URI"]) as connection:
        queue = watch(connection)  # bound before anything is recorded: nothing is missed
        live_a_case(cluster, database)
        raw = []

        def all_published():
            """The stored events once every one of them was received (and nothing else)."""
            raw.extend(drain_raw(connection, queue))
            stored = published_events(database)
            return {json.loads(body)["id"] for body in raw} == set(stored) and stored

        stored = eventually(all_published, timeout=30)

    bodies = [json.loads(body) for body in raw]
    # The scenario did record every text: an entitled reader opens each from the log.
    log_opened = json.dumps(
        [opened(database, e["data"]) for e in stored.values()], ensure_ascii=False
    )
    assert [name for name, text in SECRET.items() if text not in log_opened] == []

    for body_bytes, body in zip(raw, bodies, strict=True):
        searched = [body_bytes, json.dumps(body, ensure_ascii=False).encode("utf-8")]
        searched += base64_decodings(body)
        for name, text in SECRET.items():
            for form in forms(text):
                assert not any(form in haystack for haystack in searched), (body["type"], name)

    sealed = {}
    for body in bodies:
        for path in CATALOGUE.personal_paths(body["type"]):
            values = values_at(body["data"], path)
            assert all(is_sealed(value) for value in values), (body["type"], path, values)
            if values:
                sealed.setdefault(body["type"], set()).add(".".join(path))
    assert {
        "declarant.name",
        "declarant.email",
        "declarant.phone",
        "declarant.assignment",
        "facts.narrative",
        "facts.place",
        "facts.period",
        "facts.alleged_author_relation",
        "attachments.*.filename",
    } <= sealed["ReportReceived"]
    for event_type, path in [
        ("MinutesDrafted", "text"),
        ("MinutesRectified", "text"),
        ("DeclarantAddedInformation", "message"),
        ("DeclarantAddedInformation", "attachments.*.filename"),
        ("InterviewHeld", "notes"),
        ("DeclarantInformed", "message"),
        ("ReferralSent", "note"),
        ("ReferralAnswered", "answer"),
        ("ReferralAnswered", "measures.*"),
        ("CaseClosed", "reason"),
    ]:
        assert path in sealed[event_type], (event_type, path)

    # What statistics need travels in clear.
    kinds = ["discrimination", "harcelement-moral"]
    reports = [body["data"] for body in bodies if body["type"] == "ReportReceived"]
    cases = [body["data"] for body in bodies if body["type"] == "CaseOpened"]
    assert sorted(data["channel"] for data in reports) == ["phone", "web"]
    assert sorted(data["channel"] for data in cases) == ["phone", "web"]
    assert [data["facts"]["kinds"] for data in reports] == [kinds, kinds]
    assert [data["kinds"] for data in cases] == [kinds, kinds]
