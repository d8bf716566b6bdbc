"""The resident registry (边民备案, R-BDR-2): residents, mutual-aid groups and cooperatives with
their members, as local commerce registers them, and the supervised places with the biometric
method customs keeps for each.

Two ways in, one loader (`load`):
- an admin's file (`brd-registry-load FILE`): JSON (`{"places": [...], "residents": [...],
  "groups": [...], "cooperatives": [...]}`), CSV (residents only, one per row, the JSON keys
  as header) or XML (a BRD201Message);
- the reference-data message customs sends on the receipts channel (BRD201Message,
  `registry.xsd`, parsed hardened and validated first, R-COM-1). What customs sends is synced
  to customs by definition (已同步海关); a file says so itself (`synced`, default false).

Every value is checked (ID numbers by their GB 11643 check digit) and a bad file is refused
whole, each violation naming its row and field. The biometric flag is never loaded: only
enrolment sets it, from what was captured (R-BDR-3).
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from devices.idcard import LONG_TERM, valid_id_number
from gateway import xmlsafe
from gateway.border.identity import BiometricMethod, Role, mask_id
from gateway.border.models import BrdPlace
from gateway.border.people_codes import (
    SOURCE_SERVICE_APP,
    BiometricFlag,
    ResidentStatus,
    Sex,
    parse_label,
)
from gateway.border.people_models import (
    BrdMember,
    BrdOrganisation,
    BrdResident,
    BrdSession,
    BrdTemplate,
)
from gateway.core.models import utcnow
from gateway.errors import InvalidInput, InvalidMessage, NotFound, Violation

log = logging.getLogger(__name__)

RULE = "R-BDR-2"
NS = "urn:customs-gateway:border:registry"
MESSAGE_TYPE = "BRD201Message"
XSD = Path(__file__).resolve().parent / "registry.xsd"
SECTIONS = ("places", "residents", "groups", "cooperatives")
_ORG_ROLE = {"groups": Role.GROUP_REPRESENTATIVE, "cooperatives": Role.COOPERATIVE_REPRESENTATIVE}


@dataclass(frozen=True)
class Counts:
    places: int = 0
    residents: int = 0
    organisations: int = 0
    members: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


# --- reading files and messages ---------------------------------------------------------------


def read_file(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The sections of a registry file, by its extension (.json, .csv, .xml)."""
    data = Path(path).read_bytes()
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return read_json(data)
    if suffix == ".csv":
        return {"residents": read_csv(data)}
    if suffix == ".xml":
        return read_xml(data)
    raise InvalidMessage([Violation(RULE, "(file)", f"{suffix or 'no extension'}: use .json, "
                                    ".csv or .xml")])  # fmt: skip


def read_json(data: bytes) -> dict[str, list[dict[str, Any]]]:
    try:
        parsed = json.loads(data)
    except ValueError as exc:
        raise InvalidMessage([Violation(RULE, "(file)", f"not JSON: {exc}")]) from None
    if not isinstance(parsed, dict) or set(parsed) - set(SECTIONS):
        raise InvalidMessage([Violation(RULE, "(file)", f"a JSON object of {', '.join(SECTIONS)}")])
    return {k: list(v) for k, v in parsed.items() if isinstance(v, list)}


