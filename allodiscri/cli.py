"""The `allodiscri` command: integrity checks for auditors, and a few calls for operators."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from allodiscri import config
from allodiscri.integrity import CheckpointArchive, sign_head, verify_log
from allodiscri.mongo import connect
from allodiscri.store import EVENTS_COLLECTION

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


def _rpc(args: argparse.Namespace, call) -> int:
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy({"AMQP_URI": args.amqp_uri}, timeout=30) as cluster:
        print(json.dumps(call(cluster), indent=2, ensure_ascii=False, default=str))
    return 0


def submit(args: argparse.Namespace) -> int:
    with open(args.file, encoding="utf-8") as handle:
        report = json.load(handle)
    return _rpc(args, lambda cluster: cluster.intake.submit_report(report))


def _actor(args: argparse.Namespace) -> dict[str, str]:
    return {"id": args.actor, "role": args.role, "platform": args.platform}


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
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
