"""Configuration: one YAML file read into frozen dataclasses.

Relative paths are resolved against the directory of the config file, so the default
`config.yaml` at the repository root keeps its state under `var/` whatever the CWD is.
Environment variables override the two things deployments change most:
`CUSTOMS_GATEWAY_DB_URL` and `CUSTOMS_GATEWAY_AMQP_URL` (plus `CUSTOMS_GATEWAY_CUSTOMS_AMQP_URL`,
the simulated customs' own broker user, `CUSTOMS_GATEWAY_AMQP_PREFIX` and
`CUSTOMS_GATEWAY_HTTP_PORT`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID
from gateway.errors import ConfigError
from transports.permissions import DEMO_CUSTOMS_URL, DEMO_GATEWAY_URL, user_of
from transports.topology import Topology

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


@dataclass(frozen=True)
class KeyConfig:
    backend: str = "file"
    key_file: Path | None = None
    cert_file: Path | None = None
    password_file: Path | None = None
    suite: str = "rsa-sha1"
    #: generate a self-signed test identity when the files are missing (demo and tests only)
    generate: bool = False
    key_type: str = "rsa"
    #: backend "card": the reader and/or the bound card number; PIN inline or in a file
    #: (`cert_file` is then the certificate registered for the card, R-COM-3)
    reader: str | None = None
    card_number: str | None = None
    pin: str | None = field(default=None, repr=False)
    pin_file: Path | None = None
    #: several card numbers: a pool, one worker per card; seconds one signature may take
    cards: tuple[str, ...] = ()
    card_timeout: float = 10.0


@dataclass(frozen=True)
class EmulatedCardConfig:
    """An emulated IC card for the demo (gateway/core/emulated_cards.py): never in production."""

    number: str
    key_file: Path
    cert_file: Path
    pin_file: Path
    delay: float = 0.24


@dataclass(frozen=True)
class EnterpriseConfig:
    code: str
    name: str
    dxp_id: str
    api_keys: tuple[str, ...] = ()
    key: KeyConfig = field(default_factory=KeyConfig)
    webhook: str | None = None
    #: RabbitMQ users that submit for this enterprise on the inbound queue: the broker
    #: validates a message's `user_id` against the connection's user (docs/security-broker.md)
    amqp_users: tuple[str, ...] = ()
    #: party codes this enterprise declares for (R-COM-3 delegations, gateway/core/delegations.py)
    declares_for: tuple[str, ...] = ()


@dataclass(frozen=True)
class AmqpConfig:
    #: the gateway's own broker user (it may not publish receipts)
    url: str = DEMO_GATEWAY_URL
    prefix: str = ""
    delivery_limit: int = 5
    queue_type: str = "quorum"
    #: messages an enterprise's notify queue keeps unread; past it the oldest are moved to
    #: its `.dead` queue (bounded alike): docs/operations.md, "Limits"
    notify_max_length: int = 10_000
    #: the simulated customs' own broker user (the only one that may publish receipts)
    customs_url: str = DEMO_CUSTOMS_URL
    #: broker users whose receipts are customs' (the `user_id` the broker validated);
    #: empty in the file: the user of `customs_url`
    customs_users: tuple[str, ...] = ()
    #: DxpMsg SenderIds customs' receipts and reference data come from
    customs_sender_ids: tuple[str, ...] = (EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID)
    #: seconds a receipt's returnTime may lie ahead of the gateway's clock; one further ahead
    #: is kept for ops (outcome `future`), not applied
    max_clock_skew: float = 300.0

    @property
    def user(self) -> str:
        """The broker user the gateway connects as (what its messages carry as `user_id`)."""
        return user_of(self.url)


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 10 * 1024 * 1024
    #: slow clients: seconds to send a request's headers, its body, and idle keep-alive
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    keep_alive_seconds: float = 5.0


@dataclass(frozen=True)
class AuthConfig:
    """`auth:` — failed authentications (missing, unknown, revoked or expired API keys) one
    client address may make within `failure_window` seconds before it is answered 429 with
    Retry-After (gateway/core/keys.py, FailureThrottle)."""

    failure_limit: int = 10
    failure_window: float = 60.0


@dataclass(frozen=True)
class DatabaseConfig:
    """The connection pool (`database:` section; the URL stays `Config.database_url`).

    HTTP requests and the workers share it; a request holds a connection only while its own
    queries run, so a small pool serves many clients (docs/http-pool.md)."""

    #: connections kept open, and extra ones opened under load and closed when returned
    pool_size: int = 20
    max_overflow: int = 0
    #: seconds a request waits for a free connection before it is refused (503, Retry-After)
    pool_timeout: float = 5.0


@dataclass(frozen=True)
class IntakeConfig:
    folder: Path | None = None
    #: a folder file is taken once unchanged (size, mtime) for this long on the gateway's
    #: clock; it must exceed the longest pause of a writer (docs/folder-channel.md)
    settle_seconds: float = 10.0
    poll_seconds: float = 0.5
    max_bytes: int = 10 * 1024 * 1024
    #: parcels per arrival/departure/total-sub waybill message when the gateway splits a
    #: batch (R-ECX-3); the standard sets no limit, see `gateway.parcels.DEFAULT_PER_MESSAGE`
    parcels_per_message: int = 1000


@dataclass(frozen=True)
class SimConfig:
    database_url: str = "sqlite:///var/customs-sim.db"
    #: seconds before the e-port's "declaring" receipt, and before customs' result
    declaring_delay: float = 0.2
    result_delay: float = 1.0
    #: share of well-formed declarations customs returns (100) or fails on format (CEB900)
    return_rate: float = 0.0
    format_failure_rate: float = 0.0
    seed: int = 0
    #: seconds customs waits for a missing order, payment or waybill before returning an
    #: inventory list of the four-document comparison (R-ECX-2)
    missing_document_wait: float = 2.0
    #: share of stored inventory lists and return applications customs routes to manual
    #: review (300) or to inspection (500) before concluding them (399), R-ECX-5
    review_rate: float = 0.05
    inspection_rate: float = 0.05


@dataclass(frozen=True)
class SummaryConfig:
    """Summary declarations (汇总申报, R-ECX-8; gateway/ecx/summary). Beijing time throughout."""

    #: run the job in `serve` (APScheduler, persistent job store, database lease)
    enabled: bool = True
    #: "monthly" (customs announcement 2018 No.194: lists closed in a month) or "weekly"
    cycle: str = "monthly"
    #: due by this day of the month after the cycle, rolled to the next working day
    due_day: int = 15
    #: when the job runs: day of the month (monthly) or ISO weekday 1-7 (weekly), and time
    run_day: int = 1
    run_time: str = "02:00"
    #: a run missed while every gateway was down still runs when one starts within this
    misfire_grace_days: int = 14
    #: older cycles with lists still not summarised (a return, a failed run) are declared by
    #: the scheduled run too, this many cycles back
    catch_up_cycles: int = 12
    #: inventory lists per SummaryApply record, records per CEB701 message (≤ 100, the XSD)
    max_lists_per_apply: int = 1000
    applies_per_message: int = 10
    #: SummaryApplyHead codes: 1 by consignor, 2 by consignor + producer (our groups carry
    #: the producer, so 2); itemNameFlag as agreed with customs
    summary_flag: str = "2"
    item_name_flag: str = "0"
    #: public holidays and worked weekend days (调休), for rolling the due date
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Config:
    database_url: str
    amqp: AmqpConfig
    http: HttpConfig
    intake: IntakeConfig
    sim: SimConfig
    enterprises: tuple[EnterpriseConfig, ...]
    default_enterprise: str | None
    state_dir: Path
    admin_api_keys: tuple[str, ...] = ()
    sign_algorithms: dict[str, dict[str, str]] = field(default_factory=dict)
    #: demo only: IC cards emulated in a private pcscd (needs root), slot by slot
    emulated_cards: tuple[EmulatedCardConfig, ...] = ()
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    #: business systems to install beside the shipped ones (gateway.core.registry), by module
    systems: tuple[str, ...] = ()
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)

    def __post_init__(self) -> None:
        _check_broker_users(self)

    def enterprise(self, code: str | None = None) -> EnterpriseConfig:
        wanted = code or self.default_enterprise
        for ent in self.enterprises:
            if ent.code == wanted:
                return ent
        raise ConfigError(f"no enterprise {wanted!r} in the configuration")

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **changes)


def _check_broker_users(config: Config) -> None:
    """A broker user submits for one enterprise, and is neither the gateway nor customs:
    who publishes is who the broker says (docs/security-broker.md)."""
    owner: dict[str, str] = {}
    reserved = {config.amqp.user, *config.amqp.customs_users}
    for ent in config.enterprises:
        for user in ent.amqp_users:
            if user in reserved:
                raise ConfigError(
                    f"enterprise {ent.code}: amqp_users names {user!r}, the gateway's or "
                    "customs' own broker user; give the enterprise a user of its own"
                )
            if owner.setdefault(user, ent.code) != ent.code:
                raise ConfigError(
                    f"broker user {user!r} is in amqp_users of {owner[user]} and {ent.code}: "
                    "one user submits for one enterprise"
                )


def _path(base: Path, value: Any) -> Path | None:
    if value in (None, ""):
        return None
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def _sqlite_relative(base: Path, url: str) -> str:
    # sqlite:///relative.db is relative to the config file, like every other path here.
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str((base / url[len(prefix) :]).resolve())
    return url


def _key(base: Path, raw: dict[str, Any]) -> KeyConfig:
    return KeyConfig(
        backend=str(raw.get("backend", "file")),
        key_file=_path(base, raw.get("key_file")),
        cert_file=_path(base, raw.get("cert_file")),
        password_file=_path(base, raw.get("password_file")),
        suite=str(raw.get("suite", "rsa-sha1")),
        generate=bool(raw.get("generate", False)),
        key_type=str(raw.get("key_type", "rsa")),
        reader=raw.get("reader"),
        card_number=str(raw["card_number"]) if raw.get("card_number") else None,
        pin=str(raw["pin"]) if raw.get("pin") is not None else None,
        pin_file=_path(base, raw.get("pin_file")),
        cards=tuple(str(c) for c in raw.get("cards") or ()),
        card_timeout=float(raw.get("card_timeout", 10.0)),
    )


def _emulated_card(base: Path, raw: dict[str, Any]) -> EmulatedCardConfig:
    try:
        return EmulatedCardConfig(
            number=str(raw["number"]),
            key_file=_path(base, raw["key_file"]) or base,
            cert_file=_path(base, raw["cert_file"]) or base,
            pin_file=_path(base, raw["pin_file"]) or base,
            delay=float(raw.get("delay", 0.24)),
        )
    except KeyError as exc:
        raise ConfigError(f"emulated card entry is missing {exc.args[0]!r}") from exc


def _enterprise(base: Path, raw: dict[str, Any]) -> EnterpriseConfig:
    try:
        return EnterpriseConfig(
            code=str(raw["code"]),
            name=str(raw["name"]),
            dxp_id=str(raw["dxp_id"]),
            api_keys=_api_keys(base, raw, "api_keys"),
            key=_key(base, raw.get("key") or {}),
            webhook=raw.get("webhook"),
            amqp_users=tuple(str(u) for u in raw.get("amqp_users") or ()),
            declares_for=tuple(str(c) for c in raw.get("declares_for") or ()),
        )
    except KeyError as exc:
        raise ConfigError(f"enterprise entry is missing {exc.args[0]!r}") from exc


def _api_keys(base: Path, raw: dict[str, Any], name: str) -> tuple[str, ...]:
    """Keys for automation (issue 11, finding 5): from a private file named by `<name>_file`,
    one a line, never written in the YAML itself (gateway/core/keys.py)."""
    if raw.get(name):
        raise ConfigError(
            f"{name}: API keys are not accepted in the configuration itself; list them in a "
            f"file named by {name}_file (mode 0600) or issue them with `customs-gateway keys "
            "create` (docs/security-keys.md)"
        )
    path = _path(base, raw.get(f"{name}_file"))
    if path is None:
        return ()
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{name}_file {path} is readable by others: chmod 600 it")
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {name}_file {path}: {exc.strerror}") from exc
    return tuple(k for k in (ln.strip() for ln in lines) if k and not k.startswith("#"))


def _auth(raw: dict[str, Any]) -> AuthConfig:
    made = AuthConfig(
        failure_limit=int(raw.get("failure_limit", AuthConfig.failure_limit)),
        failure_window=float(raw.get("failure_window", AuthConfig.failure_window)),
    )
    if made.failure_limit < 1 or made.failure_window <= 0:
        raise ConfigError("auth: failure_limit ≥ 1, failure_window > 0 seconds")
    return made


def _section(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"config section {name!r} must be a mapping")
    return value


def _http(raw: dict[str, Any]) -> HttpConfig:
    # Several processes on one machine share a config file but not a port.
    port = os.environ.get("CUSTOMS_GATEWAY_HTTP_PORT")
    return HttpConfig(**{**raw, **({"port": int(port)} if port else {})})


def _database(raw: dict[str, Any]) -> DatabaseConfig:
    made = DatabaseConfig(
        pool_size=int(raw.get("pool_size", DatabaseConfig.pool_size)),
        max_overflow=int(raw.get("max_overflow", DatabaseConfig.max_overflow)),
        pool_timeout=float(raw.get("pool_timeout", DatabaseConfig.pool_timeout)),
    )
    if made.pool_size < 1 or made.max_overflow < 0 or made.pool_timeout <= 0:
        raise ConfigError("database: pool_size ≥ 1, max_overflow ≥ 0, pool_timeout > 0 seconds")
    return made


def _amqp(raw: dict[str, Any]) -> AmqpConfig:
    customs_url = os.environ.get("CUSTOMS_GATEWAY_CUSTOMS_AMQP_URL") or raw.get(
        "customs_url", AmqpConfig.customs_url
    )
    made = AmqpConfig(
        url=os.environ.get("CUSTOMS_GATEWAY_AMQP_URL") or raw.get("url", AmqpConfig.url),
        prefix=os.environ.get("CUSTOMS_GATEWAY_AMQP_PREFIX", raw.get("prefix", "")),
        delivery_limit=int(raw.get("delivery_limit", 5)),
        queue_type=str(raw.get("queue_type", "quorum")),
        notify_max_length=int(raw.get("notify_max_length", AmqpConfig.notify_max_length)),
        customs_url=str(customs_url),
        customs_users=tuple(str(u) for u in raw.get("customs_users") or (user_of(customs_url),)),
        customs_sender_ids=tuple(
            str(s) for s in raw.get("customs_sender_ids") or AmqpConfig.customs_sender_ids
        ),
        max_clock_skew=float(raw.get("max_clock_skew", AmqpConfig.max_clock_skew)),
    )
    if made.user in made.customs_users:
        # Receipts are trusted by the broker user that published them: one user for both
        # sides would let the gateway's own credentials forge customs' answers.
        raise ConfigError(
            f"amqp.url and amqp.customs_users name the same broker user {made.user!r}: "
            "the gateway and customs need users of their own (docs/security-broker.md)"
        )
    if made.max_clock_skew < 0:
        raise ConfigError("amqp.max_clock_skew: seconds, 0 or more")
    return made


def _sim(base: Path, raw: dict[str, Any]) -> SimConfig:
    url = _sqlite_relative(base, str(raw.get("database_url", SimConfig.database_url)))
    known = {k: raw[k] for k in SimConfig.__dataclass_fields__ if k in raw}
    known["database_url"] = url
    return SimConfig(**known)


def _days(raw: Any, name: str) -> frozenset[date]:
    """Dates as YAML dates or text, and ranges "2026-02-15..2026-02-23" (both ends in)."""
    days: set[date] = set()
    for item in raw or ():
        first, _, last = str(item).partition("..")
        try:
            start = date.fromisoformat(first.strip())
            end = date.fromisoformat((last or first).strip())
        except ValueError as exc:
            raise ConfigError(f"summary.{name}: {item!r} is not a date or a range") from exc
        days.update(start + timedelta(days=n) for n in range((end - start).days + 1))
    return frozenset(days)


def _summary(raw: dict[str, Any]) -> SummaryConfig:
    plain = {k: raw[k] for k in SummaryConfig.__dataclass_fields__ if k in raw}
    plain["holidays"] = _days(raw.get("holidays"), "holidays")
    plain["working_weekends"] = _days(raw.get("working_weekends"), "working_weekends")
    made = SummaryConfig(**plain)
    if made.cycle not in ("monthly", "weekly"):
        raise ConfigError(f"summary.cycle must be monthly or weekly, not {made.cycle!r}")
    if not 1 <= made.applies_per_message <= 100 or made.max_lists_per_apply < 1:
        raise ConfigError("summary: applies_per_message is 1..100 (XSD), max_lists_per_apply ≥ 1")
    return made


def from_dict(raw: dict[str, Any], base: Path) -> Config:
    amqp = _section(raw, "amqp")
    intake = _section(raw, "intake")
    db_url = os.environ.get("CUSTOMS_GATEWAY_DB_URL") or _section(raw, "database").get(
        "url", "sqlite:///var/gateway.db"
    )
    return Config(
        database_url=_sqlite_relative(base, str(db_url)),
        amqp=_amqp(amqp),
        http=_http(_section(raw, "http")),
        intake=IntakeConfig(
            folder=_path(base, intake.get("folder")),
            settle_seconds=float(intake.get("settle_seconds", IntakeConfig.settle_seconds)),
            poll_seconds=float(intake.get("poll_seconds", 0.5)),
            max_bytes=int(intake.get("max_bytes", IntakeConfig.max_bytes)),
            parcels_per_message=int(
                intake.get("parcels_per_message", IntakeConfig.parcels_per_message)
            ),
        ),
        sim=_sim(base, _section(raw, "customs_sim")),
        enterprises=tuple(_enterprise(base, e) for e in raw.get("enterprises") or ()),
        default_enterprise=raw.get("default_enterprise"),
        state_dir=_path(base, raw.get("state_dir", "var")) or base / "var",
        admin_api_keys=_api_keys(base, raw, "admin_api_keys"),
        sign_algorithms=dict(raw.get("sign_algorithms") or {}),
        emulated_cards=tuple(_emulated_card(base, c) for c in raw.get("emulated_cards") or ()),
        summary=_summary(_section(raw, "summary")),
        systems=tuple(str(name) for name in raw.get("systems") or ()),
        database=_database(_section(raw, "database")),
        auth=_auth(_section(raw, "auth")),
    )


def load(path: str | Path | None = None) -> Config:
    chosen = Path(path or os.environ.get("CUSTOMS_GATEWAY_CONFIG") or DEFAULT_CONFIG)
    try:
        raw = yaml.safe_load(chosen.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {chosen}: {exc.strerror}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {chosen} must hold a mapping")
    return from_dict(raw, chosen.resolve().parent)


def topology_for(config: Config) -> Topology:
    """The broker names and queue settings this configuration declares and uses."""
    amqp = config.amqp
    return Topology(
        prefix=amqp.prefix,
        delivery_limit=amqp.delivery_limit,
        queue_type=amqp.queue_type,
        notify_max_length=amqp.notify_max_length,
    )
