"""The customs code tables the export messages' coded fields are checked against (manual 004
§3.1: "参数类字段…从下拉菜单中选择"; SPEC R-COM-1.code; issue #16 gap 9).

Tables: 运输方式 (`traf_mode`), 国别(地区) (`country`, the 3-digit customs codes), 计量单位
(`unit`), 包装种类 (`wrap_type`, the 1-digit codes CEB603 uses) and 关区 (`customs`, the
4-digit customs offices, for customsCode and portCode). The currency table (币制) stays in
`gateway.codes.CURRENCIES`, where the order checks already use it.

The gateway ships each table as a CSV file (`gateway/ecx/data/codes/<table>.csv`, columns
code,name). Customs publishes changes; an operator loads a whole table over the shipped one
with `customs-gateway ecx-codes load FILE` (kept in `ecx_code_entries`, migration branch
"ecx"), as appointment reference data is loaded with `apt-refdata`. A loaded table replaces
the shipped one entirely, so a code customs withdraws is refused from then on.

The check engine's value checks take no session: they read `CURRENT`, one in-memory table
set per process. Every gateway process reads the loaded tables from the database when it
starts and again whenever their version changes (it looks every `REFRESH_SECONDS`): a
process with workers through the system's job `ecx-codes`, one serving HTTP (`serve
--no-workers` too) through the export routes' lifespan (`gateway.ecx.b2b_api`). The command
and the customs message that load a table update their own process at once.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Integer, String, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.core.models import Base, UTCDateTime, utcnow
from gateway.errors import InvalidMessage, Violation

DATA = Path(__file__).resolve().parent / "data" / "codes"
RULE = "R-COM-1.code"
log = logging.getLogger(__name__)
REFRESH_SECONDS = 30.0


@dataclass(frozen=True)
class TableSpec:
    name: str
    title: str  # the customs table's Chinese name, as refusals cite it
    what: str  # "a country code"
    width: tuple[int, int]  # code length, min and max


SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in (
        TableSpec("traf_mode", "运输方式代码表", "a transport mode code", (1, 1)),
        TableSpec("country", "国别(地区)代码表", "a country code", (3, 3)),
        TableSpec("unit", "计量单位代码表", "a unit code", (3, 3)),
        TableSpec("wrap_type", "包装种类代码表", "a packaging type code", (1, 1)),
        TableSpec("customs", "关区代码表", "a customs office code", (4, 4)),
    )
}

#: which table each coded field of the export messages uses
FIELD_TABLES: dict[str, str] = {
    "trafMode": "traf_mode",
    "country": "country",
    "unit": "unit",
    "unit1": "unit",
    "unit2": "unit",
    "wrapType": "wrap_type",
    "customsCode": "customs",
    "portCode": "customs",
}


class CodeEntry(Base):
    """One code of a table an operator loaded over the shipped one."""

    __tablename__ = "ecx_code_entries"

    table_name: Mapped[str] = mapped_column(String(20), primary_key=True)
    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class CodeTableVersion(Base):
    """When a table was last loaded, and how often: processes reload on a new version."""

    __tablename__ = "ecx_code_tables"

    table_name: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(300))


# --- the tables in memory -------------------------------------------------------------------


def read_csv(text: str) -> dict[str, str]:
    """code → name of a CSV with a header naming `code` and `name` columns."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"code", "name"} <= set(reader.fieldnames):
        raise InvalidMessage([Violation(RULE, "(file)", "the header must name code,name")])
    return {(row["code"] or "").strip(): (row["name"] or "").strip() for row in reader}


def shipped() -> dict[str, dict[str, str]]:
    return {n: read_csv((DATA / f"{n}.csv").read_text(encoding="utf-8")) for n in SPECS}


class Tables:
    """The table set one process checks against: shipped, overlaid by the loaded ones.
    `active` maps each table to its codes in use; a reload swaps one entry (atomic), so a
    check in another thread sees the old table or the new one, never a mix."""

    def __init__(self) -> None:
        self._shipped = shipped()
        self.active: dict[str, frozenset[str]] = {}
        self._names: dict[str, Mapping[str, str]] = {}
        self.versions: dict[str, int] = {}
        self._lock = threading.Lock()
        self.reset()

    def codes(self, table: str) -> Mapping[str, str]:
        return self._names[table]

    def replace(self, loaded: Mapping[str, dict[str, str]], versions: Mapping[str, int]) -> None:
        with self._lock:
            for table, codes in loaded.items():
                chosen = codes or self._shipped[table]
                self._names[table] = chosen
                self.active[table] = frozenset(chosen)
            self.versions = {**self.versions, **versions}

    def reset(self) -> None:
        """Back to the shipped tables (tests)."""
        with self._lock:
            for table, codes in self._shipped.items():
                self._names[table] = codes
                self.active[table] = frozenset(codes)
            self.versions = {}


CURRENT = Tables()


def check_of(table: str, tables: Tables = CURRENT) -> Any:
    """A value check of the core's engine: the value is a code of `table` as it is now."""
    spec, active = SPECS[table], tables.active  # the same dict for the process's lifetime

    def check(value: str) -> str | None:
        if value in active[table]:
            return None
        return f"{value} is not {spec.what} of the customs table ({spec.title})"

    return check


