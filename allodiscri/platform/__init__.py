"""Adapters over MongoDB and RabbitMQ that every service uses; they name no service."""
