#!/usr/bin/env bash
# PostgreSQL for the store tests against a real database (tests/pgserver.py, issue 15).
# The tests start their own throwaway server (initdb + pg_ctl in a temporary directory,
# unix socket only) with the system's server binaries; this script only makes sure that
# those binaries, and the `postgres` system user that runs them when the tests run as
# root (`runuser -u postgres`: root cannot run PostgreSQL), are there.
# Does nothing when initdb and pg_ctl are found (Debian: /usr/lib/postgresql/<ver>/bin,
# or $RISKENGINE_PG_BIN, or PATH); otherwise installs Debian's `postgresql` with apt-get
# (needs root, as on the project's machines and CI). No server is left running by it.
set -euo pipefail

find_bindir() {
    local d
    for d in "${RISKENGINE_PG_BIN:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r) \
             "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"; do
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}

server_user_ok() {
    [ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1
}

if bin=$(find_bindir) && server_user_ok; then
    echo "install_postgres: $("$bin/initdb" --version) already installed ($bin)"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_postgres: no PostgreSQL server binaries and no apt-get; install a" \
         "PostgreSQL server by hand and set RISKENGINE_PG_BIN to its bin directory" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# the distribution's default major version; its postinst creates the `postgres` user
$SUDO apt-get install -y -qq --no-install-recommends postgresql
bin=$(find_bindir) || { echo "install_postgres: postgresql installed but initdb not found" >&2; exit 1; }
echo "install_postgres: installed $("$bin/initdb" --version) ($bin)"