def value_rules() -> dict[str, tuple[str, Any]]:
    return {field: (RULE, check_of(table)) for field, table in FIELD_TABLES.items()}


# --- loading and refreshing ------------------------------------------------------------------


def validate(table: str, codes: Mapping[str, str]) -> list[Violation]:
    """What is wrong with a table about to be loaded: unknown table, empty, bad codes."""
    spec = SPECS.get(table)
    if spec is None:
        known = ", ".join(SPECS)
        return [Violation(RULE, "table", f"{table!r} is not a code table ({known})")]
    if not codes:
        return [Violation(RULE, table, "a table must list at least one code")]
    low, high = spec.width
    return [
        Violation(RULE, f"{table}/{code}", f"code {code!r} must have {low}–{high} characters")
        for code in codes
        if not low <= len(code) <= high or not code.isalnum()
    ]


def load(session: Session, table: str, codes: Mapping[str, str], source: str) -> int:
    """Replace `table` by `codes` in the database; returns the new version."""
    problems = validate(table, codes)
    if problems:
        raise InvalidMessage(problems)
    session.execute(delete(CodeEntry).where(CodeEntry.table_name == table))
    rows = [{"table_name": table, "code": c, "name": n} for c, n in codes.items()]
    session.execute(insert(CodeEntry), rows)
    row = session.get(CodeTableVersion, table)
    if row is None:
        row = CodeTableVersion(table_name=table, version=0)
        session.add(row)
    row.version, row.loaded_at, row.source = row.version + 1, utcnow(), source[:300]
    session.flush()
    return row.version


def refresh(session: Session, tables: Tables = CURRENT) -> list[str]:
    """Read the tables whose version changed since this process last read them."""
    versions = dict(session.execute(select(CodeTableVersion.table_name,
                                           CodeTableVersion.version)).all())  # fmt: skip
    stale = [t for t, v in versions.items() if tables.versions.get(t) != v and t in SPECS]
    loaded: dict[str, dict[str, str]] = {t: {} for t in stale}
    if stale:
        rows = select(CodeEntry.table_name, CodeEntry.code, CodeEntry.name)
        for table, code, name in session.execute(rows.where(CodeEntry.table_name.in_(stale))):
            loaded[table][code] = name
        tables.replace(loaded, {t: versions[t] for t in stale})
    return stale


def counts(session: Session) -> dict[str, dict[str, Any]]:
    """Each table's size and origin (shipped, or the version loaded), for `ecx-codes show`."""
    loaded = {r.table_name: r for r in session.scalars(select(CodeTableVersion))}
    sizes = dict(
        session.execute(
            select(CodeEntry.table_name, func.count()).group_by(CodeEntry.table_name)
        ).all()
    )
    base = shipped()
    out: dict[str, dict[str, Any]] = {}
    for name in SPECS:
        row = loaded.get(name)
        if row is None:
            out[name] = {"source": "shipped", "codes": len(base[name])}
        else:
            out[name] = {
                "source": row.source, "version": row.version,
                "loaded_at": row.loaded_at.isoformat(), "codes": sizes.get(name, 0),
            }  # fmt: skip
    return out


_refresher = threading.Lock()  # held by the one thread of this process that refreshes


def run_refresher(db: Any, stop: threading.Event, every: float | None = None) -> None:
    """Keep this process's tables in step with the database until `stop`. Started by the
    system's job (processes with workers) and by the HTTP app's lifespan (processes with
    HTTP intake); the second in one process returns at once, one refresher being enough."""
    if not _refresher.acquire(blocking=False):
        return
    try:
        told = False
        while not stop.is_set():
            try:
                with db.session() as session:
                    refresh(session)
                told = told or warn_if_partial()
            except SQLAlchemyError as exc:  # the database is restarting: try next round
                log.warning("code tables not refreshed: %s", type(exc).__name__)
            stop.wait(every or REFRESH_SECONDS)
    finally:
        _refresher.release()


#: tables shipped incomplete: public listings hold only part of customs' table (docs/ecx-codes.md)
PARTIAL = {"customs": "关区代码表: customs has about 1,000 offices"}


def warn_if_partial(tables: Tables = CURRENT) -> bool:
    """Say once per process, at its first look at the tables, when a table shipped incomplete
    is still the one in use: a real code outside it is refused (R-COM-1.code) until an
    operator loads customs' own. True once said or nothing to say."""
    for table, why in PARTIAL.items():
        if table not in tables.versions:
            # INFO: `serve` shows it at start; the demos, which print warnings, stay quiet
            log.info(
                "code table %s is the shipped partial one (%d codes; %s): a real code outside "
                "it is refused (R-COM-1.code) until customs' table is loaded "
                "(customs-gateway ecx-codes load %s.csv)",
                table, len(tables.codes(table)), why, table,
            )  # fmt: skip
    return True


def parse_rows(rows: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {str(r["code"]).strip(): str(r.get("name", "")).strip() for r in rows}
