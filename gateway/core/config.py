"""Configuration: one YAML file, validated (gateway/core/settings.py), read into frozen
dataclasses.

The file is checked against a strict schema with pydantic-settings: an unknown key or a
value of the wrong type stops the start with one line per problem, naming the key's dotted
path and what it expects (docs/configuration.md). `GATEWAY__<SECTION>__<KEY>` environment
variables override the file (`GATEWAY__AMQP__URL`). Relative paths are resolved against the
directory of the config file, so the default `config.yaml` at the repository root keeps its
state under `var/` whatever the CWD is. The older variables still override the things
deployments change most: `CUSTOMS_GATEWAY_DB_URL` and `CUSTOMS_GATEWAY_AMQP_URL` (plus
`CUSTOMS_GATEWAY_CUSTOMS_AMQP_URL`, the simulated customs' own broker user,
`CUSTOMS_GATEWAY_AMQP_PREFIX` and `CUSTOMS_GATEWAY_HTTP_PORT`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import click
import yaml
from pydantic import SecretStr

from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID
from gateway.core import settings
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
    #: the HMAC key signing its webhook posts (docs/webhooks.md); never logged nor shown
    webhook_secret: str | None = field(default=None, repr=False)
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
    Retry-After (gateway/core/keys.py, FailureThrottle). A key found active is trusted by a
    process for `cache_seconds` (gateway/core/key_cache.py; 0: looked up on every request)."""

    failure_limit: int = 10
    failure_window: float = 60.0
    cache_seconds: float = 5.0


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
class WebhooksConfig:
    """`webhooks:` — delivery of the enterprises' (and the ops) webhooks (docs/webhooks.md)."""

    timeout_seconds: float = 10.0
    #: tries before a delivery is dead (listed and replayed by ops)
    max_attempts: int = 12
    #: back-off before try n+1: backoff_seconds·2^(n−1), at most backoff_max_seconds, jittered
    backoff_seconds: float = 10.0
    backoff_max_seconds: float = 3600.0
    poll_seconds: float = 1.0
    claim_seconds: float = 120.0
    batch: int = 50
    concurrency: int = 4


@dataclass(frozen=True)
class AlertsConfig:
    """`alerts:` — what ops are warned of (docs/alerts.md)."""

    enabled: bool = True
    interval_seconds: float = 60.0
    #: certificates and IC cards expiring within this many days
    expiry_days: int = 30
    #: declarations sent, and no receipt from customs for this long
    customs_silent_minutes: float = 30.0
    #: job name → minutes without a round before it is overdue
    job_overdue_minutes: dict[str, float] = field(default_factory=dict)
    webhook: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)


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
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)

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


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _key(base: Path, raw: settings.KeySettings) -> KeyConfig:
    return KeyConfig(
        backend=raw.backend,
        key_file=_path(base, raw.key_file),
        cert_file=_path(base, raw.cert_file),
        password_file=_path(base, raw.password_file),
        suite=raw.suite,
        generate=raw.generate,
        key_type=raw.key_type,
        reader=raw.reader,
        card_number=raw.card_number or None,
        pin=_secret(raw.pin),
        pin_file=_path(base, raw.pin_file),
        cards=tuple(raw.cards),
        card_timeout=raw.card_timeout,
    )


def _emulated_card(base: Path, raw: settings.EmulatedCardSettings) -> EmulatedCardConfig:
    return EmulatedCardConfig(
        number=raw.number,
        key_file=_path(base, raw.key_file) or base,
        cert_file=_path(base, raw.cert_file) or base,
        pin_file=_path(base, raw.pin_file) or base,
        delay=raw.delay,
    )


def _enterprise(base: Path, i: int, raw: settings.EnterpriseSettings) -> EnterpriseConfig:
    where = f"enterprises[{i}]"
    return EnterpriseConfig(
        code=raw.code,
        name=raw.name,
        dxp_id=raw.dxp_id,
        api_keys=_api_keys(base, raw.api_keys, raw.api_keys_file, "api_keys"),
        key=_key(base, raw.key),
        webhook=raw.webhook,
        webhook_secret=_webhook_secret(base, raw.webhook, raw, where),
        amqp_users=tuple(raw.amqp_users),
        declares_for=tuple(raw.declares_for),
    )


