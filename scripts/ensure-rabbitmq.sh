#!/usr/bin/env bash
# Makes sure a local RabbitMQ with its management API is installed and running.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for_port() {
  for _ in $(seq 1 120); do
    if port_open "$1"; then return 0; fi
    sleep 0.5
  done
  echo "RabbitMQ did not open port $1 in time" >&2
  return 1
}

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -n "${AMQP_URI:-}" ]; then
  echo "AMQP_URI is set: using that broker as it is"
  exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "installing rabbitmq-server"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server
fi

if ! port_open 5672; then
  echo "starting rabbitmq-server"
  as_root rabbitmq-server -detached
fi
wait_for_port 5672

if ! port_open 15672; then
  as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
fi
wait_for_port 15672
