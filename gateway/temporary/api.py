"""HTTP routes of temporary goods, included by the core's app (seed 002 §1.2).

GET /v1/exhibitions             the exhibition registration query: customs, status,
                                filled_from / filled_to (YYYY-MM-DD, Beijing dates), page, size;
                                no condition lists all of the caller's registrations
GET /v1/exhibitions/{doc_id}    one registration: its form, history and customs receipts
GET /v1/exhibitions/{exhibition_no}/declaration-goods
                                报关单商品查询: the goods lines of the declarations linked to
                                an approved exhibition of the caller; entry_id narrows to one
                                declaration, item_no (only with entry_id) to one line
GET /v1/loan-lists              the loaned-exhibit list query: customs, status, filled_from /
                                filled_to, exhibition_no, page, size
GET /v1/loan-lists/{doc_id}     one list: its form, goods lines, history and customs receipts
GET /v1/confirmations           the review confirmation query (§2.2): customs (主管地海关),
                                status, filled_from / filled_to, page, size
GET /v1/confirmations/{doc_id}  one confirmation: its form, goods, attachments, history and
                                customs receipts (确认申请书编号, 审核备注, 结案日期)
GET /v1/exhibitions/{doc_id}/print/{form}
                                打印 (R-TMP-2): check_sheet (核对单), after approval list
                                (清单, the linked declarations' goods) or application
                                (展览会备案申请表); another's: 404
GET /v1/loan-lists/{doc_id}/print/{form}
                                打印: check_sheet (外借展品清单 核对单), after approval list
                                (外借展品清单, every lent line); another's: 404
GET /v1/confirmations/{doc_id}/print/{form}
                                打印 (R-TMP-2): the PDF of check_sheet (核对单), or after
                                approval list (清单) or application (申请表); another's: 404
GET /v1/extensions              the extension query (§2.4): customs (申请海关), status,
                                filled_from / filled_to, page, size
GET /v1/extensions/{doc_id}     one extension: its form, history and customs receipts
                                (海关延期审核允许时间, 审核备注); another's: 404
POST /v1/confirmations/{doc_id}/attachments?file_name=…
                                随附单证: the body is the PDF itself (at most 4 MB), attached to
                                a saved confirmation of the caller (R-COM-6) and sent to
                                customs (TMP113); another's: 404
GET /v1/confirmations/{doc_id}/attachments/{attachment_id}
                                the attached PDF back, to the confirmation's owner (an admin
                                too); another's: 404

Saving, declaring, changing and applying for deletion are messages (TMP101/103/105), sent
through the core's intake like every declaration (POST /v1/messages, the queue, the folder).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from gateway.core.deps import Auth, Db, gateway_of, read_limited
from gateway.core.enterprises import Caller
from gateway.core.models import utcnow
from gateway.errors import BodyTooLarge
from gateway.temporary import (
    attachments,
    confirmation_queries,
    extension_queries,
    loan_queries,
    printing,
    queries,
)


def _conditions(
    customs: Annotated[str | None, Query(max_length=4)] = None,
    status: Annotated[str | None, Query(max_length=30)] = None,
    filled_from: date | None = None,
    filled_to: date | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=queries.MAX_SIZE)] = 20,
) -> queries.Conditions:
    """The conditions every query page of the manual shows, as query parameters."""
    return queries.Conditions(customs, status, filled_from, filled_to, page, size)


Cond = Annotated[queries.Conditions, Depends(_conditions)]


def router() -> APIRouter:
    api = APIRouter(tags=["temporary goods"])

    @api.get("/v1/exhibitions")
    def search(
        who: Auth,
        s: Db,
        cond: Cond,
    ) -> dict[str, Any]:
        return queries.search(s, who, cond)

    @api.get("/v1/exhibitions/{doc_id}")
    def detail(doc_id: int, who: Auth, s: Db) -> dict[str, Any]:
        return queries.detail(s, who, doc_id)

    @api.get("/v1/exhibitions/{exhibition_no}/declaration-goods")
    def declaration_goods(
        exhibition_no: Annotated[str, Path(max_length=20)],
        who: Auth,
        s: Db,
        entry_id: Annotated[str | None, Query(max_length=18)] = None,
        item_no: Annotated[int | None, Query(ge=1, le=999)] = None,
    ) -> dict[str, Any]:
        return loan_queries.goods_lookup(s, who, exhibition_no, entry_id, item_no)

    @api.get("/v1/loan-lists")
    def loan_lists(
        who: Auth,
        s: Db,
        cond: Cond,
        exhibition_no: Annotated[str | None, Query(max_length=20)] = None,
    ) -> dict[str, Any]:
        return loan_queries.search(s, who, cond, exhibition_no)

    @api.get("/v1/loan-lists/{doc_id}")
    def loan_list(doc_id: int, who: Auth, s: Db) -> dict[str, Any]:
        return loan_queries.detail(s, who, doc_id)

    @api.get("/v1/confirmations")
    def confirmations(
        who: Auth,
        s: Db,
        cond: Cond,
    ) -> dict[str, Any]:
        return confirmation_queries.search(s, who, cond)

    @api.get("/v1/confirmations/{doc_id}")
    def confirmation(doc_id: int, who: Auth, s: Db) -> dict[str, Any]:
        return confirmation_queries.detail(s, who, doc_id)

    @api.get("/v1/extensions")
    def extensions(
        who: Auth,
        s: Db,
        cond: Cond,
    ) -> dict[str, Any]:
        return extension_queries.search(s, who, cond)

    @api.get("/v1/extensions/{doc_id}")
    def extension(doc_id: int, who: Auth, s: Db) -> dict[str, Any]:
        return extension_queries.detail(s, who, doc_id)

    @api.post("/v1/confirmations/{doc_id}/attachments", status_code=201)
    async def attach(
        doc_id: int,
        request: Request,
        who: Auth,
        s: Db,
        file_name: Annotated[str, Query(min_length=1, max_length=attachments.MAX_NAME)],
    ) -> dict[str, Any]:
        try:  # one byte over is enough to refuse: never more is read
            data = await read_limited(request, attachments.MAX_BYTES)
        except BodyTooLarge:
            raise BodyTooLarge([attachments.too_large()]) from None
        return await run_in_threadpool(_attach, request, s, who, doc_id, file_name, data)

    @api.get("/v1/confirmations/{doc_id}/attachments/{attachment_id}")
    def download(doc_id: int, attachment_id: int, who: Auth, s: Db) -> Response:
        name, data = attachments.download(s, who, doc_id, attachment_id)
        quoted = quote(name, safe="")  # RFC 6266/5987: the name may be Chinese
        headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"}
        return Response(data, media_type="application/pdf", headers=headers)

    @api.get("/v1/exhibitions/{doc_id}/print/{form}")
    def print_exhibition(doc_id: int, form: Annotated[str, Path(max_length=20)], who: Auth,
                         s: Db) -> Response:  # fmt: skip
        pdf = printing.render_exhibition(s, who, doc_id, form, utcnow())
        return _pdf(pdf, f"exhibition-{doc_id}-{form}.pdf")

    @api.get("/v1/loan-lists/{doc_id}/print/{form}")
    def print_loan_list(doc_id: int, form: Annotated[str, Path(max_length=20)], who: Auth,
                        s: Db) -> Response:  # fmt: skip
        pdf = printing.render_loan_list(s, who, doc_id, form, utcnow())
        return _pdf(pdf, f"loan-list-{doc_id}-{form}.pdf")

    @api.get("/v1/confirmations/{doc_id}/print/{form}")
    def print_form(doc_id: int, form: Annotated[str, Path(max_length=20)], who: Auth,
                   s: Db) -> Response:  # fmt: skip
        pdf = printing.render(s, who, doc_id, form, utcnow())
        return _pdf(pdf, f"confirmation-{doc_id}-{form}.pdf")

    return api


def _attach(
    request: Request, s: Session, who: Caller, doc_id: int, file_name: str, data: bytes
) -> dict[str, Any]:
    """Keep the PDF (committed), then send it to customs (TMP113) through the intake."""
    view = attachments.add(s, who, doc_id, file_name, data, utcnow())
    s.commit()
    delivery = attachments.deliver(gateway_of(request), view["id"], "http", utcnow())
    return {**view, "delivery": delivery}


def _pdf(data: bytes, name: str) -> Response:
    headers = {"Content-Disposition": f'inline; filename="{name}"'}
    return Response(data, media_type="application/pdf", headers=headers)
