#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (and a no-op where things already run):
# system packages, RabbitMQ and PostgreSQL started, the virtual environment with the project,
# and the broker users of the gateway and of the simulated customs (docs/security-broker.md).
# Sourced by scripts/test.sh and scripts/demo.sh; needs root (or sudo) only to install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
export AMQP_URL="${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"
# The gateway's and the simulated customs' own broker users (config.yaml's amqp.url and
# amqp.customs_url): change the passwords outside the demo, here and in the config.
export GATEWAY_AMQP_URL="${GATEWAY_AMQP_URL:-amqp://customs-gateway:customs-gateway@127.0.0.1:5672/%2F}"
export CUSTOMS_AMQP_URL="${CUSTOMS_AMQP_URL:-amqp://customs-sim:customs-sim@127.0.0.1:5672/%2F}"
export PG_URL="${PG_URL:-postgresql+psycopg://postgres:postgres@127.0.0.1:5432/test}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian keeps daemons' tools in /usr/sbin, which is not on a normal user's PATH: `command -v`
# alone missed rabbitmq-server and pcscd there, and every run reinstalled them.
have() {  # have TOOL — on PATH or in an sbin directory
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

systemd_running() { [ -d /run/systemd/system ]; }

# True when PORT listens on an address other than loopback (a package's default: all
# interfaces). Without `ss` (iproute2, installed below) nothing can be said: false.
listens_beyond_loopback() {  # listens_beyond_loopback PORT
    have ss || return 1
    ss -Hltn "sport = :$1" 2>/dev/null | awk '{print $4}' \
        | grep -vE '^(127\.[0-9.]+|\[::1\]|::1):' | grep -q .
}

port_open() {  # port_open PORT — no netcat on a minimal Debian, so ask bash itself
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() {  # wait_port PORT SECONDS NAME
    local i
    for ((i = 0; i < $2 * 2; i++)); do port_open "$1" && return 0; sleep 0.5; done
    die "$3 did not open port $1 within $2 s"
}

APT_UPDATED=0
apt_install() {  # apt_install PACKAGE...
    if [ "$APT_UPDATED" = 0 ]; then
        say "apt-get update"
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

ensure_packages() {
    local missing=()
    have rabbitmq-server || missing+=(rabbitmq-server)
    have xmlsec1 || missing+=(xmlsec1)
    have openssl || missing+=(openssl)
    python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
    # IC cards over PC/SC: pcscd, the vpcd virtual reader for the emulated cards, the
    # headers pyscard builds against (no Linux wheel), iproute2 for pcscd's private network
    have pcscd || missing+=(pcscd)
    [ -e /usr/include/PCSC/winscard.h ] || missing+=(libpcsclite-dev)
    [ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || missing+=(vsmartcard-vpcd)
    have ip && have ss || missing+=(iproute2)
    have gcc || missing+=(gcc)
    [ -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] \
        || missing+=(python3-dev)
    # Printed temporary-goods forms (R-TMP-2): a CJK TrueType font embedded in the PDFs,
    # and poppler's pdftotext/pdftoppm that the printing tests read them back with
    [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
    have pdftotext || missing+=(poppler-utils)
    # The ops console's browser tests: Debian's Chromium, driven by Playwright through its
    # executable path (no browser download at test time)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    if ! port_open 5432 && ! have pg_ctlcluster; then
        missing+=(postgresql)
    fi
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

RABBITMQ_CONF=/etc/rabbitmq/rabbitmq.conf

# Loopback only: the broker is for this machine's gateway and tests. A conf that already
# names its listeners is the admin's: kept (and reported below if it is not loopback).
rabbitmq_loopback_conf() {
    if ! as_root grep -qs '^listeners\.tcp' "$RABBITMQ_CONF"; then
        echo "listeners.tcp.default = 127.0.0.1:5672" | as_root tee -a "$RABBITMQ_CONF" >/dev/null
    fi
}

# Without systemd (whose unit raises it), `rabbitmq-server` switches to the rabbitmq user
# through su, whose PAM session sets the open-files limit back to 1,024: too few for the
# quorum queues a test run declares (each keeps files open), and a node out of file handles
# stops answering handshakes. Start the node as its user directly, with the hard limit.
RABBITMQ_NOFILE=65536

start_rabbitmq() {
    if systemd_running; then
        as_root systemctl start rabbitmq-server
    elif have setpriv; then
        as_root sh -c "ulimit -n \$(ulimit -Hn | sed 's/unlimited/$RABBITMQ_NOFILE/') 2>/dev/null
            cd /var/lib/rabbitmq && exec env HOME=/var/lib/rabbitmq ERL_EPMD_ADDRESS=127.0.0.1 \
            setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
            /usr/lib/rabbitmq/bin/rabbitmq-server -detached"
    else
        as_root env ERL_EPMD_ADDRESS=127.0.0.1 rabbitmq-server -detached
    fi
    wait_port 5672 90 RabbitMQ
    as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
}

ensure_rabbitmq() {
    if ! port_open 5672; then
        say "starting RabbitMQ"
        rabbitmq_loopback_conf
        start_rabbitmq
    fi
    # Installed and started by the package (systemd), it listens on every interface.
    if listens_beyond_loopback 5672; then
        say "RabbitMQ listens beyond loopback: restarting it on 127.0.0.1 only"
        rabbitmq_loopback_conf
        if systemd_running; then
            as_root systemctl restart rabbitmq-server
        else
            as_root rabbitmqctl stop >/dev/null
            start_rabbitmq
        fi
        wait_port 5672 90 RabbitMQ
        as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
        ! listens_beyond_loopback 5672 \
            || die "RabbitMQ still listens beyond loopback: see the listeners in $RABBITMQ_CONF"
    fi
}

pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }

postgres_cluster() {  # postgres_cluster start|restart — through systemd where it runs
    local version
    version="$(pg_version)"
    [ -n "$version" ] || die "no PostgreSQL cluster in /etc/postgresql"
    if systemd_running; then
        as_root systemctl "$1" "postgresql@$version-main"
    else
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main "$1"
    fi
    wait_port 5432 60 PostgreSQL
}

as_postgres() { as_root su postgres -c "$1"; }

ensure_postgres() {
    if ! port_open 5432; then
        say "starting PostgreSQL"
        postgres_cluster start
    fi
    # Also when the package installed and started it (systemd): the role's password and the
    # test database the tests use, and loopback-only listening.
    if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d test -tAc 'SELECT 1' >/dev/null 2>&1
    then
        [ -n "$(pg_version)" ] || die "PostgreSQL at 127.0.0.1:5432 refuses postgres/postgres \
on database test, and it is not this machine's cluster: set PG_URL"
        say "PostgreSQL: the postgres role's password and the test database"
        as_postgres "psql -qc \"ALTER ROLE postgres PASSWORD 'postgres'\"" >/dev/null
        as_postgres "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" \
            | grep -q 1 || as_postgres "createdb test"
    fi
    if listens_beyond_loopback 5432; then
        say "PostgreSQL listens beyond loopback: restarting it on 127.0.0.1 only"
        as_postgres "psql -qc \"ALTER SYSTEM SET listen_addresses = '127.0.0.1'\"" >/dev/null
        postgres_cluster restart
    fi
}

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating the virtual environment in $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.installed-$(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        say "installing the gateway and its dependencies"
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]"
        touch "$stamp"
    fi
}

ensure_broker_users() {
    # Idempotent: creates missing users, sets permissions that differ, keeps passwords.
    # Only the customs user may publish receipts, only the gateway declarations; the
    # regexes are in transports/permissions.py (rabbitmqctl add_user / set_permissions).
    say "RabbitMQ users of the gateway and the simulated customs"
    as_root env GATEWAY_AMQP_URL="$GATEWAY_AMQP_URL" CUSTOMS_AMQP_URL="$CUSTOMS_AMQP_URL" \
        "$VENV/bin/python" -m transports.permissions \
        || die "could not set up the RabbitMQ users (rabbitmqctl needs root on this machine)"
}

setup_all() {
    ensure_packages
    ensure_rabbitmq
    ensure_postgres
    ensure_venv
    ensure_broker_users
}
