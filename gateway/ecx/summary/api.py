"""HTTP routes of summary declarations (R-ECX-8), included by `gateway.api`.

GET  /v1/summaries                   the caller's summary applications with their lists
                                     (admin: every enterprise's, or ?enterprise=CODE)
GET  /v1/summaries/due               due dates of the caller's cycles (admin: all)
GET  /v1/summaries/results           汇总结果单查询 (manual 5.3): customs' results (CEB792) of
                                     the caller's summaries, head and lines, by entry_from/
                                     entry_to (≤ 1 calendar month, R-COM-7), sumNo; paged
GET  /v1/summaries/results/{sumNo}   汇总结果单详情: every result of one summary
GET  /v1/summaries/declarations      汇总报关单查询 (manual 5.4): the merged customs
                                     declarations (entryId), the lists and items in each
GET  /v1/summaries/declarations/{entryId}   one declaration; another enterprise's is a 404
GET  /v1/summaries/preview?cycle=    dry run of a cycle (admin; ?enterprise=CODE)
POST /v1/summaries/run?cycle=        declare now, like `customs-gateway summary run` (admin)
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.deps import Auth, Db, gateway_of, page_param
from gateway.core.enterprises import Caller
from gateway.core.models import Document, Enterprise, utcnow
from gateway.core.queries import MAX_PAGE_SIZE
from gateway.core.runtime import Gateway
from gateway.ecx.summary import schedule
from gateway.ecx.summary.cycles import Cycle, last_closed, parse_cycle
from gateway.ecx.summary.due import due_report
from gateway.ecx.summary.models import SummaryList
from gateway.ecx.summary.preview import preview
from gateway.ecx.summary.result_queries import (
    declaration_detail,
    result_detail,
    search_declarations,
    search_results,
)
from gateway.errors import AccessDenied, NotFound

Gw = Annotated[Gateway, Depends(gateway_of)]
CYCLE = Query(pattern=r"^[0-9]{4}-(W)?[0-9]{2}$", description="YYYY-MM or YYYY-Www")


def _admin(who: Caller) -> None:
    if not who.is_admin:
        raise AccessDenied("summary preview and runs are for admins (R-ECX-8 ops)")


def _scope(session: Session, who: Caller, enterprise: str | None) -> int | None:
    """The enterprise a request sees: its own; an admin's choice, or all (None)."""
    if not who.is_admin:
        return who.enterprise_id
    if enterprise is None:
        return None
    found = session.scalar(select(Enterprise.id).where(Enterprise.code == enterprise))
    if found is None:
        raise NotFound(f"no enterprise {enterprise!r}", enterprise=enterprise)
    return int(found)


def applications(session: Session, enterprise_id: int | None, limit: int) -> list[dict[str, Any]]:
    """Summary documents, newest first, with their lists: linked, finalised, entryIds."""
    stmt = select(Document).where(Document.kind == "summary").order_by(Document.id.desc())
    if enterprise_id is not None:
        stmt = stmt.where(Document.enterprise_id == enterprise_id)
    docs = list(session.scalars(stmt.limit(limit)))
    keys = {d.business_key for d in docs}
    counts, entries = _list_counts(session, keys), _entries(session, keys)
    return [_application(doc, counts, entries) for doc in docs]


def _list_counts(session: Session, keys: set[str]) -> dict[tuple[int, str], tuple[int, int]]:
    stmt = (
        select(
            SummaryList.enterprise_id,
            SummaryList.summary_key,
            func.count(),
            func.count(SummaryList.entry_id),
        )
        .where(SummaryList.summary_key.in_(keys))
        .group_by(SummaryList.enterprise_id, SummaryList.summary_key)
    )
    return {(e, k or ""): (n, done) for e, k, n, done in session.execute(stmt).all()}


def _entries(session: Session, keys: set[str]) -> dict[tuple[int, str], list[str]]:
    stmt = (
        select(SummaryList.enterprise_id, SummaryList.summary_key, SummaryList.entry_id)
        .where(SummaryList.summary_key.in_(keys), SummaryList.entry_id.is_not(None))
        .distinct()
        .order_by(SummaryList.entry_id)
    )
    found: dict[tuple[int, str], list[str]] = {}
    for ent, key, entry in session.execute(stmt).all():
        found.setdefault((ent, key or ""), []).append(entry or "")
    return found


