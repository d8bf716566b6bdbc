"""The configuration's schema: what `config.yaml` may hold, validated with pydantic-settings
(issue 17, item 7; docs/configuration.md).

Every section is strict: a key the schema does not know is refused (a misspelt
`amqp.delivery_limt` used to be ignored and the default kept), and so is a value of the wrong
type, each with the key's dotted path and what was expected, one line per problem. Byte sizes
take a number of bytes or a size with its unit (`10MB` = 10,000,000, `10MiB` = 10,485,760;
pydantic's `ByteSize`). The environment overrides the file: `GATEWAY__<SECTION>__<KEY>`
(e.g. `GATEWAY__AMQP__URL`, `GATEWAY__INTAKE__MAX_BYTES=20MiB`), validated the same way.

`config.py` turns the validated settings into the frozen dataclasses the code uses, resolving
paths and reading key files; cross-checks needing several sections stay there.
"""

from __future__ import annotations

import difflib
import os
import types
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID
from gateway.errors import ConfigError, InvalidInput
from transports.permissions import DEMO_CUSTOMS_URL, DEMO_GATEWAY_URL

ENV_PREFIX = "GATEWAY__"

Seconds = Annotated[float, Field(gt=0)]
Size = Annotated[ByteSize, Field(gt=0)]
Count = Annotated[int, Field(ge=1)]


