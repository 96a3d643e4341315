"""Waits until a MongoDB-wire server answers a ping (used when starting the platform)."""

from __future__ import annotations

import sys

from allodiscri.platform.mongo import connect


def main(uri: str, timeout_ms: int = 30_000) -> int:
    client = connect(uri, serverSelectionTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
