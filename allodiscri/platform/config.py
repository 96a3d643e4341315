"""Settings from the environment; nothing secret ever has a default here."""

from __future__ import annotations

import os

DEFAULT_MONGO_URI = "mongodb://127.0.0.1:27017/"
DEFAULT_MONGO_DB = "allodiscri"
DEFAULT_AMQP_URI = "pyamqp://guest:guest@127.0.0.1:5672/"
CHECKPOINT_KEY_VARIABLE = "ALLODISCRI_CHECKPOINT_KEY"


def mongo_uri() -> str:
    return os.environ.get("MONGO_URI", DEFAULT_MONGO_URI)


def mongo_db() -> str:
    return os.environ.get("MONGO_DB", DEFAULT_MONGO_DB)


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def checkpoint_key() -> bytes | None:
    value = os.environ.get(CHECKPOINT_KEY_VARIABLE)
    return value.encode("utf-8") if value else None


ACTOR_TOKEN_KEY_VARIABLE = "ACTOR_TOKEN_KEY"
ACTOR_TOKEN_KEY_FILE = "var/actor-token.key"


def actor_token_key() -> bytes | None:
    """From the environment, or the file `make run` writes for a development platform."""
    value = os.environ.get(ACTOR_TOKEN_KEY_VARIABLE)
    if value:
        return value.encode("utf-8")
    if os.path.exists(ACTOR_TOKEN_KEY_FILE):
        with open(ACTOR_TOKEN_KEY_FILE, encoding="utf-8") as handle:
            return handle.read().strip().encode("utf-8")
    return None
