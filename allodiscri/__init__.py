"""Shared kernel of the Allo Discri platform: event store, contracts, subscriptions, integrity."""