def read_csv(data: bytes) -> list[dict[str, Any]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidMessage([Violation(RULE, "(file)", "CSV must be UTF-8")]) from None
    return [
        {k: v for k, v in row.items() if k is not None and v != ""}
        for row in csv.DictReader(io.StringIO(text))
    ]


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def read_xml(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """The sections of a BRD201Message: parsed hardened, then validated (R-COM-1)."""
    tree = xmlsafe.parse(data)
    root = tree.getroot()
    if etree.QName(root).text != f"{{{NS}}}{MESSAGE_TYPE}":
        raise InvalidMessage([Violation("R-COM-1", "(root)", f"not a {MESSAGE_TYPE} in {NS}")])
    schema = _schema()
    if not schema.validate(tree):
        raise InvalidMessage([
            Violation("R-COM-1", e.path or "(document)", e.message, line=e.line)
            for e in list(schema.error_log)[:20]
        ])  # fmt: skip
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in SECTIONS}
    for entry in root:
        if not isinstance(entry.tag, str):
            continue
        values: dict[str, Any] = {}
        for child in entry:
            if isinstance(child.tag, str):
                name = _snake(etree.QName(child).localname)
                if name == "member":
                    values.setdefault("members", []).append(child.text or "")
                else:
                    values[name] = (child.text or "").strip()
        kind = etree.QName(entry).localname
        if kind == "Organisation":
            section = (
                "groups" if values.pop("kind") == Role.GROUP_REPRESENTATIVE else "cooperatives"
            )
            out[section].append(values)
        else:
            out[{"Place": "places", "Resident": "residents"}[kind]].append(values)
    return out


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def build_xml(sections: Mapping[str, Iterable[Mapping[str, Any]]], guid: str = "0") -> bytes:
    """A BRD201Message for rows shaped like `load` takes them (the simulated customs and the
    tests send it)."""
    root = etree.Element(f"{{{NS}}}{MESSAGE_TYPE}", nsmap={None: NS})
    root.set("guid", guid)
    root.set("version", "1.0")
    orders = {
        "places": ("Place", ("code", "name", "district", "operator", "method")),
        "residents": ("Resident", ("id_number", "name", "sex", "district", "address",
                                   "id_valid_from", "id_valid_to", "status", "source",
                                   "registration_valid_to", "enabled")),
    }  # fmt: skip
    org_fields = ("registration_no", "name", "uscc", "district", "representative", "enabled")
    for section in SECTIONS:
        for row in sections.get(section) or ():
            if section in orders:
                element, fields = orders[section]
                entry = etree.SubElement(root, f"{{{NS}}}{element}")
            else:
                entry = etree.SubElement(root, f"{{{NS}}}Organisation")
                etree.SubElement(entry, f"{{{NS}}}kind").text = _ORG_ROLE[section].value
                fields = org_fields
            for name in fields:
                if row.get(name) is not None:
                    value = _XML_CODES.get(name, _same)(row[name])
                    etree.SubElement(entry, f"{{{NS}}}{_camel(name)}").text = _xml_text(value)
            for member in row.get("members") or ():
                etree.SubElement(entry, f"{{{NS}}}member").text = member
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _same(value: Any) -> Any:
    return value


#: rows may give codes by their labels (正常, 启用); the message carries the codes
_XML_CODES: dict[str, Any] = {
    "status": lambda v: parse_label(ResidentStatus, str(v), "status").value,
    "sex": lambda v: parse_label(Sex, str(v), "sex").value,
    "enabled": lambda v: _flag(v),
}


def _xml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return LONG_TERM
    return value.isoformat() if isinstance(value, date) else str(value)


# --- checking rows ----------------------------------------------------------------------------


class _Rows:
    """Collects violations while rows are turned into values."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def field(self, where: str, row: Mapping[str, Any], name: str, convert: Any,
              default: Any = ...) -> Any:  # fmt: skip
        raw = row.get(name)
        if raw is None or raw == "":
            if default is ...:
                self.violations.append(Violation(RULE, f"{where}.{name}", "required"))
            return None if default is ... else default
        try:
            return convert(raw)
        except (ValueError, TypeError, KeyError) as exc:
            self.violations.append(Violation(RULE, f"{where}.{name}", str(exc)))
            return None


def _id_number(raw: Any) -> str:
    text = str(raw).strip().upper()
    if not valid_id_number(text):
        raise InvalidInput("not an 18-character ID number with a valid check digit (GB 11643)")
    return text


def _day(raw: Any) -> date:
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    return date.fromisoformat(text if "-" in text else f"{text[:4]}-{text[4:6]}-{text[6:8]}")


def _valid_to(raw: Any) -> date | None:
    return None if str(raw).strip() in (LONG_TERM, "long-term") else _day(raw)


def _flag(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "启用", "已同步海关"):
        return True
    if text in ("false", "0", "no", "停用", "未同步"):
        return False
    raise InvalidInput(f"{raw!r} is not true/false")


def _text(limit: int) -> Any:
    def convert(raw: Any) -> str:
        text = str(raw).strip()
        if not text or len(text) > limit:
            raise InvalidInput(f"1 to {limit} characters")
        return text

    return convert


def _district(raw: Any) -> str:
    text = str(raw).strip()
    if len(text) != 4 or not text.isdigit():
        raise InvalidInput("a 4-digit customs district code (关区代码)")
    return text


def _resident_values(rows: _Rows, where: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id_number": rows.field(where, row, "id_number", _id_number),
        "name": rows.field(where, row, "name", _text(50)),
        "sex": rows.field(where, row, "sex", lambda v: parse_label(Sex, str(v), "sex").value),
        "district": rows.field(where, row, "district", _district),
        "address": rows.field(where, row, "address", _text(200), ""),
        "id_valid_from": rows.field(where, row, "id_valid_from", _day),
        "id_valid_to": rows.field(where, row, "id_valid_to", _valid_to),
        "status": rows.field(
            where, row, "status", lambda v: parse_label(ResidentStatus, str(v), "status").value
        ),
        "source": rows.field(where, row, "source", _text(50), SOURCE_SERVICE_APP),
        "registration_valid_to": rows.field(where, row, "registration_valid_to", _day),
        "enabled": rows.field(where, row, "enabled", _flag, True),
    }


# --- loading ----------------------------------------------------------------------------------


def load(
    session: Session, sections: Mapping[str, list[dict[str, Any]]], *, from_customs: bool
) -> Counts:
    """Upsert the sections' rows; all or nothing (InvalidMessage naming every bad field)."""
    rows = _Rows()
    places = [
        _place_values(rows, f"places[{i}]", r) for i, r in enumerate(sections.get("places") or [])
    ]
    residents = [
        (_resident_values(rows, f"residents[{i}]", r),
         True if from_customs else rows.field(f"residents[{i}]", r, "synced", _flag, None))
        for i, r in enumerate(sections.get("residents") or [])
    ]  # fmt: skip
    if rows.violations:
        raise InvalidMessage(rows.violations)
    for values in places:
        session.merge(BrdPlace(**values))
    for values, synced in residents:
        _upsert_resident(session, values, synced)
    session.flush()
    organisations, members = 0, 0
    for section in ("groups", "cooperatives"):
        for i, row in enumerate(sections.get(section) or []):
            members += _upsert_organisation(session, rows, f"{section}[{i}]", section, row)
            organisations += 1
    if rows.violations:
        raise InvalidMessage(rows.violations)
    return Counts(len(places), len(residents), organisations, members)


def _place_values(rows: _Rows, where: str, row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "place_code": rows.field(where, row, "code", _text(20)),
        "name": rows.field(where, row, "name", _text(100)),
        "district": rows.field(where, row, "district", _district),
        # 监管场所经营人: the gateway enterprise whose key signs the place's declarations
        "operator_code": rows.field(where, row, "operator", _text(18)),
        "method": rows.field(where, row, "method", lambda v: BiometricMethod(str(v)).value),
    }


def _upsert_resident(session: Session, values: dict[str, Any], synced: bool | None) -> None:
    """`synced` None (a file that does not say): a new resident is not synced, a known one
    keeps its state."""
    row = session.scalar(select(BrdResident).where(BrdResident.id_number == values["id_number"]))
    if row is None:
        row = BrdResident(biometrics=BiometricFlag.NONE.value)
        session.add(row)
    for key, value in values.items():
        setattr(row, key, value)
    if synced is not None or row.synced is None:
        row.synced = bool(synced)
    row.last_operation_at = utcnow()


def _upsert_organisation(
    session: Session, rows: _Rows, where: str, section: str, row: Mapping[str, Any]
) -> int:
    before = len(rows.violations)
    reg_no = rows.field(where, row, "registration_no", _text(30))
    name = rows.field(where, row, "name", _text(200))
    district = rows.field(where, row, "district", _district)
    uscc = rows.field(where, row, "uscc", _text(18), None)
    enabled = rows.field(where, row, "enabled", _flag, True)
    rep = _resident_id(session, rows, f"{where}.representative", row.get("representative"))
    members = [
        _resident_id(session, rows, f"{where}.members[{j}]", m)
        for j, m in enumerate(row.get("members") or [])
    ]
    if len(rows.violations) > before or rep is None:
        return 0
    org = session.scalar(select(BrdOrganisation).where(BrdOrganisation.registration_no == reg_no))
    if org is None:
        org = BrdOrganisation(registration_no=reg_no)
        session.add(org)
    org.kind, org.name, org.uscc = _ORG_ROLE[section].value, name, uscc
    org.district, org.representative_id, org.enabled = district, rep, enabled
    session.flush()
    session.execute(delete(BrdMember).where(BrdMember.organisation_id == org.id))
    for resident_id in dict.fromkeys(m for m in members if m is not None):
        session.add(BrdMember(organisation_id=org.id, resident_id=resident_id))
    return len(members)


def _resident_id(session: Session, rows: _Rows, where: str, raw: Any) -> int | None:
    try:
        number = _id_number(raw)
    except (ValueError, TypeError):
        rows.violations.append(Violation(RULE, where, "not a valid ID number"))
        return None
    found = session.scalar(select(BrdResident.id).where(BrdResident.id_number == number))
    if found is None:
        rows.violations.append(
            Violation(RULE, where, f"{mask_id(number)} is not a registered resident")
        )
    return found


# --- reference data from customs --------------------------------------------------------------


def handle_envelope(db: Any, body: bytes) -> bool:
    """The system's reference-data handler: True when `body` carried a BRD201Message (taken
    in, or refused and logged — never with an ID number in the log)."""
    if f">{MESSAGE_TYPE}<".encode() not in body[:4096]:
        return False
    from transports.envelope import unwrap

    try:
        env = unwrap(body)
        if env.msg_type != MESSAGE_TYPE:
            return False
        sections = read_xml(env.data)
        with db.session() as session:
            counts = load(session, sections, from_customs=True)
    except InvalidMessage as exc:
        log.warning("border registry from customs refused: %d violation(s)", len(exc.violations))
        return True
    log.info("border registry from customs: %s", counts.as_dict())
    return True


# --- look-ups and deletion --------------------------------------------------------------------


def resident_by_number(session: Session, id_number: str) -> BrdResident | None:
    return session.scalar(select(BrdResident).where(BrdResident.id_number == id_number))


def place(session: Session, code: str) -> BrdPlace:
    found = session.get(BrdPlace, code)
    if found is None:
        raise NotFound(f"no supervised place {code!r} is registered (监管场所编号)")
    return found


def delete_resident(session: Session, id_number: str) -> None:
    """Remove a resident with their templates and sessions (R-BDR-3: templates go with the
    resident); refused while they represent or belong to an organisation."""
    row = resident_by_number(session, id_number)
    if row is None:
        raise NotFound(f"no resident {mask_id(id_number)} in the registry")
    tied = session.scalar(
        select(BrdOrganisation.registration_no).where(BrdOrganisation.representative_id == row.id)
    ) or session.scalar(select(BrdMember.id).where(BrdMember.resident_id == row.id))
    if tied:
        why = "represents or belongs to a group or cooperative: remove them there first"
        raise InvalidMessage([Violation(RULE, "id_number", f"{mask_id(id_number)} {why}")])
    session.execute(delete(BrdTemplate).where(BrdTemplate.resident_id == row.id))
    session.execute(delete(BrdSession).where(BrdSession.resident_id == row.id))
    session.delete(row)
