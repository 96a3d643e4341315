#!/usr/bin/env bash
# Runs the platform in the foreground: the MongoDB-wire store when MONGO_URI is not given,
# then the four services. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
STORE_PID=""

stop() {
  if [ -n "$STORE_PID" ]; then kill "$STORE_PID" 2>/dev/null || true; wait "$STORE_PID" 2>/dev/null || true; fi
}
trap stop EXIT

if [ -z "${MONGO_URI:-}" ]; then
  port="${MONGO_PORT:-27017}"
  mkdir -p var
  echo "starting the embedded MongoDB-wire store (nx-27017) on 127.0.0.1:$port, data in var/"
  # In its own session, so Ctrl-C reaches the services first and the store outlives their
  # last writes; the EXIT trap stops it afterwards.
  setsid "$BIN/nx-27017" --data-dir var/mongo --host 127.0.0.1 --port "$port" \
    --log-file var/nx-27017.log --pid-file var/nx-27017.pid >/dev/null 2>&1 &
  STORE_PID=$!
  export MONGO_URI="mongodb://127.0.0.1:$port/"
  "$BIN/python" -m allodiscri.tools.wait_for_mongo "$MONGO_URI"
fi

if [ -z "${ACTOR_TOKEN_KEY:-}" ]; then
  # A development platform signs its own actor tokens; production gets the key from its
  # sign-on service's configuration.
  mkdir -p var
  [ -s var/actor-token.key ] || (umask 077; "$BIN/python" -c "import secrets; print(secrets.token_urlsafe(48))" > var/actor-token.key)
  ACTOR_TOKEN_KEY="$(cat var/actor-token.key)"
  export ACTOR_TOKEN_KEY
fi

if [ -z "${MASTER_KEY:-}" ]; then
  # A development platform keeps its master key in var/; production gets it from its secret
  # store. Losing it makes every case unreadable: back it up apart from the database.
  mkdir -p var
  [ -s var/master.key ] || (umask 077; "$BIN/python" -c "from allodiscri.platform.crypto import MasterKey; print(MasterKey.generate().to_text())" > var/master.key)
  MASTER_KEY="$(cat var/master.key)"
  export MASTER_KEY
fi

cat <<TEXT
Allo Discri is starting (intake, cases, referrals, reporting). In another terminal:
  .venv/bin/allodiscri submit examples/report.json      # the report id and its receipt code
  .venv/bin/allodiscri case <report id>                  # the case opened for it
  .venv/bin/allodiscri stats                             # the statistics of platform SG
  .venv/bin/allodiscri verify                            # the integrity of the event log
Ctrl-C stops the platform.
TEXT

# In the foreground: Ctrl-C reaches nameko, which stops every service gracefully.
"$BIN/nameko" run --config config.yml \
  services.intake.service services.cases.service \
  services.referrals.service services.reporting.service || true