class Section(BaseModel):
    """A section of the file: unknown keys refused; numbers taken where text is expected
    (a card number or code written without quotes)."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class KeySettings(Section):
    backend: Literal["file", "card"] = "file"
    key_file: str | None = None
    cert_file: str | None = None
    password_file: str | None = None
    suite: str = "rsa-sha1"
    generate: bool = False
    key_type: Literal["rsa", "sm2"] = "rsa"
    reader: str | None = None
    card_number: str | None = None
    pin: SecretStr | None = None
    pin_file: str | None = None
    cards: list[str] = []
    card_timeout: Seconds = 10.0


class EmulatedCardSettings(Section):
    number: str
    key_file: str
    cert_file: str
    pin_file: str
    delay: Annotated[float, Field(ge=0)] = 0.24


def _http_url(value: str | None) -> str | None:
    from urllib.parse import urlsplit

    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("must be an http:// or https:// URL with a host")
    return value


class EnterpriseSettings(Section):
    code: str
    name: str
    dxp_id: str
    #: refused when set (keys live in a file): kept in the schema to say so plainly
    api_keys: list[str] | None = None
    api_keys_file: str | None = None
    key: KeySettings = KeySettings()
    webhook: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_file: str | None = None
    amqp_users: list[str] = []
    declares_for: list[str] = []

    _url = field_validator("webhook")(_http_url)


class AmqpSettings(Section):
    url: str = DEMO_GATEWAY_URL
    prefix: str = ""
    delivery_limit: Count = 5
    queue_type: Literal["quorum", "classic"] = "quorum"
    notify_max_length: Count = 10_000
    customs_url: str = DEMO_CUSTOMS_URL
    customs_users: list[str] = []
    customs_sender_ids: list[str] = [EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID]
    max_clock_skew: Annotated[float, Field(ge=0)] = 300.0


class HttpSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    max_body_bytes: Size = ByteSize(10 * 1024 * 1024)
    header_seconds: Seconds = 10.0
    body_seconds: Seconds = 30.0
    keep_alive_seconds: Seconds = 5.0


class AuthSettings(Section):
    failure_limit: Count = 10
    failure_window: Seconds = 60.0
    #: an API key found active is trusted this long by the process (0: look up every request)
    cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0


class DatabaseSettings(Section):
    url: str = "sqlite:///var/gateway.db"
    pool_size: Count = 20
    max_overflow: Annotated[int, Field(ge=0)] = 0
    pool_timeout: Seconds = 5.0


class IntakeSettings(Section):
    folder: str | None = None
    settle_seconds: Annotated[float, Field(ge=0)] = 10.0
    poll_seconds: Seconds = 0.5
    max_bytes: Size = ByteSize(10 * 1024 * 1024)
    parcels_per_message: Count = 1000


class SimSettings(Section):
    database_url: str = "sqlite:///var/customs-sim.db"
    declaring_delay: Annotated[float, Field(ge=0)] = 0.2
    result_delay: Annotated[float, Field(ge=0)] = 1.0
    return_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    format_failure_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    seed: int = 0
    missing_document_wait: Annotated[float, Field(ge=0)] = 2.0
    review_rate: Annotated[float, Field(ge=0, le=1)] = 0.05
    inspection_rate: Annotated[float, Field(ge=0, le=1)] = 0.05


class SummarySettings(Section):
    enabled: bool = True
    cycle: str = "monthly"
    due_day: Annotated[int, Field(ge=1, le=31)] = 15
    run_day: Annotated[int, Field(ge=1, le=31)] = 1
    run_time: str = "02:00"
    misfire_grace_days: Annotated[int, Field(ge=0)] = 14
    catch_up_cycles: Annotated[int, Field(ge=0)] = 12
    max_lists_per_apply: Count = 1000
    applies_per_message: Annotated[int, Field(ge=1, le=100)] = 10
    summary_flag: Literal["1", "2"] = "2"
    item_name_flag: str = "0"
    #: dates, or ranges "2026-02-15..2026-02-23" (config.py expands them)
    holidays: list[date | str] = []
    working_weekends: list[date | str] = []

    @field_validator("cycle")
    @classmethod
    def _cycle(cls, value: str) -> str:
        if value not in ("monthly", "weekly"):
            raise InvalidInput(f"must be monthly or weekly, not {value!r}")
        return value


class WebhookSettings(Section):
    """Delivery of webhooks (docs/webhooks.md)."""

    timeout_seconds: Seconds = 10.0
    max_attempts: Count = 12
    backoff_seconds: Seconds = 10.0
    backoff_max_seconds: Seconds = 3600.0
    poll_seconds: Seconds = 1.0
    #: a claimed delivery is taken again after this long (its process died while posting)
    claim_seconds: Seconds = 120.0
    batch: Count = 50
    concurrency: Count = 4


class AlertSettings(Section):
    """Alerts (docs/alerts.md)."""

    enabled: bool = True
    interval_seconds: Seconds = 60.0
    expiry_days: Annotated[int, Field(ge=0)] = 30
    customs_silent_minutes: Seconds = 30.0
    #: minutes a job may go without a round before it is overdue; a job not named is not
    #: watched (a monthly job and a minutely one cannot share a default)
    job_overdue_minutes: dict[str, Annotated[float, Field(gt=0)]] = {}
    webhook: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_secret_file: str | None = None

    _url = field_validator("webhook")(_http_url)


class GatewaySettings(BaseSettings):
    """The whole file. The file is the lowest source; `GATEWAY__…` variables override it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        coerce_numbers_to_str=True,
        case_sensitive=False,
    )

    state_dir: str = "var"
    database: DatabaseSettings = DatabaseSettings()
    amqp: AmqpSettings = AmqpSettings()
    http: HttpSettings = HttpSettings()
    intake: IntakeSettings = IntakeSettings()
    customs_sim: SimSettings = SimSettings()
    enterprises: list[EnterpriseSettings] = []
    default_enterprise: str | None = None
    admin_api_keys: list[str] | None = None
    admin_api_keys_file: str | None = None
    sign_algorithms: dict[str, dict[str, str]] = {}
    emulated_cards: list[EmulatedCardSettings] = []
    summary: SummarySettings = SummarySettings()
    systems: list[str] = []
    auth: AuthSettings = AuthSettings()
    webhooks: WebhookSettings = WebhookSettings()
    alerts: AlertSettings = AlertSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: the environment over the file (given as the init values).
        return (env_settings, init_settings)


def parse(raw: dict[str, Any], *, source: str = "configuration") -> GatewaySettings:
    """The file's mapping validated, environment applied; a ConfigError listing every
    problem, one line each, otherwise."""
    problems = _unknown_env()
    try:
        settings = GatewaySettings(**raw)
    except ValidationError as exc:
        problems += [_line(err) for err in exc.errors()]
        settings = None
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        raise ConfigError(f"{source}: {count}\n" + "\n".join(f"  {p}" for p in problems))
    assert settings is not None
    return settings


