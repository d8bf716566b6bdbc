"""Simulated customs after storage: the export inventory lifecycle (R-ECX-5), the revoke
application, and returns with their tallies (R-ECX-7).

Customs follows every stored list (and every stored return) in `Tracked`:

- stored (120) → a sampled share to manual review (300) or inspection (500)
  (`SimConfig.review_rate`, `inspection_rate`, decided by the seeded hash) → concluded (399),
  each step `result_delay` after the one before (`tick`, run by the sender loop);
- concluded → released (800) once the parcel is on a stored total/sub waybill list (CEB607,
  R-ECX-6) and on a stored arrival (CEB507, R-ECX-3): by its invtNo where the line names
  one, else by its logisticsNo. Events come in any order, so it is checked again when the
  list is concluded and whenever a waybill list or arrival naming the parcel is stored;
- released → closed (899) once the parcel is on a stored departure (CEB509, R-ECX-4), before
  or after the release;
- a return application (CEB213) needs a released or closed list; it is stored, reviewed
  like a list, concluded, and released (800) once the returned parcel's tally (CEB215, the
  return's arrival at the supervised place: manual §4.3) is stored;
- a revoke application (CEB605) is stored (120) then approved (399) when the list it names
  is the sender's and customs holds it unreleased (stored, in review or inspection,
  concluded); the list is withdrawn (`REVOKED`): no longer live, so a modification
  (appType 2) declares it again and the four-document comparison runs again (R-ECX-2).
  The manual (§3.7) only says a revoke withdraws "存在问题的清单" so that the enterprise sends
  it again; which states allow it is this simulator's reading: those before the release,
  once customs holds the list (a returned list is fixed by a modification instead).

- a modification (appType 2, 改单: manual §3.3, §3.11) of a list customs holds unreleased
  (stored, in review or inspection, concluded) or of a stored total/sub waybill list is taken
  as a new version: a list is compared again and followed from storage anew ("已重新生成新的
  清单"), a waybill list's parcels are replaced. One of a released or closed list is refused
  (`refusal`): the answer names the list's state with customs and why (this simulator's
  reading, as for the revoke; the manual names no state).

A return never gets 505 (handed over) or 600 (suspended) here: the gateway maps them, the
simulator has no rule that would produce them.

Arrival, departure and waybill lists may be split over several messages with the same copNo
and msgSeqNo 1..msgCount; each part is its own record (key copNo|msgSeqNo) and its parcels
count as soon as it is stored. Everything is set-based (indexed by invtNo and logisticsNo,
in chunks) so that thousands of parcels cost a few queries, and receipts are batched, at
most 100 entities per receipt message (ceb-messages.md).

The codes in returnInfo other than 1800 (with 120) and 2600 (with 800), which ceb-messages.md
gives, are this simulator's own.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from lxml import etree
from sqlalchemy import Row, case, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from gateway.codes import AppStatus, AppType, ReturnStatus
from gateway.core import registry
from gateway.core.customs_sim.service import (
    Answer,
    Reply,
    _echo,
    _entry,
    _fraction,
    _refusal,
    result_delay,
)
from gateway.core.customs_sim.state import REVOKED, Declaration, held_declaration
from gateway.core.kinds import DocumentKind, Record, head_fields, key_text
from gateway.ecx.sim.numbers import with_numbers
from gateway.ecx.sim.state import ManifestLine, Tracked
from receipts.build import build_receipt
from receipts.build import epoch_return_time as stamp

log = logging.getLogger(__name__)

STORED = ReturnStatus.STORED.value
REVIEW = ReturnStatus.MANUAL_REVIEW.value
INSPECTION = ReturnStatus.INSPECTION.value
CONCLUDED = ReturnStatus.CONCLUDED.value
RELEASED = ReturnStatus.RELEASED.value
CLOSED = ReturnStatus.CLOSED.value
RETURNED = ReturnStatus.RETURNED.value
DECLARING = ReturnStatus.EPORT_DECLARING.value

#: steps that only wait for time to pass (`tick`)
WAITING = (STORED, REVIEW, INSPECTION)
#: R-ECX-5: a revoke withdraws a list customs holds and has not released yet
REVOCABLE = frozenset({STORED, REVIEW, INSPECTION, CONCLUDED})
#: R-ECX-7: only goods that were released can come back
RETURNABLE = frozenset({RELEASED, CLOSED})
#: 改单 (manual §3.3, §3.11; gateway/ecx/modify.py): the states of a record customs holds in
#: which it takes a modification as a new version: a list until it is released (as a
#: revoke), a total/sub waybill list once stored (its last state)
MODIFIABLE_HELD = {"inventory": REVOCABLE, "waybill_total": frozenset({STORED})}
#: a list customs released or closed: a modification is refused, the list stays as it is
SETTLED = frozenset({RELEASED, CLOSED})

INFO = {
    REVIEW: "[Code:2300;Desc:转人工审核]",
    INSPECTION: "[Code:2500;Desc:布控查验]",
    CONCLUDED: "[Code:2399;Desc:审结]",
    RELEASED: "[Code:2600;Desc:放行]",
    CLOSED: "[Code:2899;Desc:结关]",
}
REVOKE_APPROVED = "[Code:2399;Desc:撤销申请审核通过, 清单已撤销 invtNo={invt_no}]"
UNKNOWN_LIST = "2301"
NOT_REVOCABLE = "2302"
NOT_MODIFIABLE = "2303"
NOT_RETURNABLE = "2311"
RETURN_EXISTS = "2312"
#: how customs names a list's state in a refusal
STATE_NAMES = {
    DECLARING: "尚未入库",
    RETURNED: "已退单",
    STORED: "已入库",
    REVIEW: "人工审核中",
    INSPECTION: "查验中",
    CONCLUDED: "已审结",
    RELEASED: "已放行",
    CLOSED: "已结关",
    REVOKED: "已撤销",
}

#: the line element of each batch kind that names parcels (a tally is one parcel, its head)
LINE_TAGS = {"arrival": "ArrivalList", "departure": "DepartureList", "waybill_total": "WayBillList"}
#: tracked kind → the kinds of lines a parcel must be on to be released, then closed
RELEASE_NEEDS = {"inventory": ("waybill_total", "arrival"), "refund": ("refund_tally",)}
CLOSE_NEEDS = {"inventory": ("departure",)}
#: ids or numbers per IN list, receipt entities per message, due steps per tick
CHUNK = 500
RECEIPT_ENTITIES = 100
TICK_LIMIT = 1000

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def next_step(status: str, share: float, review_rate: float, inspection_rate: float) -> str:
    """What follows `status` among the steps that only wait: the sampled `share` of a stored
    record goes to review or inspection, everything else (and those, later) is concluded."""
    if status != STORED:
        return CONCLUDED
    if share < review_rate:
        return REVIEW
    return INSPECTION if share < review_rate + inspection_rate else CONCLUDED


def state_name(status: str) -> str:
    return STATE_NAMES.get(status, f"状态{status}")


def _delay(sim: Any) -> float:
    return result_delay(sim.sim)


# --- following stored records ---------------------------------------------------------------


def track(
    session: Session,
    sim: Any,
    kind: str,
    key: str,
    sender: str,
    fields: Mapping[str, str],
    entity: Mapping[str, str],
    status: str,
    version: int,
    *,
    step_at: float,
) -> None:
    """Follow (or follow again, after a modification) a declared list or return, whose
    answer `status` customs has just decided; its receipt goes out at `step_at` (epoch
    seconds, the receipt's returnTime), and the next step counts from there, so it can never
    overtake that receipt."""
    row = session.scalar(select(Tracked).where(Tracked.kind == kind, Tracked.business_key == key))
    if row is None:
        row = Tracked(kind=kind, business_key=key)
        session.add(row)
    row.sender_id, row.status, row.version = sender, status, version
    row.invt_no = fields.get("invtNo", "")
    row.logistics_no = fields.get("logisticsNo", "")
    row.step_at = step_at
    row.entity = json.dumps(dict(entity), ensure_ascii=False)


def _move(
    session: Session,
    ids: Sequence[int],
    old: Collection[str],
    new: str,
    not_before: float,
    gap: float,
) -> list[Row[Any]]:
    """Move the rows still in `old` to `new` (compare-and-set: a concurrent revoke or step
    wins), stamped `gap` after their last step and not before `not_before`."""
    later = Tracked.step_at + gap
    moved: list[Any] = []
    for part in chunks(ids):
        stmt = (
            update(Tracked)
            .where(Tracked.id.in_(part), Tracked.status.in_(old))
            .values(status=new, step_at=case((later > not_before, later), else_=not_before))
            .returning(
                Tracked.id,
                Tracked.kind,
                Tracked.business_key,
                Tracked.sender_id,
                Tracked.step_at,
                Tracked.entity,
            )
            .execution_options(synchronize_session=False)
        )
        moved.extend(session.execute(stmt).all())
    return moved


def _emit(session: Session, sim: Any, rows: Sequence[Row[Any]], status: str) -> None:
    """The receipts of one step, per tracked kind and sender, ≤100 entities a message; and
    customs' own record of each (`Declaration.status`, what `_refusal` and `stats` see)."""
    groups: dict[tuple[str, str], list[Row[Any]]] = {}
    for row in rows:
        groups.setdefault((row.kind, row.sender_id), []).append(row)
    for (kind, sender), group in groups.items():
        for part in chunks(group, RECEIPT_ENTITIES):
            sim._schedule(session, sender, _answer(_kind(kind), part, status))
        for keys in chunks([r.business_key for r in group]):
            session.execute(
                update(Declaration)
                .where(Declaration.kind == kind, Declaration.business_key.in_(keys))
                .values(status=status)
            )
        log.info("customs: %d %s record(s) of %s now %s", len(group), kind, sender, status)


def _kind(name: str) -> DocumentKind:
    kind = registry.kind(name)
    assert kind is not None, name  # only tracked kinds of this system reach here
    return kind


def _answer(kind: DocumentKind, rows: Sequence[Row[Any]], status: str) -> Any:
    entries = [_entry(json.loads(r.entity), status, INFO[status], stamp(r.step_at)) for r in rows]
    due = max(r.step_at for r in rows)
    body = build_receipt(kind.receipt_type, entries)
    return Answer(due, kind.receipt_type, body, f"{kind.name} {status}")


def tick(sim: Any) -> None:
    """The steps that only wait for time: stored → (review | inspection) → concluded, each
    `result_delay` after the one before; then what the concluded can go on to."""
    now, wait = time.time(), _delay(sim)
    with sim.db.session() as session:
        due = session.execute(
            select(Tracked.id, Tracked.kind, Tracked.business_key, Tracked.status, Tracked.version)
            .where(Tracked.status.in_(WAITING), Tracked.step_at <= now - wait)
            .order_by(Tracked.step_at)
            .limit(TICK_LIMIT)
        ).all()
        plan: dict[tuple[str, str], list[int]] = {}
        for row in due:
            plan.setdefault((row.status, _sampled_step(sim, row)), []).append(row.id)
        concluded: list[int] = []
        for (old, new), ids in plan.items():
            moved = _move(session, ids, (old,), new, now, 0.0)
            _emit(session, sim, moved, new)
            concluded += [r.id for r in moved if new == CONCLUDED]
        progress(session, sim, concluded)


def _sampled_step(sim: Any, row: Row[Any]) -> str:
    cfg = sim.sim
    share = _fraction(str(cfg.seed), row.kind, row.business_key, str(row.version), "review")
    return next_step(row.status, share, cfg.review_rate, cfg.inspection_rate)


def progress(session: Session, sim: Any, ids: Sequence[int]) -> None:
    """R-ECX-5: of the tracked rows `ids`, concluded lists on a waybill list and an arrival
    are released, released lists on a departure closed (the same pass closes a list just
    released); R-ECX-7: concluded returns with a tally are released."""
    if not ids:
        return
    now, gap = time.time(), _delay(sim)
    for kind, needs in RELEASE_NEEDS.items():
        ready = _covered(session, ids, kind, CONCLUDED, needs)
        _emit(session, sim, _move(session, ready, (CONCLUDED,), RELEASED, now + gap, gap), RELEASED)
    for kind, needs in CLOSE_NEEDS.items():
        ready = _covered(session, ids, kind, RELEASED, needs)
        _emit(session, sim, _move(session, ready, (RELEASED,), CLOSED, now + gap, gap), CLOSED)


def _covered(
    session: Session, ids: Sequence[int], kind: str, status: str, needs: Sequence[str]
) -> list[int]:
    """The rows of `ids` of `kind` in `status` whose parcel is on a line of every kind of
    `needs`: one query per chunk, each need an indexed EXISTS."""
    found: list[int] = []
    for part in chunks(ids):
        # status and kind are checked here, not in SQL: the planner then finds the rows by
        # id rather than by the (status, step_at) index, whatever the number in `status`
        stmt = select(Tracked.id, Tracked.kind, Tracked.status).where(
            Tracked.id.in_(part), *(_on_line(need) for need in needs)
        )
        found += [r.id for r in session.execute(stmt) if (r.kind, r.status) == (kind, status)]
    return found


def _on_line(line_kind: str) -> Any:
    """A line names the parcel by invtNo when it gives one, else by logisticsNo."""
    by_invt = select(ManifestLine.id).where(
        ManifestLine.kind == line_kind,
        ManifestLine.invt_no == Tracked.invt_no,
        Tracked.invt_no != "",
    )
    by_parcel = select(ManifestLine.id).where(
        ManifestLine.kind == line_kind,
        ManifestLine.invt_no == "",
        ManifestLine.logistics_no == Tracked.logistics_no,
    )
    return or_(by_invt.exists(), by_parcel.exists())


# --- accepting a record: the checks every kind here shares ----------------------------------


@dataclass(frozen=True)
class Accepted:
    """A declared record customs stored (120)."""

    record: Record
    key: str
    entity: Mapping[str, str]
    held: Declaration


Check = Callable[[Session, Record, str], str | None]


def _accept(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
    check: Check | None = None,
) -> tuple[Any, list[Accepted]]:
    """The generic answer (numbers, duplicate or nothing-to-modify refusals, e-port 2, then
    120 or the sampled 100), with `check` refusing a declared record (100, its reason) first.
    Returns the reply and the declared records stored."""
    reply = Reply(sim.sim, kind)
    stored: list[Accepted] = []
    for rec in (with_numbers(kind, r) for r in records):
        key = key_text(rec.business_key)
        held = held_declaration(session, kind.name, key)
        entity = _echo(kind, rec)
        refused = refusal(kind, rec, held)
        if refused is not None:
            reply.refuse(entity, *refused)
            continue
        reply.declaring(entity, rec)
        held = _hold(session, held, kind.name, key, sender, cop_msg_id)
        declared = rec.app_status == AppStatus.DECLARE
        why = check(session, rec, sender) if check is not None and declared else None
        result = (RETURNED, why) if why else sim._result(kind, key, held.versions)
        held.status = result[0]
        reply.result(entity, *result)
        if result[0] == STORED and declared:
            stored.append(Accepted(rec, key, entity, held))
    return reply, stored


def refusal(kind: DocumentKind, rec: Record, held: Declaration | None) -> tuple[str, str] | None:
    """Customs' business refusal of a record (`service._refusal`), but a modification of a
    record it holds in a state of `MODIFIABLE_HELD` is taken as a new version, and one of a
    list it has released or closed is refused with the reason. That refusal's returnStatus
    is the list's state with customs (800, 899), not a negative code: the list stays where
    it is, and the gateway's record shows it, with why the modification was not taken,
    rather than "storage failed" (which the enterprise could delete) for a list customs
    released."""
    if rec.app_type != AppType.MODIFY or held is None:
        return _refusal(rec, held)
    if held.status in MODIFIABLE_HELD.get(kind.name, frozenset()):
        return None
    if kind.name == "inventory" and held.status in SETTLED:
        invt_no = rec.fields.get("invtNo", "")
        desc = f"清单{state_name(held.status)}, 不能修改 invtNo={invt_no}"
        return held.status, f"[Code:{NOT_MODIFIABLE};Desc:{desc}]"
    return _refusal(rec, held)


def _hold(
    session: Session, held: Declaration | None, kind: str, key: str, sender: str, cop_msg_id: str
) -> Declaration:
    if held is None:
        held = Declaration(kind=kind, business_key=key, sender_id=sender, versions=0)
        session.add(held)
    held.versions, held.last_cop_msg_id = held.versions + 1, cop_msg_id
    held.status = DECLARING  # complete before the checks' queries flush it
    return held


def _list_by(session: Session, column: Any, value: str) -> Tracked | None:
    """The newest inventory list customs follows with this invtNo (or logisticsNo), locked."""
    if not value:
        return None
    stmt = (
        select(Tracked)
        .where(Tracked.kind == "inventory", column == value)
        .order_by(Tracked.id.desc())
        .limit(1)
        .with_for_update()
    )
    return session.scalar(stmt)


# --- arrival, departure, total/sub waybill list, return tally ---------------------------------


def declare_manifest(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
) -> list[Any]:
    """CEB507/509/607/215: the generic answer; the parcels of each stored record are kept
    (a modification replaces them, a deletion drops them) and the lists (or returns) they
    name checked again for release and close."""
    check = _tally_refusal if kind.name == "refund_tally" else None
    reply, stored = _accept(sim, session, kind, records, cop_msg_id, sender, check)
    lines: list[dict[str, str]] = []
    for accepted in stored:
        lines += _keep_lines(session, kind, accepted.record, accepted.key)
    progress(session, sim, _candidates(session, kind.name, lines))
    answers: list[Any] = reply.answers()
    return answers


def parcels_of(kind: DocumentKind, rec: Record) -> list[dict[str, str]]:
    """The parcels a record names: its list lines, or (a tally) its head."""
    if kind.name not in LINE_TAGS:
        return [_parcel(rec.fields)]
    tag = LINE_TAGS[kind.name]
    return [
        _parcel(head_fields(child, None))
        for child in rec.element
        if isinstance(child.tag, str) and etree.QName(child).localname == tag
    ]


def _parcel(fields: Mapping[str, str]) -> dict[str, str]:
    return {"logistics_no": fields.get("logisticsNo", ""), "invt_no": fields.get("invtNo", "")}


def _keep_lines(
    session: Session, kind: DocumentKind, rec: Record, key: str
) -> list[dict[str, str]]:
    session.execute(
        delete(ManifestLine).where(ManifestLine.kind == kind.name, ManifestLine.business_key == key)
    )
    if rec.app_type == AppType.DELETE:
        return []
    lines = [p for p in parcels_of(kind, rec) if p["logistics_no"] or p["invt_no"]]
    if lines:
        rows = [{"kind": kind.name, "business_key": key, **line} for line in lines]
        session.execute(insert(ManifestLine), rows)
    return lines


def _candidates(session: Session, line_kind: str, lines: Sequence[Mapping[str, str]]) -> list[int]:
    """Tracked rows the new lines may move on: concluded or released, named by the lines."""
    kind = "refund" if line_kind == "refund_tally" else "inventory"
    found: set[int] = set()
    for column, name in ((Tracked.logistics_no, "logistics_no"), (Tracked.invt_no, "invt_no")):
        numbers = sorted({line[name] for line in lines if line[name]})
        for part in chunks(numbers):
            # by the number's index; the status is checked here (see `_covered`)
            stmt = select(Tracked.id, Tracked.status).where(Tracked.kind == kind, column.in_(part))
            found.update(r.id for r in session.execute(stmt) if r.status in (CONCLUDED, RELEASED))
    return sorted(found)


def _tally_refusal(session: Session, rec: Record, sender: str) -> str | None:
    """R-ECX-7: a tally is of a parcel whose list customs knows (by invtNo, else logisticsNo)."""
    invt_no, parcel = rec.fields.get("invtNo", ""), rec.fields.get("logisticsNo", "")
    row = (
        _list_by(session, Tracked.invt_no, invt_no)
        if invt_no
        else _list_by(session, Tracked.logistics_no, parcel)
    )
    if row is None:
        desc = f"理货明细单对应的清单不存在 invtNo={invt_no} logisticsNo={parcel}"
        return f"[Code:{UNKNOWN_LIST};Desc:{desc}]"
    return None


# --- CEB605 revoke application ----------------------------------------------------------------


def declare_revoke(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
) -> list[Any]:
    """CEB605 (R-ECX-5): stored (120) then approved (399) when the named list may be revoked;
    the list is withdrawn at once (nothing moves it on any more), the approval follows."""
    reply, stored = _accept(sim, session, kind, records, cop_msg_id, sender, _revoke_refusal)
    approved: list[dict[str, str]] = []
    for accepted in stored:
        invt_no = accepted.record.fields.get("invtNo", "")
        _withdraw(session, invt_no)
        accepted.held.status = CONCLUDED
        info = REVOKE_APPROVED.format(invt_no=invt_no)
        approved.append({**accepted.entity, "returnStatus": CONCLUDED, "returnInfo": info})
    answers: list[Any] = reply.answers()
    if approved:
        answers.append(_approval(sim, kind, approved))
    return answers


def _revoke_refusal(session: Session, rec: Record, sender: str) -> str | None:
    invt_no = rec.fields.get("invtNo", "")
    row = _list_by(session, Tracked.invt_no, invt_no)
    if row is None or row.sender_id != sender:
        return f"[Code:{UNKNOWN_LIST};Desc:撤销申请单对应的清单不存在 invtNo={invt_no}]"
    if row.status not in REVOCABLE:
        desc = f"清单{state_name(row.status)}, 不能撤销 invtNo={invt_no}"
        return f"[Code:{NOT_REVOCABLE};Desc:{desc}]"
    return None


def _withdraw(session: Session, invt_no: str) -> None:
    """The list is no longer live in customs: no step moves it on, a modification may
    declare it again (`service._refusal`)."""
    keys = session.scalars(
        update(Tracked)
        .where(
            Tracked.kind == "inventory",
            Tracked.invt_no == invt_no,
            Tracked.status.in_(REVOCABLE),
        )
        .values(status=REVOKED)
        .returning(Tracked.business_key)
        .execution_options(synchronize_session=False)
    ).all()
    session.execute(
        update(Declaration)
        .where(Declaration.kind == "inventory", Declaration.business_key.in_(keys))
        .values(status=REVOKED)
    )
    log.info("customs revoked inventory list %s (%s)", invt_no, ", ".join(keys))


def _approval(sim: Any, kind: DocumentKind, entries: list[dict[str, str]]) -> Any:
    due = time.time() + 2 * _delay(sim)
    stamped = [{**entry, "returnTime": stamp(due)} for entry in entries]
    body = build_receipt(kind.receipt_type, stamped)
    return Answer(due, kind.receipt_type, body, "revoke approved")


# --- CEB213 return application ----------------------------------------------------------------


def declare_refund(
    sim: Any,
    session: Session,
    kind: DocumentKind,
    records: list[Record],
    cop_msg_id: str,
    sender: str,
) -> list[Any]:
    """CEB213 (R-ECX-7): a return of a released or closed list is stored (120), then follows
    a list's path: sampled review or inspection, concluded, released once its tally is in."""
    reply, stored = _accept(sim, session, kind, records, cop_msg_id, sender, _refund_refusal)
    for accepted in stored:
        fields = accepted.record.fields
        version = accepted.held.versions
        track(
            session, sim, "refund", accepted.key, sender, fields, accepted.entity, STORED,
            version, step_at=reply.result_epoch,
        )  # fmt: skip
    answers: list[Any] = reply.answers()
    return answers


def _refund_refusal(session: Session, rec: Record, sender: str) -> str | None:
    invt_no = rec.fields.get("invtNo", "")
    row = _list_by(session, Tracked.invt_no, invt_no)
    if row is None or json.loads(row.entity).get("ebcCode") != rec.fields.get("ebcCode"):
        return f"[Code:{UNKNOWN_LIST};Desc:退货申请单对应的清单不存在 invtNo={invt_no}]"
    if row.status not in RETURNABLE:
        desc = f"清单{state_name(row.status)}, 未放行不能退货 invtNo={invt_no}"
        return f"[Code:{NOT_RETURNABLE};Desc:{desc}]"
    other = session.scalar(
        select(Tracked.business_key).where(
            Tracked.kind == "refund",
            Tracked.invt_no == invt_no,
            Tracked.business_key != key_text(rec.business_key),
            Tracked.status != RETURNED,
        )
    )
    if other is not None:
        return f"[Code:{RETURN_EXISTS};Desc:该清单已有退货申请单 invtNo={invt_no}]"
    return None


def register(
    behaviours: MutableMapping[str, Callable[..., list[Any]]],
    ticks: list[Callable[[Any], None]],
) -> None:
    for name in (*LINE_TAGS, "refund_tally"):
        behaviours[name] = declare_manifest
    behaviours["invt_cancel"] = declare_revoke
    behaviours["refund"] = declare_refund
    ticks.append(tick)
