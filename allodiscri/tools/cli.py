"""The `allodiscri` command: integrity checks for auditors, and a few calls for operators."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from allodiscri.kernel import tokens
from allodiscri.kernel.actors import Actor
from allodiscri.kernel.catalogue import CATALOGUE
from allodiscri.kernel.hashing import format_time
from allodiscri.platform import config
from allodiscri.platform.crypto import (
    KEYS_COLLECTION,
    MASTER_KEY_VARIABLE,
    PREVIOUS_MASTER_KEYS_VARIABLE,
    DataKeys,
    MasterKeyError,
    MasterKeyring,
    keys_database_name,
)
from allodiscri.platform.integrity import CheckpointArchive, sign_head, verify_log
from allodiscri.platform.mongo import connect
from allodiscri.platform.rebuild import rebuild
from allodiscri.platform.store import EVENTS_COLLECTION, EventStore
from allodiscri.platform.subscriptions import Checkpoints

AUDIT_DB_SUFFIX = "_audit"


def _progress(stream) -> Any:
    def show(done: int, total: int) -> None:
        share = f" ({100 * done // total}%)" if total else ""
        stream.write(f"\rverified {done:,} of {total:,} events{share}")
        if done >= total:
            stream.write("\n")
        stream.flush()

    return show


def verify(args: argparse.Namespace) -> int:
    client = connect(args.mongo_uri)
    database = client.get_database(args.db)
    archive = CheckpointArchive(client.get_database(args.audit_db or args.db + AUDIT_DB_SUFFIX))
    key = config.checkpoint_key()
    checkpoint = archive.latest()
    if checkpoint is not None and key is None:
        print(
            f"warning: {config.CHECKPOINT_KEY_VARIABLE} is not set; the signed checkpoint "
            "cannot be checked, so a deleted tail would go unnoticed",
            file=sys.stderr,
        )
        checkpoint = None
    report = verify_log(
        database[EVENTS_COLLECTION],
        checkpoint=checkpoint,
        key=key,
        progress=None if args.quiet else _progress(sys.stderr),
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_summary(report)
    if not report.ok:
        return 1
    if args.sign:
        if key is None:
            print(f"cannot sign: {config.CHECKPOINT_KEY_VARIABLE} is not set", file=sys.stderr)
            return 2
        signed = sign_head(report, archive, key)
        print(f"signed checkpoint: position {signed.position}, hash {signed.head_hash}")
    return 0


def _print_summary(report) -> None:
    print(f"events checked: {report.events_checked:,}")
    print(f"head: position {report.head_position}, hash {report.head_hash}")
    if report.checkpoint:
        checkpoint = report.checkpoint
        print(f"signed checkpoint: position {checkpoint['position']} of {checkpoint['signed_at']}")
    else:
        print("signed checkpoint: none checked")
    if report.ok:
        print("result: OK - no event altered, reordered or removed")
        return
    print(f"result: FAILED - {len(report.problems)} problem(s)")
    for problem in report.problems:
        where = f"position {problem.position}" if problem.position is not None else "?"
        event = f" event {problem.event_id}" if problem.event_id else ""
        print(f"  [{problem.kind}] {where}{event}: {problem.detail}")


# -- projections ----------------------------------------------------------------------------

STUCK_AFTER_SECONDS = 60.0


def _database(args: argparse.Namespace):
    return connect(args.mongo_uri).get_database(args.db)


def _projection(name: str):
    from services.projections import PROJECTIONS

    if name not in PROJECTIONS:
        raise SystemExit(f"unknown projection {name!r}; known: {', '.join(sorted(PROJECTIONS))}")
    return PROJECTIONS[name]


def projection_status(args: argparse.Namespace) -> int:
    from services.projections import PROJECTIONS

    database = _database(args)
    store = EventStore(database)
    checkpoints = Checkpoints(database)
    head = store.head_position()
    names = sorted(set(PROJECTIONS) | set(checkpoints.names()))
    rows = []
    for name in names:
        status = checkpoints.status(name)
        last = store.events.find_one({"position": status["position"]}, {"recorded_at": 1})
        updated_at = status["updated_at"] or 0.0
        lag = head - status["position"]
        rows.append(
            {
                "name": name,
                "projection": name in PROJECTIONS,
                "position": status["position"],
                "head": head,
                "lag": lag,
                "last_event_at": format_time(last["recorded_at"]) if last else None,
                "stuck": lag > 0 and time.time() - updated_at > STUCK_AFTER_SECONDS,
                "problem": status["problem"],
                "quarantined": [
                    {"position": q["position"], "type": q["type"], "reason": q["reason"]}
                    for q in status["quarantined"]
                ],
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            flags = " STUCK" if row["stuck"] else ""
            flags += f" {len(row['quarantined'])} QUARANTINED" if row["quarantined"] else ""
            print(
                f"{row['name']:<32} position {row['position']:>8} of {head:<8} lag {row['lag']:>6}"
                f"  last event {row['last_event_at'] or '-'}{flags}"
            )
            if row["problem"]:
                print(f"    problem: {row['problem']}")
            for quarantined in row["quarantined"]:
                print(f"    quarantined at {quarantined['position']}: {quarantined['reason']}")
    unhealthy = any(row["stuck"] or row["quarantined"] or row["problem"] for row in rows)
    return 1 if unhealthy else 0


def _rebuild_progress(verb: str):
    def show(done: int, total: int) -> None:
        share = f" ({100 * done // total}%)" if total else ""
        sys.stderr.write(f"\r{verb} {done:,} of {total:,} positions{share}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def projection_rebuild(args: argparse.Namespace) -> int:
    database = _database(args)
    projection = _projection(args.name)
    report = rebuild(
        projection,
        EventStore(database, upcaster=CATALOGUE.upcast),
        database,
        progress=None if args.quiet else _rebuild_progress("rebuilt"),
    )
    print(
        f"{report.projection}: rebuilt from {report.events:,} events up to position "
        f"{report.position} in {report.seconds:.1f}s, switched over"
    )
    return 0


def projection_diff(args: argparse.Namespace) -> int:
    database = _database(args)
    report = rebuild(
        _projection(args.name),
        EventStore(database, upcaster=CATALOGUE.upcast),
        database,
        switch=False,
        progress=None if args.quiet else _rebuild_progress("replayed"),
    )
    if report.identical:
        print(f"{report.projection}: no difference at position {report.position}")
        return 0
    for collection, found in report.differences.items():
        for difference in found:
            print(json.dumps({"collection": collection, **difference}, default=str))
    return 1


# -- audit ----------------------------------------------------------------------------------


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def audit_replay(args: argparse.Namespace) -> int:
    from services.cases.replay import replay_case

    store = EventStore(_database(args), upcaster=CATALOGUE.upcast)
    replayed = replay_case(store, args.case, _instant(args.as_of))
    print(json.dumps(replayed, indent=2, ensure_ascii=False, default=_json_default))
    return 0


def audit_trail(args: argparse.Namespace) -> int:
    store = EventStore(_database(args))
    for event in store.read_by_actor(args.actor, _instant(args.since), _instant(args.until)):
        line = {
            "at": format_time(event.recorded_at),
            "position": event.position,
            "type": event.type,
            "stream": event.stream,
            "role": event.meta.actor_role,
            "platform": event.meta.platform,
        }
        if event.type == "CaseContentRead":
            line["read"] = event.data["what"]
        print(json.dumps(line, ensure_ascii=False))
    return 0


def audit_export(args: argparse.Namespace) -> int:
    """The stored events as JSON Lines, hashes included, for an outside verifier."""
    store = EventStore(_database(args))
    since, until = _instant(args.since), _instant(args.until)
    first = store.position_at(since) + 1 if since else 1
    last = store.position_at(until) if until else store.head_position()
    for document in store.events.find({"position": {"$gte": first, "$lte": last}}).sort(
        "position", 1
    ):
        exported = {("id" if key == "_id" else key): value for key, value in document.items()}
        exported["recorded_at"] = format_time(document["recorded_at"])
        print(json.dumps(exported, ensure_ascii=False, sort_keys=True))
    return 0


def _json_default(value):
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


# -- data keys and the master key -----------------------------------------------------------


ROTATE = "allodiscri keys rotate"


def keys_rotate(args: argparse.Namespace) -> int:
    """Re-wrap every data key under `MASTER_KEY`, unwrapping with `MASTER_KEY_PREVIOUS`.

    Idempotent and resumable: keys already under the current master key are skipped, so a run
    stopped half-way is finished by running it again.
    """
    try:
        keyring = MasterKeyring.from_settings({})
    except MasterKeyError as error:
        print(f"cannot rotate: {error}", file=sys.stderr)
        return 2
    with connect(args.mongo_uri) as client:
        keys = DataKeys(client.get_database(keys_database_name(args.db)), keyring)
        try:
            rotated = keys.rotate()
        except MasterKeyError as error:
            print(
                f"rotation stopped: {error}\n{keys.not_under_current():,} data key(s) still "
                "under another master key; the others stay rotated. Run this again once fixed.",
                file=sys.stderr,
            )
            return 1
        left = keys.not_under_current()
    print(f"rotated {rotated:,} data key(s) to master key {keyring.current.id}")
    if left:
        # Made meanwhile by a service still running with the old master key.
        print(
            f"{left:,} data key(s) appeared under another master key meanwhile: restart every "
            f"service with the new {MASTER_KEY_VARIABLE}, then run this again",
            file=sys.stderr,
        )
        return 1
    print(f"every data key is under it: {PREVIOUS_MASTER_KEYS_VARIABLE} can be dropped")
    return 0


def keys_status(args: argparse.Namespace) -> int:
    """How many data keys each master key wraps, and how many cases were erased; no secret."""
    try:
        keyring: MasterKeyring | None = MasterKeyring.from_settings({})
        problem = None
    except MasterKeyError as error:
        keyring, problem = None, str(error)
    with connect(args.mongo_uri) as client:
        collection = client.get_database(keys_database_name(args.db))[KEYS_COLLECTION]
        wrapped_by: Counter[str] = Counter()
        erased = 0
        for document in collection.find({}, {"master_key_id": 1}):
            if document.get("master_key_id") is None:
                erased += 1
            else:
                wrapped_by[document["master_key_id"]] += 1
    current = keyring.current.id if keyring else None
    configured = keyring.ids() if keyring else frozenset()

    def role(master_key_id: str) -> str:
        if master_key_id == current:
            return "current"
        return "previous" if master_key_id in configured else "not configured"

    rows = [
        {"master_key_id": key_id, "role": role(key_id), "data_keys": count}
        for key_id, count in sorted(wrapped_by.items(), key=lambda item: (-item[1], item[0]))
    ]
    unreadable = sum(row["data_keys"] for row in rows if row["role"] == "not configured")
    pending = sum(row["data_keys"] for row in rows if row["role"] == "previous")
    if args.json:
        summary = {
            "current_master_key_id": current,
            "master_keys": rows,
            "data_keys": sum(wrapped_by.values()),
            "erased": erased,
            "rotation_pending": pending,
            "unreadable": unreadable,
            "problem": problem,
        }
        print(json.dumps(summary, indent=2))
    else:
        print(f"data keys: {sum(wrapped_by.values()):,}")
        for row in rows:
            print(f"  master key {row['master_key_id']} ({row['role']}): {row['data_keys']:,}")
        print(f"erased cases (tombstones): {erased:,}")
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
        if pending:
            print(f"{pending:,} data key(s) under a previous master key: run `{ROTATE}`")
        if unreadable:
            print(
                f"{unreadable:,} data key(s) under a master key that is not configured: their "
                f"cases cannot be read with this {MASTER_KEY_VARIABLE}",
                file=sys.stderr,
            )
    return 1 if unreadable else 0


def _rpc(args: argparse.Namespace, call) -> int:
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy({"AMQP_URI": args.amqp_uri}, timeout=30) as cluster:
        print(json.dumps(call(cluster), indent=2, ensure_ascii=False, default=str))
    return 0


def submit(args: argparse.Namespace) -> int:
    with open(args.file, encoding="utf-8") as handle:
        report = json.load(handle)
    return _rpc(args, lambda cluster: cluster.intake.submit_report(report))


def _actor(args: argparse.Namespace) -> str:
    """A short-lived token for the operator, signed with the platform's actor key."""
    key = config.actor_token_key()
    if key is None:
        raise SystemExit(
            f"set {config.ACTOR_TOKEN_KEY_VARIABLE} (or {config.ACTOR_TOKEN_KEY_FILE}) to sign"
        )
    return tokens.issue(Actor(args.actor, args.role, args.platform), key, ttl_seconds=300)