def _webhook_secret(base: Path, url: str | None, raw: Any, where: str) -> str | None:
    """The HMAC key of a webhook: inline (`webhook_secret`, e.g. from the environment) or in
    a private file (`webhook_secret_file`, mode 0600). A webhook without one is refused: an
    unsigned post could be forged by anyone who learns the URL."""
    if raw.webhook_secret is not None and raw.webhook_secret_file:
        raise ConfigError(f"{where}: give webhook_secret or webhook_secret_file, not both")
    secret = _secret(raw.webhook_secret)
    path = _path(base, raw.webhook_secret_file)
    if path is not None:
        secret = _private_text(path, f"{where}.webhook_secret_file").strip()
    if url and not secret:
        raise ConfigError(
            f"{where}.webhook: needs webhook_secret_file (a private file holding the HMAC "
            "key that signs the posts) or webhook_secret (docs/webhooks.md)"
        )
    if secret is not None and len(secret) < 16:
        raise ConfigError(f"{where}.webhook_secret: at least 16 characters")
    return secret or None


def _private_text(path: Path, name: str) -> str:
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(f"{name} {path} is readable by others: chmod 600 it")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {name} {path}: {exc.strerror}") from exc


def _api_keys(base: Path, inline: list[str] | None, file: str | None, name: str) -> tuple[str, ...]:
    """Keys for automation (issue 11, finding 5): from a private file named by `<name>_file`,
    one a line, never written in the YAML itself (gateway/core/keys.py)."""
    if inline:
        raise ConfigError(
            f"{name}: API keys are not accepted in the configuration itself; list them in a "
            f"file named by {name}_file (mode 0600) or issue them with `customs-gateway keys "
            "create` (docs/security-keys.md)"
        )
    path = _path(base, file)
    if path is None:
        return ()
    lines = _private_text(path, f"{name}_file").splitlines()
    return tuple(k for k in (ln.strip() for ln in lines) if k and not k.startswith("#"))


def _auth(raw: settings.AuthSettings) -> AuthConfig:
    return AuthConfig(
        failure_limit=raw.failure_limit,
        failure_window=raw.failure_window,
        cache_seconds=raw.cache_seconds,
    )


def _http(raw: settings.HttpSettings) -> HttpConfig:
    # Several processes on one machine share a config file but not a port.
    port = os.environ.get("CUSTOMS_GATEWAY_HTTP_PORT")
    made = HttpConfig(**{**raw.model_dump(), "max_body_bytes": int(raw.max_body_bytes)})
    return replace(made, port=int(port)) if port else made


def _database(raw: settings.DatabaseSettings) -> DatabaseConfig:
    return DatabaseConfig(
        pool_size=raw.pool_size, max_overflow=raw.max_overflow, pool_timeout=raw.pool_timeout
    )


def _amqp(raw: settings.AmqpSettings) -> AmqpConfig:
    customs_url = os.environ.get("CUSTOMS_GATEWAY_CUSTOMS_AMQP_URL") or raw.customs_url
    made = AmqpConfig(
        url=os.environ.get("CUSTOMS_GATEWAY_AMQP_URL") or raw.url,
        prefix=os.environ.get("CUSTOMS_GATEWAY_AMQP_PREFIX", raw.prefix),
        delivery_limit=raw.delivery_limit,
        queue_type=raw.queue_type,
        notify_max_length=raw.notify_max_length,
        customs_url=customs_url,
        customs_users=tuple(raw.customs_users or (user_of(customs_url),)),
        customs_sender_ids=tuple(raw.customs_sender_ids or AmqpConfig.customs_sender_ids),
        max_clock_skew=raw.max_clock_skew,
    )
    if made.user in made.customs_users:
        # Receipts are trusted by the broker user that published them: one user for both
        # sides would let the gateway's own credentials forge customs' answers.
        raise ConfigError(
            f"amqp.url and amqp.customs_users name the same broker user {made.user!r}: "
            "the gateway and customs need users of their own (docs/security-broker.md)"
        )
    return made


def _intake(base: Path, raw: settings.IntakeSettings) -> IntakeConfig:
    return IntakeConfig(
        folder=_path(base, raw.folder),
        settle_seconds=raw.settle_seconds,
        poll_seconds=raw.poll_seconds,
        max_bytes=int(raw.max_bytes),
        parcels_per_message=raw.parcels_per_message,
    )


def _sim(base: Path, raw: settings.SimSettings) -> SimConfig:
    values = raw.model_dump()
    values["database_url"] = _sqlite_relative(base, raw.database_url)
    return SimConfig(**values)


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


def _summary(raw: dict[str, Any] | settings.SummarySettings) -> SummaryConfig:
    checked = (
        raw
        if isinstance(raw, settings.SummarySettings)
        else settings.section(settings.SummarySettings, raw, "summary")
    )
    plain = checked.model_dump(exclude={"holidays", "working_weekends"})
    return SummaryConfig(
        **plain,
        holidays=_days(checked.holidays, "holidays"),
        working_weekends=_days(checked.working_weekends, "working_weekends"),
    )


def _webhooks(raw: settings.WebhookSettings) -> WebhooksConfig:
    made = WebhooksConfig(**raw.model_dump())
    if made.claim_seconds <= made.timeout_seconds:
        raise ConfigError(
            "webhooks.claim_seconds: must exceed webhooks.timeout_seconds (a post still under "
            "way would be taken by another process)"
        )
    return made


