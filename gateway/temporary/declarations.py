"""The customs declarations (报关单) linked to exhibitions: reference data customs holds, from
which a loaned-exhibit list picks its goods (报关单商品查询, seed 002 §1.3, R-TMP-4).

The manual's lookup lists, for an exhibition number, every goods line of its declarations;
with 报关单海关编号 those of one declaration; with 商品序号 too, one line — and 商品序号 can be
entered only after 报关单海关编号. Customs does not send this data over any message the manual
names, so an administrator loads it (`customs-gateway tmp-declarations FILE`, YAML or JSON),
into the gateway's table or, with `--customs`, into the simulated customs' copy: the same rows
on both sides, as real customs holds them and the gateway mirrors them.

The file:

    declarations:
      - exhibitionNo: ZL29002026000001   # 展览会海关编号
        entryId: "290020261000000001"     # 报关单海关编号, 18 digits
        goods:
          - {itemNo: 1, hsCode: "8457101000", name: 立式加工中心, model: VMC-850,
             qty: 2, unit: "001", qty1: 2, unit1: "001", qty2: 6500, unit2: "035",
             price: 480000, total: 960000, currency: CNY, origin: DEU, licences: "A"}

A declaration loaded again replaces its lines (a line not in the file any more is removed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.errors import InvalidMessage, Violation
from gateway.temporary.models import DeclarationLine, TmpDeclarationGoods

RULE = "R-TMP-4"
_ENTRY = re.compile(r"[0-9]{18}")
_EXHIBITION = re.compile(r"[0-9A-Z]{1,20}")
#: file key → (column, required, kind): kind "text" (up to n characters), "qty", "money"
_LINE: dict[str, tuple[str, bool, str, int]] = {
    "itemNo": ("item_no", True, "item", 3),
    "hsCode": ("hs_code", True, "text", 10),
    "name": ("name", True, "text", 250),
    "model": ("model", False, "text", 255),
    "qty": ("qty", True, "qty", 0),
    "unit": ("unit", True, "text", 3),
    "qty1": ("qty1", False, "qty", 0),
    "unit1": ("unit1", False, "text", 3),
    "qty2": ("qty2", False, "qty", 0),
    "unit2": ("unit2", False, "text", 3),
    "price": ("price", True, "money", 0),
    "total": ("total", True, "money", 0),
    "currency": ("currency", True, "text", 3),
    "origin": ("origin", True, "text", 3),
    "licences": ("licences", False, "text", 100),
}


def parse(data: Any) -> list[dict[str, Any]]:
    """The rows of a loaded file (`declarations:` list); InvalidMessage naming each bad
    value (declarations[n]/goods[m]/field) otherwise, nothing taken."""
    items = data.get("declarations") if isinstance(data, Mapping) else None
    if not isinstance(items, list) or not items:
        raise InvalidMessage([Violation(RULE, "declarations", "a non-empty list")])
    rows: list[dict[str, Any]] = []
    found: list[Violation] = []
    for n, decl in enumerate(items, start=1):
        where = f"declarations[{n}]"
        if not isinstance(decl, Mapping):
            found.append(Violation(RULE, where, "a mapping"))
            continue
        head, problems = _head(decl, where)
        found += problems
        goods = decl.get("goods")
        if not isinstance(goods, list) or not goods:
            found.append(Violation(RULE, f"{where}/goods", "a non-empty list of lines"))
            continue
        for m, line in enumerate(goods, start=1):
            row, problems = _line(line, f"{where}/goods[{m}]")
            found += problems
            rows.append({**head, **row})
    seen: set[tuple[str, int]] = set()
    for row in rows:
        key = (row.get("entry_id", ""), row.get("item_no", 0))
        if key in seen:
            found.append(
                Violation(RULE, "itemNo", "the same line twice", value=f"{key[0]}/{key[1]}")
            )
        seen.add(key)
    if found:
        raise InvalidMessage(found, "declarations not loaded")
    return rows


def _head(decl: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[Violation]]:
    found = []
    number, entry = str(decl.get("exhibitionNo", "")), str(decl.get("entryId", ""))
    if not _EXHIBITION.fullmatch(number):
        found.append(
            Violation(RULE, f"{where}/exhibitionNo", "1-20 characters 0-9/A-Z", value=number)
        )
    if not _ENTRY.fullmatch(entry):
        found.append(Violation(RULE, f"{where}/entryId", "18 digits", value=entry))
    return {"exhibition_no": number, "entry_id": entry}, found


def _line(line: Any, where: str) -> tuple[dict[str, Any], list[Violation]]:
    if not isinstance(line, Mapping):
        return {}, [Violation(RULE, where, "a mapping")]
    row: dict[str, Any] = {}
    found = []
    for key, (column, needed, kind, size) in _LINE.items():
        raw = line.get(key)
        if raw is None or str(raw).strip() == "":
            if needed:
                found.append(Violation(RULE, f"{where}/{key}", "missing"))
            else:
                row[column] = None if kind == "qty" else ""
            continue
        value, problem = _value(str(raw).strip(), kind, size)
        if problem:
            found.append(Violation(RULE, f"{where}/{key}", problem, value=str(raw)))
        row[column] = value
    return row, found


def _value(text: str, kind: str, size: int) -> tuple[Any, str | None]:
    if kind == "text":
        return text, (f"at most {size} characters" if len(text) > size else None)
    if kind == "item":
        ok = text.isdigit() and 1 <= int(text) <= 999
        return (int(text) if ok else 0), (None if ok else "a whole number 1..999")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, "a number"
    places = 5 if kind == "qty" else 4
    if not number.is_finite() or number < 0 or number != round(number, places):
        return None, f"a number ≥ 0 with at most {places} decimals"
    if kind == "qty" and number == 0:
        return None, "more than 0"
    return number, None


def load(session: Session, model: type[DeclarationLine], rows: Sequence[dict[str, Any]]) -> int:
    """Store the rows in `model`'s table: each declaration named replaces its lines."""
    for entry in sorted({row["entry_id"] for row in rows}):
        session.execute(delete(model).where(model.entry_id == entry))
    session.flush()
    for row in rows:
        session.add(model(**row))
    session.flush()
    return len(rows)


