"""The rules of temporary-goods records that need no store: what save and declare need
(R-COM-2), formats and consistency of the exhibition form (R-TMP-1), the fields the gateway
takes from the enterprise rather than the sender (R-TMP-1), the change's reason (R-TMP-3).

Every violation names the record, the field (with the manual's label) and the rule. The
rules that need other records (state of the registration, its use) are in `kinds`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from gateway.codes import AppStatus, AppType
from gateway.core.kinds import Record
from gateway.core.models import Enterprise
from gateway.errors import Violation
from gateway.temporary import fields as form
from gateway.temporary.fields import Field

FORM_RULE = "R-TMP-1"  # the exhibition form: formats, consistency, card fields
STATE_RULE = "R-TMP-3"  # edit / change / deletion per state, the change's reason
REQUIRED_RULE = "R-COM-2"  # save needs the * fields, declare every yellow one
CODE_RULE = "R-COM-1.code"
TIME_RULE = "R-COM-1.time"

_CUSTOMS = re.compile(r"[0-9]{4}")
_CODE10 = re.compile(r"[0-9A-Z]{10}")
_DATES = ("openDate", "closeDate")


@dataclass(frozen=True)
class Where:
    """Where a record sits in its message, to name a field in a refusal."""

    tag: str
    n: int
    element: etree._Element

    def v(self, rule: str, name: str, message: str, value: str | None = None) -> Violation:
        return Violation(
            rule=rule,
            field=f"{self.tag}[{self.n}]/{form.label(name)}",
            message=message,
            line=self._line(name),
            value=value,
        )

    def _line(self, name: str) -> int | None:
        for child in self.element:
            tag = child.tag
            if isinstance(tag, str) and tag.endswith("}" + name):
                return child.sourceline
        return self.element.sourceline


def is_declare(rec: Record) -> bool:
    return rec.app_status == AppStatus.DECLARE


def is_delete(rec: Record) -> bool:
    return rec.app_type == AppType.DELETE


def common(rec: Record, where: Where) -> list[Violation]:
    """appType, appStatus and appTime of every record."""
    found = []
    if rec.app_type not in set(AppType):
        found.append(where.v(CODE_RULE, "appType", "1 add, 2 modify or 3 delete", rec.app_type))
    if rec.app_status not in set(AppStatus):
        found.append(where.v(CODE_RULE, "appStatus", "1 save or 2 declare", rec.app_status))
    app_time = rec.fields.get("appTime", "")
    if _time(app_time) is None:
        found.append(where.v(TIME_RULE, "appTime", "YYYYMMDDhhmmss, a real time", app_time))
    return found


def required(
    rec: Record, where: Where, table: tuple[Field, ...], rules: Mapping[str, str] | None = None
) -> list[Violation]:
    """R-COM-2: save needs the `*` fields; declare (and delete: the key) needs the rest too.
    `rules` names another rule for a field whose absence breaks a rule of its own."""
    names = form.required(table, is_declare(rec) and not is_delete(rec))
    if is_delete(rec):
        names = tuple(f.name for f in form.KEY)
    step = "declare" if is_declare(rec) else "save"
    return [
        where.v((rules or {}).get(name, REQUIRED_RULE), name, f"{step} needs it: not filled", "")
        for name in names
        if not rec.fields.get(name, "").strip()
    ]


def form_values(rec: Record, where: Where) -> list[Violation]:
    """R-TMP-1: the formats and consistency of the form's values that are filled."""
    get = rec.fields.get
    found = []
    for name in ("customsCode", "regCustomsCode"):
        value = get(name, "")
        if value and not _CUSTOMS.fullmatch(value):
            found.append(where.v(FORM_RULE, name, "a 4-digit customs district code", value))
    for name in ("agentCode", "inputCode"):
        value = get(name, "")
        if value and not _CODE10.fullmatch(value):
            found.append(where.v(FORM_RULE, name, "a 10-character customs code (0-9, A-Z)", value))
    days = {name: _day(get(name, "")) for name in _DATES}
    for name in _DATES:
        if get(name, "") and days[name] is None:
            found.append(where.v(FORM_RULE, name, "YYYYMMDD, a real date", get(name, "")))
    opening, closing = days["openDate"], days["closeDate"]
    if opening and closing and closing < opening:
        span = f"{get('openDate')}..{get('closeDate')}"
        found.append(where.v(FORM_RULE, "closeDate", "must not be before openDate", span))
    total, intl = _amount(get("totalArea", "")), _amount(get("intlArea", ""))
    if total is not None and intl is not None and intl > total:
        found.append(where.v(FORM_RULE, "intlArea", f"must not exceed totalArea {total}",
                             str(intl)))  # fmt: skip
    return found


def card_fields(rec: Record, where: Where, ent: Enterprise) -> list[Violation]:
    """R-TMP-1: 操作员, 录入单位 and 海关十位编码 are the enterprise's registration and card.
    A sender may leave them out; one that sends another value is refused, since the gateway
    signs what it was sent and never rewrites it."""
    bound = bound_values(ent)
    return [
        where.v(
            FORM_RULE,
            name,
            f"comes from the enterprise's registration and IC card: {bound[name]!r} or left out",
            rec.fields[name],
        )  # fmt: skip
        for name in form.CARD_FIELDS
        if rec.fields.get(name) and rec.fields[name] != bound[name]
    ]


def bound_values(ent: Enterprise) -> dict[str, str]:
    """The card fields of an enterprise: its 10-digit code and name as registered with the
    gateway, and its operator — the holder named in its key binding, or the IC card's number
    (no card: no operator)."""
    binding = ent.key_binding or {}
    operator = binding.get("operator") or binding.get("card_number") or ""
    return {"inputCode": ent.code, "inputName": ent.name, "operatorName": str(operator)}


def change_values(rec: Record, where: Where) -> list[Violation]:
    seq = rec.fields.get("seqNo", "")
    if seq and not (seq.isdigit() and 1 <= int(seq) <= 999):
        return [where.v(FORM_RULE, "seqNo", "a change number from 1 to 999", seq)]
    return []


def _time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S") if len(text) == 14 else None
    except ValueError:
        return None


def _day(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None
