"""Pure types and rules shared by every service: importable without nameko, eventlet, kombu
or pymongo, and naming no service."""
