"""One way to open MongoDB, so every process reads times as aware UTC datetimes."""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.database import Database


def connect(uri: str, **options) -> MongoClient:
    options.setdefault("tz_aware", True)
    options.setdefault("serverSelectionTimeoutMS", 10_000)
    return MongoClient(uri, **options)


def database(client: MongoClient, name: str) -> Database:
    return client.get_database(name)