def section(model: type[Section], raw: dict[str, Any], name: str) -> Any:
    """One section validated alone (tests, and systems reading their own section)."""
    try:
        return model(**raw)
    except ValidationError as exc:
        lines = [_line(err, (name,)) for err in exc.errors()]
        raise ConfigError("\n".join(lines)) from None


def _unknown_env() -> list[str]:
    """`GATEWAY__…` variables naming no section: pydantic-settings skips them silently."""
    known = set(GatewaySettings.model_fields)
    out = []
    for name in os.environ:
        if name.upper().startswith(ENV_PREFIX):
            first = name[len(ENV_PREFIX) :].split("__", 1)[0].lower()
            if first not in known:
                out.append(f"${name}: unknown key {first!r}{_did_you_mean(first, known)}")
    return out


# --- one line per problem --------------------------------------------------------------------


def _line(err: Any, prefix: tuple[Any, ...] = ()) -> str:
    loc = (*prefix, *err["loc"])
    path = dotted(loc)
    found, parent = _field_at(loc)
    if err["type"] == "extra_forbidden":
        allowed = sorted(parent.model_fields) if parent is not None else []
        where = dotted(loc[:-1]) or "the top level"
        takes = f" ({where} takes: {', '.join(allowed)})" if allowed else ""
        return f"{path}: unknown key{_did_you_mean(str(loc[-1]), allowed)}{takes}"
    expected = f"; expected {_describe(*found)}" if found is not None else ""
    shown = "" if _secret(loc) or err["type"] == "missing" else f"; got {err['input']!r}"
    return f"{path}: {_message(err)}{expected}{shown}"


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "required key missing"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")


def dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _did_you_mean(key: str, allowed: Any) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _secret(loc: tuple[Any, ...]) -> bool:
    return any(isinstance(p, str) and ("secret" in p or p in ("pin", "api_keys")) for p in loc)


def _field_at(loc: tuple[Any, ...]) -> tuple[tuple[Any, list[Any]] | None, Any]:
    """The annotation (and its bounds) at `loc`, or None and the model that has no such key."""
    model: Any = GatewaySettings
    annotation: Any = None
    bounds: list[Any] = []
    for part in loc:
        if isinstance(part, int) or not _is_model(model):
            args = get_args(_strip(annotation))
            if not isinstance(part, int) and get_origin(_strip(annotation)) is dict:
                args = args[1:]
            annotation, bounds = (args[0] if args else None), []
        elif part in model.model_fields:
            info = model.model_fields[part]
            annotation, bounds = info.annotation, list(info.metadata)
        else:
            return None, model
        model = _strip(annotation)
    return (annotation, bounds), None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def _strip(annotation: Any) -> Any:
    """`X | None` → X; Annotated[X, …] → X."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return annotation


_NAMES: dict[Any, str] = {
    int: "an integer",
    float: "a number",
    str: "text",
    bool: "true or false",
    date: "a date (YYYY-MM-DD)",
    ByteSize: "a byte size: a number of bytes, or one with a unit (10MB, 10MiB, 512KiB)",
    SecretStr: "text (a secret)",
}


def _describe(annotation: Any, bounds: list[Any] | None = None) -> str:
    limits = [
        f"{sign} {getattr(b, name)}"
        for b in bounds or ()
        for name, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))
        if getattr(b, name, None) is not None
    ]
    text = _kind(annotation)
    return f"{text}, {' and '.join(limits)}" if limits else text


def _kind(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *meta = get_args(annotation)
        return _describe(base, meta)
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        parts = [_kind(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (", or nothing" if type(None) in args else "")
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in get_args(annotation))
    if origin is list:
        return f"a list, each {_kind(get_args(annotation)[0])}"
    if origin is dict:
        return f"a mapping, each value {_kind(get_args(annotation)[1])}"
    if _is_model(annotation):
        return f"a mapping (keys: {', '.join(annotation.model_fields)})"
    return _NAMES.get(annotation, getattr(annotation, "__name__", str(annotation)))
