"""Facts about the machine and software a result was measured on, to read the numbers against."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata

from pymongo import MongoClient

PACKAGES = ("pymongo", "nx-27017", "neosqlite")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except FileNotFoundError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except FileNotFoundError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _uname() -> str:
    try:
        return subprocess.run(["uname", "-a"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return " ".join(platform.uname())


def _code_version() -> str:
    """The commit measured, and whether the store itself differed from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "allodiscri/platform/store.py",
                "allodiscri/kernel/hashing.py",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"commit {commit}" + (", store with uncommitted changes" if changed else "")


def machine_facts(client: MongoClient) -> dict[str, str]:
    try:
        server_version = client.server_info().get("version", "unknown")
    except Exception as error:  # a server without buildInfo still gets measured
        server_version = f"unknown ({type(error).__name__})"
    facts = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "uname -a": _uname(),
        "cpu": f"{os.cpu_count()} cores, {_cpu_model()}",
        "memory": _memory_gib(),
        "python": sys.version.split()[0],
        "code measured": _code_version(),
        "sqlite3 library": sqlite3.sqlite_version,
        "server reports version": server_version,
    }
    for package in PACKAGES:
        facts[package] = _version(package)
    return facts
