"""`customs-gateway check FILE [--at TIME]`: a message evaluated as if submitted at TIME (now).

Rules that need the store (reference data, other records, the clock: a kind's
`store_checks`, e.g. R-APT-2..8) read the configured database in a transaction that is always
rolled back; messages whose kind needs no store never open the database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.config import Config
from gateway.errors import InvalidMessage, Violation


def parse_at(text: str) -> datetime:
    """`now`, `YYYYMMDDhhmmss`, or ISO 8601; without an offset it is Beijing time."""
    if text.strip().lower() == "now":
        return datetime.now(UTC)
    raw = text.strip()
    try:
        found = (
            datetime.strptime(raw, "%Y%m%d%H%M%S") if raw.isdigit() else datetime.fromisoformat(raw)
        )
    except ValueError:
        raise click.BadParameter(f"{text!r}: use YYYY-MM-DD HH:MM[:SS][+08:00] or now") from None
    return found if found.tzinfo else found.replace(tzinfo=CHINA_TZ)


def check_files(config: Callable[[], Config], files: Sequence[str], at_text: str) -> int:
    """Exit status 1 when any file is refused; prints every violation with its rule id."""
    at = parse_at(at_text)
    failed = 0
    for name in files:
        violations, summary = evaluate(config, Path(name).read_bytes(), at)
        if violations:
            failed += 1
            click.echo(f"{name}: REFUSED at {at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M} (Beijing)")
            for v in violations:
                click.echo(f"  {v}")
            click.echo(f"  rules: {', '.join(dict.fromkeys(v.rule for v in violations))}")
        else:
            click.echo(f"{name}: OK ({summary})")
    return 1 if failed else 0


def evaluate(
    config: Callable[[], Config], data: bytes, at: datetime
) -> tuple[list[Violation], str]:
    from gateway.core import intake

    try:
        checked = intake.check(data)
    except InvalidMessage as exc:
        return list(exc.violations), ""
    summary = f"{checked.kind.message_type}, {len(checked.records)} record(s)"
    if checked.kind.store_checks is None:
        return [], summary
    return _with_store(config(), checked, at), summary + ", store rules at the given time"


def _with_store(cfg: Config, checked: object, at: datetime) -> list[Violation]:
    from gateway.core import intake
    from gateway.core.db import Database

    assert isinstance(checked, intake.Checked)
    db = Database(cfg.database_url)
    try:
        with Session(db.engine) as session:
            try:
                return _store_rules(session, cfg, checked, at)
            finally:
                session.rollback()  # never store anything
    except SQLAlchemyError as exc:  # no database, or one never upgraded: say so, no traceback
        raise click.ClickException(
            f"{checked.kind.message_type}'s rules read the gateway's database, which did not "
            f"answer ({type(exc).__name__}): check database.url and run "
            "`customs-gateway db upgrade`"
        ) from None
    finally:
        db.dispose()


def _store_rules(session: Session, cfg: Config, checked: object, at: datetime) -> list[Violation]:
    from gateway.core import intake
    from gateway.core.kinds import head_fields
    from gateway.core.models import Enterprise

    assert isinstance(checked, intake.Checked)
    transfer = next((c for c in checked.root if c.tag.endswith("BaseTransfer")), None)
    code = head_fields(transfer, None).get("copCode", "") if transfer is not None else ""
    try:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        known = {e.code: e for e in cfg.enterprises}
        if ent is None and code in known:  # configured, not yet registered by serve
            ent = Enterprise(code=code, name=known[code].name, dxp_id=known[code].dxp_id)
            session.add(ent)
            session.flush()
        if ent is None:
            message = "is not an enterprise of this gateway"
            return [Violation("R-COM-3", "BaseTransfer/copCode", message, value=code)]
        intake.check_sender(checked, ent)
        intake.store_checks(session, ent, checked, at)
        return []
    except InvalidMessage as exc:
        return list(exc.violations)
