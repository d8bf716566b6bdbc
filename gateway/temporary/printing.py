"""Printed forms of the review confirmation, the exhibition registration and the loaned-exhibit
list (打印, R-TMP-2; seed 002 §1.1's 小提示).

"当展览会处于审核通过状态之前，打印按钮只可以打印核对单，当…审核通过则核对单、清单以及…申请表
均可打印", and 打印 only once the record is saved ("数据暂存后,【删除】和【打印】按钮高亮显示").
The manual says this of the exhibition registration; the confirmation prints the same three
forms under the same rule (docs/temporary.md says why). So:

- before approval the check sheet (核对单) only; approved (审核通过) or closed (结案) also the
  list (清单) and the application form (申请表); another form is refused naming R-TMP-2;
- no saved confirmation, nothing to print: a refusal naming copNo and R-TMP-2; another
  enterprise's confirmation answers like a missing one (404);
- real PDFs (reportlab) with a CJK TrueType font embedded (subset), found by `font_path`;
- every goods line printed: the table breaks across pages and repeats its header row;
- dates as the forms show them (YYYYMMDD), the print time and 填报日期 in Beijing time,
  quantities without trailing zeros (customs' 2.5, not 2.50000).

The layouts are not in the manual ("Layouts of these outputs: not in the manual"): each form
is a `Template` below — a title, the head fields in label/value pairs, the goods columns and
the closing lines — laid out the way customs' paper forms are (title centred, a boxed head,
a ruled goods table, signature lines last).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.enterprises import Caller
from gateway.core.models import Document
from gateway.core.printing import (  # re-exported: the forms' machinery is the core's
    FONT_ENV,
    FONT_PATHS,
    UNIT_NAMES,
    Extra,
    Template,
    build,
    font_path,
    quantity,
)
from gateway.core.status import Status, status_of
from gateway.errors import InvalidMessage, StateConflict, Violation
from gateway.temporary import (
    confirmation_queries,
    confirmations,
    declarations,
    loan_queries,
    queries,
)
from gateway.temporary.codes import CUSTOMS, TmpStatus
from gateway.temporary.confirmations import CONFIRMATION, IE_FLAGS

RULE = "R-TMP-2"
#: after approval the confirmation's customs forms (closed or overdue, it was approved);
#: before it only the check sheet
PRINTABLE_AFTER: frozenset[StrEnum] = frozenset(
    {TmpStatus.APPROVED, TmpStatus.CASE_CLOSED, TmpStatus.RETURN_OVERDUE}
)
#: a registration: approved only (备案删除 granted, it is gone: the check sheet alone)
EXHIBITION_PRINTABLE_AFTER: frozenset[StrEnum] = frozenset({TmpStatus.APPROVED})
__all__ = ["FONT_ENV", "FONT_PATHS", "font_path", "quantity", "render", "render_exhibition",
           "render_loan_list", "printable", "find"]  # fmt: skip

_IDENTITY = (
    ("预录入确认书编号", "pre_entry_no"),
    ("确认申请书编号", "confirm_no"),
    ("申报单位代码", "agent_code"),
    ("申报单位名称", "agent_name"),
    ("主管地海关", "customs"),
    ("展览会编号", "exhibition_no"),
)
_DATES = (
    ("进出境标志", "ie_flag"),
    ("暂时进出境用途", "purpose"),
    ("进出境日期", "ie_date"),
    ("复运出／进境日期", "return_date"),
)
_PEOPLE = (
    ("录入单位", "input_name"),
    ("海关十位编码", "input_code"),
    ("操作员", "operator"),
    ("报关员", "broker"),
    ("填报日期", "filled_date"),
    ("数据状态", "status_name"),
)

_GOODS = (
    ("序号", 12), ("商品编码", 24), ("商品名称", 0), ("规格型号", 34),
    ("数量", 22), ("计量单位", 18), ("报关单海关编号", 38),
)  # fmt: skip

FORMS: dict[str, Template] = {
    "check_sheet": Template(
        "check_sheet", "暂时进出境货物审核确认 核对单",
        (*_IDENTITY, *_DATES, *_PEOPLE, ("备注", "note")), False,
        ("本核对单供申报单位核对录入数据，不作为海关审核确认的凭证。",
         "核对人（签字）：                    核对日期："), _GOODS,
    ),
    "list": Template(
        "list", "暂时进出境货物清单",
        (*_IDENTITY, *_DATES), True,
        ("申报单位（盖章）：                                    海关（签章）：",), _GOODS,
    ),
    "application": Template(
        "application", "暂时进出境货物审核确认申请书",
        (*_IDENTITY, *_DATES, *_PEOPLE, ("备注", "note"), ("审核备注", "review_remarks"),
         ("结案日期", "close_date")), False,
        ("我单位保证以上申报内容真实、准确，上述货物在规定期限内复运出／进境，并承担相应法律责任。",
         "申报单位（盖章）：                    报关员（签字）：                    日期：",
         "海关审核意见：                                              海关（签章）："),
        _GOODS,
    ),
}  # fmt: skip

# the exhibition registration's forms (展览会备案, §1.1): the form's fields by element name
_EXHIBITION_HEAD = (
    ("展览会预录入编号", "pre_entry_no"), ("展览会编号", "exhibition_no"),
    ("展览会名称", "exhibitionName"), ("主管海关", "customs"),
    ("申报单位代码", "agent_code"), ("申报单位名称", "agentName"),
    ("备案海关", "reg_customs"), ("批准单位", "approvalUnit"),
    ("批文号", "approvalNo"), ("台湾批文", "taiwanApproval"),
    ("主办单位", "organizer"), ("主办单位负责人", "organizerPrincipal"),
    ("主办方联系电话", "organizerTel"), ("承办单位", "undertaker"),
    ("资料审查负责人", "reviewPrincipal"), ("展览场馆", "venue"),
    ("开幕日期", "openDate"), ("闭幕日期", "closeDate"),
    ("展出总面积（平方米）", "totalArea"), ("国际面积（平方米）", "intlArea"),
    ("参展国家(地区)数量", "countryCount"), ("境外展商数量", "overseasExhibitorCount"),
)  # fmt: skip
_EXHIBITION_PEOPLE = (
    ("录入单位", "input_name"), ("海关十位编码", "input_code"), ("操作员", "operator"),
    ("报关员", "broker"), ("填报日期", "filled_date"), ("数据状态", "status_name"),
    ("备注", "note"),
)  # fmt: skip
#: the 清单: the goods of the customs declarations linked to the exhibition (报关单商品)
_DECLARATION_GOODS = (
    ("报关单海关编号", 38), ("商品序号", 12), ("商品编码", 22), ("商品名称", 0),
    ("规格型号", 30), ("申报数量", 20), ("单位", 14), ("单价", 22), ("总价", 24),
    ("币制", 12), ("原产地", 14),
)  # fmt: skip

EXHIBITION_FORMS: dict[str, Template] = {
    "check_sheet": Template(
        "check_sheet", "展览会备案 核对单", (*_EXHIBITION_HEAD, *_EXHIBITION_PEOPLE), False,
        ("本核对单供申报单位核对录入数据，不作为海关备案的凭证。",
         "核对人（签字）：                    核对日期："),
    ),
    "list": Template(
        "list", "展览会备案 清单", _EXHIBITION_HEAD[:4], True,
        ("申报单位（盖章）：                                    海关（签章）：",),
        _DECLARATION_GOODS,
    ),
    "application": Template(
        "application", "展览会备案申请表", (*_EXHIBITION_HEAD, *_EXHIBITION_PEOPLE), False,
        ("我单位保证以上申报内容真实、准确，并承担相应法律责任。",
         "主办单位（盖章）：                    申报单位（盖章）：                    日期：",
         "海关审核意见：                                              海关（签章）："),
    ),
}  # fmt: skip


# the loaned-exhibit list's forms (外借展品清单, §1.3: 打印 with no stated content). Ours: its
# 核对单 from the first save, and once customs approved it (外借清单编号 given) the 清单 itself,
# the paper the borrower signs for the exhibits; both list every line with what is lent
_LOAN_HEAD = (
    ("外借清单预录入号", "pre_entry_no"), ("外借清单编号", "loan_no"),
    ("展览会编号", "exhibition_no"), ("展览会名称", "exhibition_name"),
    ("主管海关", "customs"), ("申报单位代码", "agent_code"),
    ("申报单位名称", "agentName"), ("外借单位名称", "borrowerName"),
    ("外借联系电话", "borrowerTel"), ("外借日期", "loanDate"),
    ("外借期限", "loanDueDate"), ("填报日期", "filled_date"),
)  # fmt: skip
_LOAN_PEOPLE = (
    ("录入单位", "input_name"), ("海关十位编码", "input_code"), ("操作人员", "operator"),
    ("报关员", "broker"), ("数据状态", "status_name"), ("备注", "note"),
)  # fmt: skip
#: a lent line: which declaration line (customs' data of it) and how much of it is lent
_LOAN_GOODS = (
    ("序号", 12), ("报关单海关编号", 38), ("商品序号", 14), ("商品编码", 22), ("商品名称", 0),
    ("规格型号", 30), ("外借数量", 20), ("申报数量", 20), ("单位", 14), ("原产地", 14),
)  # fmt: skip
#: the list's 清单 once customs approved it (final: nothing after approved)
LOAN_PRINTABLE_AFTER: frozenset[StrEnum] = frozenset({TmpStatus.APPROVED})

LOAN_FORMS: dict[str, Template] = {
    "check_sheet": Template(
        "check_sheet", "外借展品清单 核对单", (*_LOAN_HEAD, *_LOAN_PEOPLE), True,
        ("本核对单供申报单位核对录入数据，不作为海关审核的凭证。",
         "核对人（签字）：                    核对日期："),
        _LOAN_GOODS,
    ),
    "list": Template(
        "list", "外借展品清单", _LOAN_HEAD, True,
        ("上述展品由外借单位借用，于外借期限内归还，并承担相应责任。",
         "外借单位（签章）：                    申报单位（盖章）：                    "
         "海关（签章）："),
        _LOAN_GOODS,
    ),
}  # fmt: skip


# --- which forms, for whom ---------------------------------------------------------------------


def find(
    session: Session, caller: Caller, agent_code: str, cop_no: str, kind: str = CONFIRMATION
) -> int:
    """The document id of the caller's saved record of `kind` (a confirmation, or
    `regs.EXHIBITION`): before the first save there is nothing to print (R-TMP-2,
    "数据暂存后…【打印】按钮高亮显示")."""
    stmt = select(Document.id).where(
        Document.kind == kind,
        Document.business_key == f"{agent_code}|{cop_no}",
        Document.status != Status.DELETED.value,
    )
    if not caller.is_admin:
        stmt = stmt.where(Document.enterprise_id == caller.enterprise_id)
    doc_id = session.scalar(stmt)
    if doc_id is None:
        message = "print only after the first save (暂存): no saved record"
        raise InvalidMessage([Violation(RULE, "copNo", message, value=cop_no)])
    return doc_id


def printable(
    status: str, after: frozenset[StrEnum] = PRINTABLE_AFTER, forms: dict[str, Template] = FORMS
) -> list[str]:
    """The forms a record in `status` may print: the check sheet, and after approval all."""
    return list(forms) if status_of(status) in after else ["check_sheet"]


def _template(forms: dict[str, Template], form: str, record: dict[str, Any],
              after: frozenset[StrEnum]) -> Template:  # fmt: skip
    if form not in forms:
        message = f"no form {form!r}: one of {', '.join(forms)}"
        raise InvalidMessage([Violation(RULE, "form", message, value=form)])
    if form not in printable(record["status"], after, forms):
        message = f"{forms[form].title} only after approval (审核通过): before it, the check sheet"
        raise StateConflict([Violation(RULE, "form", message, value=record["status_name"])])
    return forms[form]


def render(session: Session, caller: Caller, doc_id: int, form: str, at: datetime) -> bytes:
    """The PDF of `form` for the caller's confirmation (another's: NotFound), printed `at`."""
    record = confirmation_queries.detail(session, caller, doc_id)
    tpl = _template(FORMS, form, record, PRINTABLE_AFTER)
    row = confirmations.row_of(session, record["agent_code"], record["cop_no"])
    entry = {"input_code": row.input_code, "input_name": row.input_name} if row else {}
    rows = [goods_row(n, line) for n, line in enumerate(record["goods"], 1)]
    # 随附单证目录: the check sheet and the application list the attached files
    listed = [] if tpl.name == "list" else record.get("attachments") or []
    files = [document_row(n, a) for n, a in enumerate(listed, 1)]
    extras = [Extra("随附单证目录", _DOCUMENTS, files)]
    return build(tpl, {**values_of(record), **entry}, rows, at, extras)


def render_exhibition(
    session: Session, caller: Caller, doc_id: int, form: str, at: datetime
) -> bytes:
    """The PDF of `form` for the caller's exhibition registration (another's: NotFound); its
    清单 lists the goods of the customs declarations linked to the approved exhibition."""
    record = queries.detail(session, caller, doc_id)
    tpl = _template(EXHIBITION_FORMS, form, record, EXHIBITION_PRINTABLE_AFTER)
    rows: list[list[str]] = []
    if tpl.columns and record["exhibition_no"]:
        found = declarations.lines(session, record["exhibition_no"])
        rows = [declaration_row(declarations.view(line)) for line in found]
    return build(tpl, exhibition_values(record), rows, at)


def render_loan_list(
    session: Session, caller: Caller, doc_id: int, form: str, at: datetime
) -> bytes:
    """The PDF of `form` for the caller's loaned-exhibit list (another's: NotFound): every
    line with the declaration line it lends from (customs' data) and the quantity lent."""
    record = loan_queries.detail(session, caller, doc_id)
    tpl = _template(LOAN_FORMS, form, record, LOAN_PRINTABLE_AFTER)
    rows = [loan_row(line) for line in record["goods"]]
    return build(tpl, loan_values(record), rows, at)


def loan_values(record: dict[str, Any]) -> dict[str, str]:
    """The head values of a list's query record: its form's fields, its own columns."""
    form = {k: str(v) for k, v in (record.get("form") or {}).items()}
    broker = " ".join(x for x in (form.get("brokerName"), form.get("brokerTel")) if x)
    own = {k: str(v) for k, v in record.items() if isinstance(v, str | int) and v is not None}
    return {**form, **own, "customs": _customs(record["customs_code"]), "broker": broker,
            "loan_no": record.get("loan_no") or ""}  # fmt: skip


def loan_row(line: dict[str, Any]) -> list[str]:
    """One lent line in the list's columns (a line customs' data no longer has: blanks)."""
    unit = str(line.get("unit") or "")
    keys = ("gNo", "entryId", "itemNo", "hsCode", "name", "model")
    text = [str(line.get(k) or "") for k in keys]
    text += [quantity(str(line.get("loanQty") or "")), quantity(str(line.get("qty") or "")),
             UNIT_NAMES.get(unit, unit), str(line.get("origin") or "")]  # fmt: skip
    return text


# --- the values a form prints ------------------------------------------------------------------


def values_of(record: dict[str, Any]) -> dict[str, str]:
    """The head values of a confirmation's query record, as the forms print them."""
    form = record.get("form") or {}
    flag = form.get("ieFlag", "")
    broker = " ".join(x for x in (form.get("brokerName"), form.get("brokerTel")) if x)
    return {
        **{k: str(v) for k, v in record.items() if isinstance(v, str | int) and v is not None},
        "agent_name": form.get("agentName", ""),
        "customs": _customs(record["customs_code"]),
        "ie_flag": IE_FLAGS.get(flag, flag).split(" ")[0],
        "purpose": form.get("purpose", ""),
        "note": form.get("note", ""),
        "broker": broker,
        "confirm_no": record.get("confirm_no") or "",
        "close_date": record.get("close_date") or "",
    }


def exhibition_values(record: dict[str, Any]) -> dict[str, str]:
    """The head values of a registration's query record: its form's fields by element name,
    the customs with their names, the record's own columns."""
    form = {k: str(v) for k, v in (record.get("form") or {}).items()}
    reg = form.get("regCustomsCode", "")
    broker = " ".join(x for x in (form.get("brokerName"), form.get("brokerTel")) if x)
    own = {k: str(v) for k, v in record.items() if isinstance(v, str | int) and v is not None}
    return {
        **form,
        **own,
        "customs": _customs(record["customs_code"]),
        "reg_customs": _customs(reg) if reg else "",
        "broker": broker,
        "exhibitionName": record.get("exhibition_name") or form.get("exhibitionName", ""),
    }


def _customs(code: str) -> str:
    name = CUSTOMS.get(code, "")
    return f"{name}（{code}）" if name else code


def declaration_row(line: dict[str, Any]) -> list[str]:
    """One line of a declaration linked to the exhibition, in the 清单's columns."""
    unit = str(line.get("unit") or "")
    head = [line.get(k) for k in ("entryId", "itemNo", "hsCode", "name", "model", "qty")]
    tail = [line.get(k) for k in ("price", "total", "currency", "origin")]
    text = [str(v) if v is not None else "" for v in (*head, None, *tail)]
    text[6] = UNIT_NAMES.get(unit, unit)
    return text


#: the attached files' table (随附单证目录) of a confirmation's check sheet and application
_DOCUMENTS = (("序号", 12), ("随附单证名称", 0), ("大小（字节）", 26), ("SHA-256 摘要", 112))


def document_row(n: int, attachment: dict[str, Any]) -> list[str]:
    return [str(n), str(attachment.get("file_name", "")), str(attachment.get("size", "")),
            str(attachment.get("sha256", ""))]  # fmt: skip


def goods_row(n: int, line: dict[str, str]) -> list[str]:
    unit = line.get("unit", "")
    return [
        line.get("gNo") or str(n),
        line.get("hsCode", ""),
        line.get("goodsName", ""),
        line.get("goodsModel", ""),
        quantity(line.get("qty", "")),
        UNIT_NAMES.get(unit, unit),
        line.get("entryId", ""),
    ]
