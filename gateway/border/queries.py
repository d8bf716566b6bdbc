"""The terminal's two query pages (R-BDR-10, border.md §4.4, §4.5, §5.3, §5.4), per form.

- 申请记录查询 (application records, `records`): every record the declarant made —
  applications, changes and revokes — filtered by 关区代码, 预录入编号, 申报单编号, 申报类型,
  申报状态, 业务模式 and 最近操作时间 (a range, or 当天/本周 in Beijing time); operations 修改,
  复制, 删除 by state.
- 单据查询 (documents, `documents`): the declarations customs numbered (申报单编号), without
  the 预录入编号 and 申报类型 conditions; operations 变更 and 撤销 by state.

Both are the declarant's own (the session's person in the role picked), newest operation
first, 10 a page ("显示第 1 到第 10 条记录, 总共 14 条记录 每页显示 10 条记录"); ID numbers
are masked (450*****214). A 待认证 record past its deadline is shown 认证超时 (checked first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.border import declarations, kinds, store
from gateway.border.codes import (
    DECL_TYPE_NAMES,
    DISTRICTS,
    MODE_NAMES,
    STATUS_NAMES,
    TRANSPORT_NAMES,
    BusinessMode,
    DeclType,
    Form,
    status_name,
)
from gateway.border.identity import Declarant, mask_id
from gateway.border.models import BrdDeclaration
from gateway.codes import CHINA_TZ
from gateway.core.models import Document, StatusChange, utcnow
from gateway.core.status import Status, status_of
from gateway.errors import ConfigError, InvalidMessage, NotFound, Violation

QUERY = "R-BDR-10"
PAGE_SIZE, MAX_SIZE = 10, 100
Quick = Literal["today", "week"]


@dataclass(frozen=True)
class Conditions:
    """A page's conditions, all optional. `pre_entry_no` and `decl_type` are the records
    page's only (the documents page has neither, manual §4.5)."""

    district: str | None = None  # 关区代码
    pre_entry_no: str | None = None  # 预录入编号
    decl_no: str | None = None  # 进境/进口申报单编号
    decl_type: str | None = None  # 申报类型 00/01/02
    status: str | None = None  # 申报状态: a value, or its name on the page (待认证)
    business_mode: str | None = None  # 业务模式
    from_time: datetime | None = None  # 最近操作时间 from
    to_time: datetime | None = None  # … to
    quick: Quick | None = None  # 当天 / 本周 (Beijing time)
    page: int = 1
    size: int = PAGE_SIZE

    def problems(self, page: str) -> list[Violation]:
        found = []
        if page == "documents":
            for name in ("pre_entry_no", "decl_type"):
                if getattr(self, name):
                    found.append(
                        Violation(
                            QUERY,
                            name,
                            "not a condition of 单据查询 (only of 申请记录查询)",
                            value=getattr(self, name),
                        )
                    )
        if self.district and self.district not in DISTRICTS:
            found.append(
                Violation(QUERY, "district", "not a customs district", value=self.district)
            )
        if self.decl_type and self.decl_type not in [t.value for t in DeclType]:
            found.append(
                Violation(QUERY, "decl_type", "00 申请, 01 变更 or 02 撤销", value=self.decl_type)
            )
        if self.business_mode and self.business_mode not in [m.value for m in BusinessMode]:
            found.append(
                Violation(QUERY, "business_mode", "01, 02 or 03", value=self.business_mode)
            )
        if self.status and not self.statuses():
            found.append(Violation(QUERY, "status", "no such status", value=self.status))
        if self.quick and self.quick not in ("today", "week"):
            found.append(Violation(QUERY, "quick", "today (当天) or week (本周)", value=self.quick))
        if self.quick and (self.from_time or self.to_time):
            found.append(
                Violation(QUERY, "quick", "当天/本周 or a time range, not both", value=self.quick)
            )
        if self.from_time and self.to_time and self.to_time < self.from_time:
            found.append(
                Violation(
                    QUERY,
                    "to_time",
                    "ends before from_time",
                    value=f"{self.from_time}..{self.to_time}",
                )
            )
        if self.page < 1:
            found.append(Violation(QUERY, "page", "pages start at 1", value=str(self.page)))
        if not 1 <= self.size <= MAX_SIZE:
            found.append(Violation(QUERY, "size", f"1 to {MAX_SIZE} a page", value=str(self.size)))
        return found

    def statuses(self) -> list[str]:
        assert self.status
        try:
            return [status_of(self.status).value]
        except ConfigError:
            names = [v for v, n in STATUS_NAMES.items() if self.status in (n, n.split("-")[-1])]
            return names

    def span(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The 最近操作时间 range the conditions mean, as aware datetimes."""
        if self.quick is None:
            return self.from_time, self.to_time
        today = now.astimezone(CHINA_TZ).date()
        start = today if self.quick == "today" else today - timedelta(days=today.weekday())
        return _beijing(start), None


def _beijing(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=CHINA_TZ)


def records(
    session: Session, who: Declarant, form: Form, cond: Conditions, now: datetime | None = None
) -> dict[str, Any]:
    """申请记录查询: the declarant's applications, changes and revokes of `form`."""
    return _page(session, who, form, cond, "records", now or utcnow())


def documents(
    session: Session, who: Declarant, form: Form, cond: Conditions, now: datetime | None = None
) -> dict[str, Any]:
    """单据查询: the declarant's declarations of `form` that customs numbered."""
    return _page(session, who, form, cond, "documents", now or utcnow())


def _page(
    session: Session, who: Declarant, form: Form, cond: Conditions, page: str, now: datetime
) -> dict[str, Any]:
    problems = cond.problems(page)
    if problems:
        raise InvalidMessage(problems)
    declarations.expire_in(session, now)
    stmt = _filtered(who, form, cond, page, now)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    window = stmt.offset((cond.page - 1) * cond.size).limit(cond.size)
    chosen = [(d, doc) for d, doc in session.execute(window).all()]
    first = (cond.page - 1) * cond.size + 1 if chosen else 0
    last = first + len(chosen) - 1 if chosen else 0
    return {
        "total": total,
        "page": cond.page,
        "size": cond.size,
        "shown": f"显示第 {first} 到第 {last} 条记录, 总共 {total} 条记录 "
        f"每页显示 {cond.size} 条记录",
        "records": [view(session, d, doc, page) for d, doc in chosen],
    }


def _filtered(
    who: Declarant, form: Form, cond: Conditions, page: str, now: datetime
) -> Select[Any]:
    d = BrdDeclaration
    kinds_of = [store.KIND_OF_FORM[form]] + ([store.REVOKE_KIND] if page == "records" else [])
    stmt: Any = (
        select(d, Document)
        .join(Document, (Document.business_key == d.pre_entry_no) & Document.kind.in_(kinds_of))
        .where(
            d.form == form.value,
            d.id_number == who.id_number,
            d.declarant_type == who.role.value,
            Document.status != Status.DELETED.value,
        )
    )
    if page == "documents":  # what customs numbered: applications and changes
        stmt = stmt.where(d.decl_type != DeclType.REVOKE.value, d.decl_no.is_not(None))
    if cond.decl_no:
        stmt = stmt.where(d.decl_no == cond.decl_no)
    if cond.district:
        stmt = stmt.where(d.district == cond.district)
    if cond.pre_entry_no:
        stmt = stmt.where(d.pre_entry_no == cond.pre_entry_no)
    if cond.decl_type:
        stmt = stmt.where(d.decl_type == cond.decl_type)
    if cond.business_mode:
        stmt = stmt.where(d.business_mode == cond.business_mode)
    if cond.status:
        stmt = stmt.where(Document.status.in_(cond.statuses()))
    start, end = cond.span(now)
    if start:
        stmt = stmt.where(Document.updated_at >= start)
    if end:
        stmt = stmt.where(Document.updated_at <= end)
    return stmt.order_by(Document.updated_at.desc(), Document.id.desc())


def view(
    session: Session, decl: BrdDeclaration, doc: Document, page: str = "records"
) -> dict[str, Any]:
    """One record as the pages show it: the columns of both forms' pages, ID numbers masked,
    the operations its state allows on this page."""
    head = (decl.fields or {}).get("head") or {}
    status = status_of(doc.status)
    kind = (
        kinds.REVOKE
        if doc.kind == store.REVOKE_KIND
        else (kinds.ENTRY if decl.form == Form.ENTRY else kinds.IMPORT)
    )
    allowed = {"records": ("modify", "copy", "delete"), "documents": ("change", "revoke")}[page]
    operations = [op.value for op in kind.operations_in(status) if op.value in allowed]
    if status.value == "pending_auth":  # the gateway's own send, never the declarant's edit
        operations = [op for op in operations if op != "modify"]
    original = session.get(BrdDeclaration, decl.original_id) if decl.original_id else None
    out = {
        "id": doc.id,
        "preEntryNo": decl.pre_entry_no if page == "records" else None,
        "declNo": decl.decl_no or "",
        "district": decl.district,
        "districtName": f"{decl.district}-{DISTRICTS.get(decl.district, '')}",
        "placeCode": decl.place_code,
        "placeName": head.get("placeName", ""),
        "ieFlag": "I-进口",
        "declaredAt": _shown(decl.declared_at),
        "lastOperationAt": _shown(doc.updated_at),
        "declarantName": decl.declarant_name,
        "idNumber": mask_id(decl.id_number),
        "billNo": head.get("billNo", ""),
        "vehicleNo": head.get("vehicleNo", ""),
        "vehicleType": head.get("vehicleType", ""),
        "transportMode": TRANSPORT_NAMES.get(head.get("transportMode", ""), ""),
        "grossWeight": head.get("grossWeight", ""),
        "totalAmount": head.get("totalAmount", ""),
        "packages": head.get("packages", ""),
        "businessMode": decl.business_mode,
        "businessModeName": MODE_NAMES.get(decl.business_mode, ""),  # type: ignore[call-overload]
        "declType": decl.decl_type,
        "declTypeName": DECL_TYPE_NAMES.get(decl.decl_type, ""),  # type: ignore[call-overload]
        "entryDeclNo": head.get("entryDeclNo", ""),
        "processingName": head.get("processingName", ""),
        "status": doc.status,
        "statusName": status_name(doc.status),
        "reason": head.get("reason", ""),
        "reviewOpinion": decl.review_opinion or "",
        "original": original.pre_entry_no if original else None,
        "operations": operations,
    }
    if page == "documents":
        out.pop("preEntryNo")
    return out


def _shown(at: datetime | None) -> str:
    return at.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def detail(session: Session, who: Declarant, record_id: int) -> dict[str, Any]:
    """详情: the record's view with its form (goods, vehicles, attachments), delegates masked
    and its history."""
    doc = session.get(Document, record_id)
    decl = store.row(session, doc.business_key) if doc is not None else None
    if (
        doc is None
        or decl is None
        or decl.id_number != who.id_number
        or decl.declarant_type != who.role.value
    ):
        raise NotFound(f"no border declaration {record_id} of this declarant")
    out = view(session, decl, doc)
    fields = decl.fields or {}
    out["form"] = {
        "head": {
            k: (mask_id(v) if k == "idNumber" and v else v)
            for k, v in (fields.get("head") or {}).items()
        },
        "goods": fields.get("goods") or [],
        "vehicles": fields.get("vehicles") or [],
        "attachments": fields.get("attachments") or [],
    }
    out["delegates"] = [
        {"idNumber": mask_id(d.id_number), "state": d.state, "at": _shown(d.at)}
        for d in store.delegates(session, decl)
    ]
    out["biometric"] = decl.verification
    history = session.scalars(
        select(StatusChange).where(StatusChange.document_id == doc.id).order_by(StatusChange.id)
    )
    out["history"] = [
        {
            "at": _shown(h.at),
            "status": h.to_status,
            "statusName": status_name(h.to_status),
            "source": h.source,
            "info": h.info or "",
        }
        for h in history
    ]
    return out