def show_case(args: argparse.Namespace) -> int:
    return _rpc(args, lambda cluster: cluster.cases.get_case(args.case_id, _actor(args)))


def statistics(args: argparse.Namespace) -> int:
    return _rpc(args, lambda cluster: cluster.reporting.get_statistics(_actor(args)))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="allodiscri", description=__doc__)
    root.add_argument("--mongo-uri", default=config.mongo_uri())
    root.add_argument("--db", default=config.mongo_db())
    root.add_argument("--amqp-uri", default=config.amqp_uri())
    commands = root.add_subparsers(dest="command", required=True)

    check = commands.add_parser("verify", help="verify the hash chain, positions and versions")
    check.add_argument("--audit-db", help="database of signed checkpoints (default: <db>_audit)")
    check.add_argument("--sign", action="store_true", help="sign the head when the log is OK")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.add_argument("--quiet", action="store_true", help="no progress display")
    check.set_defaults(run=verify)

    send = commands.add_parser("submit", help="submit a report (JSON file) through intake")
    send.add_argument("file")
    send.set_defaults(run=submit)

    for name, run, help_text in (
        ("case", show_case, "show a case as the cases service answers it"),
        ("stats", statistics, "show the statistics of a platform"),
    ):
        command = commands.add_parser(name, help=help_text)
        if name == "case":
            command.add_argument("case_id")
        command.add_argument("--platform", default="SG")
        command.add_argument("--actor", default="operator")
        command.add_argument("--role", default="cell-manager")
        command.set_defaults(run=run)
    projections = commands.add_parser("projections", help="read models: status, rebuild, diff")
    operations = projections.add_subparsers(dest="operation", required=True)
    status = operations.add_parser("status", help="checkpoints, lag, stuck, quarantined")
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=projection_status)
    for name, run, help_text in (
        ("rebuild", projection_rebuild, "recompute from the log and switch over (blue/green)"),
        ("diff", projection_diff, "compare the live read model with a fresh rebuild"),
    ):
        operation = operations.add_parser(name, help=help_text)
        operation.add_argument("name")
        operation.add_argument("--quiet", action="store_true")
        operation.set_defaults(run=run)

    data_keys = commands.add_parser("keys", help="the cases' data keys: status, rotation")
    key_operations = data_keys.add_subparsers(dest="operation", required=True)
    key_status = key_operations.add_parser(
        "status", help="data keys by master key, erased cases; no secret shown"
    )
    key_status.add_argument("--json", action="store_true")
    key_status.set_defaults(run=keys_status)
    key_rotate = key_operations.add_parser(
        "rotate",
        help=f"re-wrap every data key under {MASTER_KEY_VARIABLE}, the old master keys "
        f"given in {PREVIOUS_MASTER_KEYS_VARIABLE}",
    )
    key_rotate.set_defaults(run=keys_rotate)

    audit = commands.add_parser("audit", help="replay, verify, trail, export")
    tools = audit.add_subparsers(dest="tool", required=True)
    replay = tools.add_parser("replay", help="a case's state and timeline at an instant")
    replay.add_argument("--case", required=True)
    replay.add_argument("--as-of", help="ISO 8601 instant (UTC when no offset)")
    replay.set_defaults(run=audit_replay)
    check = tools.add_parser("verify", help="the integrity check (same as `allodiscri verify`)")
    check.add_argument("--audit-db")
    check.add_argument("--sign", action="store_true")
    check.add_argument("--json", action="store_true")
    check.add_argument("--quiet", action="store_true")
    check.set_defaults(run=verify)
    trail = tools.add_parser("trail", help="everything an actor did and read")
    trail.add_argument("--actor", required=True)
    trail.add_argument("--from", dest="since")
    trail.add_argument("--to", dest="until")
    trail.set_defaults(run=audit_trail)
    export = tools.add_parser("export", help="events as JSON Lines with their hashes")
    export.add_argument("--from", dest="since")
    export.add_argument("--to", dest="until")
    export.set_defaults(run=audit_export)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