def lines(
    session: Session,
    exhibition_no: str,
    entry_id: str | None = None,
    item_no: int | None = None,
    model: type[DeclarationLine] = TmpDeclarationGoods,
) -> list[Any]:
    """报关单商品查询: the lines of the exhibition's declarations, of one declaration, or one
    line. An item number without a declaration number is refused (the manual's screen
    enables 商品序号 only after 报关单海关编号)."""
    if item_no is not None and not entry_id:
        message = "商品序号 only with 报关单海关编号 (entryId)"
        raise InvalidMessage([Violation(RULE, "itemNo", message, value=str(item_no))])
    stmt = select(model).where(model.exhibition_no == exhibition_no)
    if entry_id:
        stmt = stmt.where(model.entry_id == entry_id)
    if item_no is not None:
        stmt = stmt.where(model.item_no == item_no)
    return list(session.scalars(stmt.order_by(model.entry_id, model.item_no)))


def view(line: DeclarationLine) -> dict[str, Any]:
    """One line as the manual's table shows it (decimals as strings, exact)."""
    out: dict[str, Any] = {"exhibitionNo": line.exhibition_no, "entryId": line.entry_id}
    for key, (column, _needed, kind, _size) in _LINE.items():
        value = getattr(line, column)
        out[key] = _plain(value) if kind in ("qty", "money") and value is not None else value
    return out


def _plain(value: Decimal) -> str:
    """12.50000 → "12.5", 2.00000 → "2"."""
    text = format(value.normalize(), "f")
    return text
