"""Who may do what on the broker: the RabbitMQ users of a deployment and their permissions.

Three kinds of broker user, each with its own password and permissions (regular expressions
on the names of `transports.topology`, for any deployment prefix):

    gateway    declares the whole topology; publishes declarations (ceb.outbound), status
               notifications (gateway.notify) and answers (default exchange, to the
               enterprises' reply queues); consumes receipts and the inbound queue.
               It may NOT publish to ceb.receipts nor to gateway.intake.
    customs    (the simulated customs) consumes customs.inbound and publishes receipts to
               ceb.receipts; configures nothing.
    enterprise one per enterprise that submits over AMQP: publishes to gateway.intake only,
               reads its own reply.<code> and notify.<code> queues; configures nothing.

Permissions stop a user from publishing where it must not; the `user_id` property, which the
broker checks against the connection's user (a mismatch closes the channel with 406
PRECONDITION_FAILED), tells the receiver who published. Neither is enough alone: the gateway
user needs the default exchange for its answers, and the default exchange reaches every
queue, so the receiving side also checks `user_id` (gateway/core/runtime.py). Never give any
of these users the `impersonator` tag: it lifts the `user_id` check.

`apply` sets users and permissions with `rabbitmqctl` (idempotent; needs the node's Erlang
cookie, i.e. root on the broker's machine). `python -m transports.permissions` is what
scripts/setup.sh runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from gateway.errors import InvalidInput

#: any deployment prefix (Topology allows letters, digits, . _ -)
_P = r"[A-Za-z0-9_.\-]*"
#: an enterprise code as Topology allows it in names (no dot: the code is the last segment)
_CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
#: the names `rabbitmqctl set_permissions` takes for "nothing"
NOTHING = "^$"
DEFAULT_EXCHANGE = "amq.default"

_GATEWAY_QUEUES = (
    r"customs\.inbound|gateway\.receipts|gateway\.inbound"
    r"|notify\.[A-Za-z0-9_\-]+|reply\.[A-Za-z0-9_\-]+"
)
#: the gateway's own exchanges and queues: written by it (queues: for their bindings)
_GATEWAY_WRITES = r"ceb\.outbound|gateway\.notify|dlx|" + _GATEWAY_QUEUES
RECEIPTS = r"ceb\.receipts"
CUSTOMS_INBOUND = r"customs\.inbound"
INTAKE = r"gateway\.intake"


@dataclass(frozen=True)
class Grant:
    """One broker user and its three permission patterns on the virtual host."""

    user: str
    password: str = field(repr=False)
    configure: str
    write: str
    read: str


def _names(alternatives: str, dead: bool = True) -> str:
    suffix = r"(\.dead)?" if dead else ""
    return f"{_P}({alternatives}){suffix}"


def gateway_grant(user: str, password: str) -> Grant:
    everything = r"ceb\.receipts|gateway\.intake|" + _GATEWAY_WRITES
    return Grant(
        user,
        password,
        configure=f"^{_names(everything)}$",
        # Queues need write for their bindings, dlx for dead-lettering arguments; the default
        # exchange carries answers. Not ceb.receipts, not gateway.intake.
        write=f"^({_names(_GATEWAY_WRITES)}|{re.escape(DEFAULT_EXCHANGE)})$",
        read=f"^{_names(everything)}$",
    )


def customs_grant(user: str, password: str) -> Grant:
    return Grant(
        user,
        password,
        configure=NOTHING,
        write=f"^{_names(RECEIPTS, dead=False)}$",
        read=f"^{_names(CUSTOMS_INBOUND, dead=False)}$",
    )


def enterprise_grant(user: str, password: str, code: str) -> Grant:
    if not _CODE.fullmatch(code):
        raise InvalidInput(f"enterprise code {code!r}: 1-64 letters, digits, _ or -")
    own = rf"(reply|notify)\.{re.escape(code)}"
    return Grant(
        user,
        password,
        configure=NOTHING,
        write=f"^{_names(INTAKE, dead=False)}$",
        read=f"^{_P}{own}$",
    )


def user_of(url: str) -> str:
    """The broker user an amqp:// URL logs in as (guest when it names none, as pika does)."""
    return unquote(urlsplit(url).username or "guest")


def password_of(url: str) -> str:
    return unquote(urlsplit(url).password or "guest")


# --- applying with rabbitmqctl ---------------------------------------------------------------


@dataclass(frozen=True)
class Ctl:
    """How to run rabbitmqctl: the command (e.g. with `-n node`) and its environment (a
    throwaway node's HOME holds its Erlang cookie)."""

    command: tuple[str, ...] = ("rabbitmqctl",)
    env: Mapping[str, str] | None = None

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            env=dict(self.env) if self.env is not None else None,
        )


def existing_users(ctl: Ctl = Ctl()) -> set[str]:
    out = ctl.run("list_users", "-q", "--no-table-headers").stdout
    return {line.split("\t")[0] for line in out.splitlines() if line.strip()}


def existing_permissions(vhost: str = "/", ctl: Ctl = Ctl()) -> dict[str, tuple[str, str, str]]:
    out = ctl.run("list_permissions", "-q", "--no-table-headers", "-p", vhost).stdout
    found: dict[str, tuple[str, str, str]] = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            found[parts[0]] = (parts[1], parts[2], parts[3])
    return found


def apply(grants: Sequence[Grant], vhost: str = "/", ctl: Ctl = Ctl()) -> list[str]:
    """Create missing users and set permissions that differ; what was changed, by user.

    An existing user keeps its password: set it once (or with `rabbitmqctl
    change_password`), so re-running set-up never breaks a running deployment."""
    users, perms = existing_users(ctl), existing_permissions(vhost, ctl)
    changed = []
    for grant in grants:
        if grant.user not in users:
            # The password goes on stdin: never on a command line others can read (ps).
            ctl.run("add_user", grant.user, stdin=grant.password)
            changed.append(f"{grant.user}: created")
        wanted = (grant.configure, grant.write, grant.read)
        if perms.get(grant.user) != wanted:
            ctl.run("set_permissions", "-p", vhost, grant.user, *wanted)
            changed.append(f"{grant.user}: permissions set")
    return changed


def _main(argv: Sequence[str]) -> int:
    """Set up the gateway's and the simulated customs' users from the URLs in the
    environment (GATEWAY_AMQP_URL, CUSTOMS_AMQP_URL), as scripts/setup.sh does."""
    del argv
    gateway_url = os.environ.get("GATEWAY_AMQP_URL", DEMO_GATEWAY_URL)
    customs_url = os.environ.get("CUSTOMS_AMQP_URL", DEMO_CUSTOMS_URL)
    grants = [
        gateway_grant(user_of(gateway_url), password_of(gateway_url)),
        customs_grant(user_of(customs_url), password_of(customs_url)),
    ]
    for line in apply(grants) or ["broker users already in place"]:
        print(line)
    return 0


#: the demo's broker users (config.yaml); change both passwords outside the demo
DEMO_GATEWAY_URL = "amqp://customs-gateway:customs-gateway@127.0.0.1:5672/%2F"
DEMO_CUSTOMS_URL = "amqp://customs-sim:customs-sim@127.0.0.1:5672/%2F"


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