def _alerts(base: Path, raw: settings.AlertSettings) -> AlertsConfig:
    return AlertsConfig(
        enabled=raw.enabled,
        interval_seconds=raw.interval_seconds,
        expiry_days=raw.expiry_days,
        customs_silent_minutes=raw.customs_silent_minutes,
        job_overdue_minutes=dict(raw.job_overdue_minutes),
        webhook=raw.webhook,
        webhook_secret=_webhook_secret(base, raw.webhook, raw, "alerts"),
    )


def from_settings(checked: settings.GatewaySettings, base: Path) -> Config:
    """The validated settings as the dataclasses the code uses: paths resolved against
    `base`, key and secret files read, the checks that span sections made."""
    db_url = os.environ.get("CUSTOMS_GATEWAY_DB_URL") or checked.database.url
    return Config(
        database_url=_sqlite_relative(base, db_url),
        amqp=_amqp(checked.amqp),
        http=_http(checked.http),
        intake=_intake(base, checked.intake),
        sim=_sim(base, checked.customs_sim),
        enterprises=tuple(_enterprise(base, i, e) for i, e in enumerate(checked.enterprises)),
        default_enterprise=checked.default_enterprise,
        state_dir=_path(base, checked.state_dir) or base / "var",
        admin_api_keys=_api_keys(
            base, checked.admin_api_keys, checked.admin_api_keys_file, "admin_api_keys"
        ),
        sign_algorithms={k: dict(v) for k, v in checked.sign_algorithms.items()},
        emulated_cards=tuple(_emulated_card(base, c) for c in checked.emulated_cards),
        summary=_summary(checked.summary),
        systems=tuple(checked.systems),
        database=_database(checked.database),
        auth=_auth(checked.auth),
        webhooks=_webhooks(checked.webhooks),
        alerts=_alerts(base, checked.alerts),
    )


def from_dict(raw: dict[str, Any], base: Path, *, source: str = "configuration") -> Config:
    """A configuration from the file's mapping (the environment applied): every problem of
    the schema at once, one line each, as a ConfigError."""
    return from_settings(settings.parse(raw, source=source), base)


def load(path: str | Path | None = None) -> Config:
    chosen = config_path(path)
    try:
        raw = yaml.safe_load(chosen.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {chosen}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {chosen} is not YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {chosen} must hold a mapping")
    return from_dict(raw, chosen.resolve().parent, source=str(chosen))


def config_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get("CUSTOMS_GATEWAY_CONFIG") or DEFAULT_CONFIG)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{getattr(exc, 'problem', None) or type(exc).__name__}"


# --- `customs-gateway config check` ----------------------------------------------------------

MASK = "***"
#: keys whose values are secrets wherever they appear
SECRET_KEYS = frozenset({"pin", "webhook_secret", "api_keys", "admin_api_keys", "password"})


def effective(config: Config) -> dict[str, Any]:
    """The configuration as the gateway runs it, secrets masked: passwords in URLs, PINs,
    API keys (their count shown), webhook secrets."""
    return _masked(asdict(config))


def _masked(value: Any, key: str = "") -> Any:
    if key in SECRET_KEYS:
        if isinstance(value, list | tuple):
            return f"{MASK} ({len(value)})" if value else []
        return MASK if value else value
    if isinstance(value, dict):
        return {str(k): _masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_masked(v) for v in items]
    if isinstance(value, Path | date):
        return str(value)
    if isinstance(value, str) and "://" in value:
        return _url_masked(value)
    return value


def _url_masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}"))


@click.group("config")
def config_cli() -> None:
    """The configuration: check it, see what the gateway would run with."""


@config_cli.command("check")
@click.pass_context
def check_command(ctx: click.Context) -> None:
    """Validate the configuration and print it as the gateway runs it (secrets masked);
    exit 1 with one line per problem when it is wrong."""
    chosen = config_path((ctx.find_root().obj or {}).get("config_path"))
    try:
        config = load(chosen)
    except ConfigError as exc:
        click.echo(exc.message, err=True)
        raise SystemExit(1) from None
    click.echo(f"# {chosen}: OK (environment overrides applied; secrets masked)")
    click.echo(yaml.safe_dump(effective(config), allow_unicode=True, sort_keys=False), nl=False)


def topology_for(config: Config) -> Topology:
    """The broker names and queue settings this configuration declares and uses."""
    amqp = config.amqp
    return Topology(
        prefix=amqp.prefix,
        delivery_limit=amqp.delivery_limit,
        queue_type=amqp.queue_type,
        notify_max_length=amqp.notify_max_length,
    )