def _application(
    doc: Document,
    counts: dict[tuple[int, str], tuple[int, int]],
    entries: dict[tuple[int, str], list[str]],
) -> dict[str, Any]:
    mine = (doc.enterprise_id, doc.business_key)
    lists, finalised = counts.get(mine, (0, 0))
    return {
        "document_id": doc.id,
        "business_key": doc.business_key,
        "status": doc.status,
        "customs_numbers": dict(doc.customs_numbers or {}),
        "created_at": doc.created_at.isoformat(),
        "lists": lists,
        "finalised": finalised,
        "entry_ids": entries.get(mine, []),
    }


def _cycle(label: str | None, kind: str) -> Cycle:
    return parse_cycle(label) if label else last_closed(utcnow(), kind)


def router() -> APIRouter:
    api = APIRouter(prefix="/v1/summaries", tags=["summaries"])

    @api.get("")
    def list_applications(
        who: Auth,
        s: Db,
        enterprise: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[dict[str, Any]]:
        return applications(s, _scope(s, who, enterprise), limit)

    @api.get("/due")
    def due(who: Auth, s: Db, gw: Gw, enterprise: str | None = None) -> list[dict[str, Any]]:
        scope = _scope(s, who, enterprise)
        return [r.as_dict() for r in due_report(s, gw.config.summary, enterprise_id=scope)]

    @api.get("/results")
    def results(
        who: Auth,
        s: Db,
        entry_from: datetime | None = None,
        entry_to: datetime | None = None,
        sumNo: str | None = None,  # noqa: N803 - the standard's field name
        page: Annotated[int, page_param(MAX_PAGE_SIZE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> dict[str, Any]:
        return search_results(s, who, entry_from, entry_to, sum_no=sumNo, page=page,
                              page_size=page_size)  # fmt: skip

    @api.get("/results/{sum_no}")
    def result(sum_no: str, who: Auth, s: Db) -> dict[str, Any]:
        return result_detail(s, who, sum_no)

    @api.get("/declarations")
    def declarations(
        who: Auth,
        s: Db,
        entry_from: datetime | None = None,
        entry_to: datetime | None = None,
        entryId: str | None = None,  # noqa: N803 - the standard's field name
        page: Annotated[int, page_param(MAX_PAGE_SIZE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    ) -> dict[str, Any]:
        return search_declarations(s, who, entry_from, entry_to, entry_id=entryId, page=page,
                                   page_size=page_size)  # fmt: skip

    @api.get("/declarations/{entry_id}")
    def declaration(entry_id: str, who: Auth, s: Db) -> dict[str, Any]:
        return declaration_detail(s, who, entry_id)

    @api.get("/preview")
    def preview_cycle(
        who: Auth,
        s: Db,
        gw: Gw,
        cycle: Annotated[str | None, CYCLE] = None,
        enterprise: str | None = None,
    ) -> dict[str, Any]:
        _admin(who)
        chosen = _cycle(cycle, gw.config.summary.cycle)
        return preview(s, gw.config.summary, chosen, enterprise=enterprise).as_dict()

    @api.post("/run")
    def run(
        who: Auth,
        gw: Gw,
        cycle: Annotated[str | None, CYCLE] = None,
        enterprise: str | None = None,
    ) -> dict[str, Any]:
        _admin(who)
        chosen = parse_cycle(cycle) if cycle else None
        runs = schedule.job_of(gw).tick(cycle=chosen, enterprise=enterprise)
        if runs is None:
            return {"ran": False, "reason": "another gateway process is running the job"}
        return {"ran": True, "runs": [_run(r) for r in runs]}

    return api


def _run(run: Any) -> dict[str, Any]:
    return {
        "cycle": run.cycle,
        "due": run.due.isoformat(),
        "groups": run.groups,
        "lists": run.lists,
        "applications": [
            {
                "enterprise": a.enterprise,
                "copNo": a.cop_no,
                "lists": a.lists,
                "msgCount": a.msg_count,
                "message_ids": list(a.message_ids),
                "refused": a.refused,
            }
            for a in run.applications
        ],
    }
