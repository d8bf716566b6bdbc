"""What the simulated customs (H2018's side) does with temporary-goods messages.

A declared registration is checked again by customs: a supervising or registration customs it
does not know cannot be stored (海关入库失败, a negative code); stored ones (1) are reviewed and
approved (2, with the exhibition customs number) or not approved (3) with the reason — dates
out of order, an international area larger than the whole. A change application of an approved
registration is answered on TMP104 and, approved, moves the registration on TMP102 (its history
shows the change); a deletion application is answered on TMP106 and, granted, ends the
registration (TMP102, 4); either names the registration's customs number, which must be the one
customs gave it (T104). Reasons follow customs' "[Code:n;Desc:…]" style.

A loaned-exhibit list (TMP108) naming no exhibition customs approved cannot be stored (T301);
stored, it is not approved when the exhibition closed (T305: its 闭幕日期 before the loan date or
today), a goods line is not on the declarations customs holds for that exhibition (T302) or
lends more than declared, counting the lists customs approved (T303); approved, it gets its
外借清单编号 (loanNo). Customs' copy of the declarations is `SimDeclarationGoods`, loaded like the
gateway's (`customs-gateway tmp-declarations --customs`).

A review confirmation (TMP110) cannot be stored when its supervising customs is unknown (T101)
or the exhibition it names is not one customs approved (T301), nor again once approved (T102);
stored, it is not approved when the goods would go back no later than they came (T202) or, for
an exhibition's goods, the exhibition closed (T305) or a line names a declaration not linked to
it or an HS code not on it (T302); approved, it gets its 确认申请书编号 (confirmNo) and a remark
naming the deadline. Customs closes (结案) an approved confirmation when told the goods went
back: `close`, run by the simulator's operator (`customs-gateway tmp-sim-close`), sends a
TMP110 `5` with closeDate.

An extension (TMP112) of a confirmation customs did not approve for the declarer cannot be
stored (T401); stored, it is refused when the date asked is not after the one customs holds
(T403) or the confirmation already runs to the maximum, I/E date + one year (T402); approved
with the date asked, or the maximum when it asked more (the answer says so).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.codes import CHINA_TZ, EXPORT_RECEIVER_ID
from gateway.core.customs_sim.service import Answer, CustomsSim
from gateway.core.customs_sim.state import Declaration, Scheduled, SimBase, held_declaration
from gateway.core.kinds import DocumentKind, Record, key_text
from gateway.core.models import Id
from gateway.errors import NotFound
from gateway.temporary import attachments, confirmations, extensions, loans, rules
from gateway.temporary.codes import CUSTOMS, TmpReturn
from gateway.temporary.models import DeclarationLine, Quantity
from gateway.temporary.receipts import build
from transports import wrap

EXHIBITION = "tmp_exhibition"


class SimDeclarationGoods(DeclarationLine, SimBase):
    """Customs' own declaration lines linked to exhibitions (the gateway's are a copy)."""

    __tablename__ = "sim_tmp_declaration_goods"
    __table_args__ = (UniqueConstraint("entry_id", "item_no", name="uq_sim_tmp_decl_line"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)


class SimExhibitionNumber(SimBase):
    """The customs number customs gave a registration, to find it again from a list."""

    __tablename__ = "sim_tmp_exhibition_numbers"

    exhibition_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    business_key: Mapped[str] = mapped_column(String(300))


class SimExhibitionDates(SimBase):
    """The opening and closing dates of a registration customs approved (a change it
    approves moves them): a list or confirmation after the closing day is refused (T305)."""

    __tablename__ = "sim_tmp_exhibition_dates"

    business_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    open_date: Mapped[str] = mapped_column(String(8))
    close_date: Mapped[str] = mapped_column(String(8))


def _keep_dates(session: Session, key: str, rec: Record) -> None:
    held = session.get(SimExhibitionDates, key) or SimExhibitionDates(business_key=key)
    held.open_date = rec.fields.get("openDate", "")
    held.close_date = rec.fields.get("closeDate", "")
    session.add(held)


def _today() -> str:
    """Customs' day (Beijing), YYYYMMDD."""
    return datetime.now(CHINA_TZ).strftime("%Y%m%d")


def closed_problems(session: Session, key: str, number: str, day: str, term: str) -> list[str]:
    """展览会已闭幕: the exhibition's closing day is past — before customs' review (today) or
    before the record's own date `day` (外借日期, 进出境日期, named `term`)."""
    held = session.get(SimExhibitionDates, key)
    if held is None or not held.close_date:
        return []
    if day and day > held.close_date:  # YYYYMMDD: text order
        text = f"{term}{day}晚于展览会{number}闭幕日期{held.close_date}，展览会已闭幕"
        return [_reason("T305", text)]
    if _today() > held.close_date:
        return [_reason("T305", f"展览会{number}已于{held.close_date}闭幕")]
    return []


class SimLoanLine(SimBase):
    """A goods line of a list customs approved: what it lent of a declaration line."""

    __tablename__ = "sim_tmp_loan_lines"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    list_key: Mapped[str] = mapped_column(String(300), index=True)
    entry_id: Mapped[str] = mapped_column(String(18))
    item_no: Mapped[int] = mapped_column(Integer)
    qty: Mapped[Decimal] = mapped_column(Quantity)


#: customs' own states of a registration it holds (sim_declarations.status, ≤ 10 characters)
HELD_APPROVED, HELD_REFUSED, HELD_WITHDRAWN = "approved", "refused", "withdrawn"


@dataclass(frozen=True)
class Timing:
    """When each step's receipt is due (epoch seconds), from the simulator's delays."""

    stored: float
    result: float

    @classmethod
    def of(cls, sim: CustomsSim) -> Timing:
        now = time.time()
        first = sim.sim.declaring_delay
        return cls(now + first, now + max(sim.sim.result_delay, first + 0.002))


def behaviours() -> dict[str, Callable[..., list[Any]]]:
    """How customs answers each temporary-goods kind (the system's `sim_behaviours`)."""
    return {
        EXHIBITION: _registrations,
        "tmp_exhibition_change": _changes,
        "tmp_exhibition_deletion": _deletions,
        loans.LOAN_LIST: _loan_lists,
        confirmations.CONFIRMATION: _confirmations,
        extensions.EXTENSION: _extensions,
        attachments.ATTACHMENT: _attachments,
    }


def exhibition_no(customs: str, key: str) -> str:
    """展览会海关编号 as this simulator gives it (the manual shows none): "ZL" + customs +
    year + 6 digits, stable per registration."""
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**6
    return f"ZL{customs}{time.gmtime().tm_year}{digest:06d}"


def _entity(rec: Record, status: str, info: str, **more: str) -> dict[str, str]:
    return {
        "agentCode": rec.fields.get("agentCode", ""),
        "copNo": rec.fields.get("copNo", ""),
        **more,
        "returnStatus": status,
        "returnInfo": info[:4900],
    }


def _reason(code: str, text: str) -> str:
    return f"[Code:{code};Desc:{text}]"


def storage_problems(rec: Record) -> list[str]:
    """Why customs cannot store the record at all (海关入库失败)."""
    found = []
    for name, term in (("customsCode", "主管海关"), ("regCustomsCode", "备案海关")):
        value = rec.fields.get(name, "")
        if value and value not in CUSTOMS:
            found.append(_reason("T101", f"{term}代码{value}不存在 ({name})"))
    return found


def review_problems(rec: Record) -> list[str]:
    """Why customs' review does not approve it (审核不通过): the form's own consistency,
    which customs checks again whatever the sender's software did."""
    where = rules.Where(rec.element.tag, 1, rec.element)
    return [
        _reason("T201", f"{v.field.split('/')[-1]}: {v.message} ({v.value})")
        for v in rules.form_values(rec, where)
    ]


def _hold(session: Session, key: str, status: str, kind: str = EXHIBITION) -> Declaration:
    held = held_declaration(session, kind, key)
    if held is None:
        held = Declaration(kind=kind, business_key=key, sender_id="", versions=0)
        session.add(held)
    held.status, held.versions, held.last_cop_msg_id = status, held.versions + 1, ""
    return held


def _registrations(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        key = key_text(rec.business_key)
        held = held_declaration(session, EXHIBITION, key)
        refused = storage_problems(rec)
        if held is not None and held.status in (HELD_APPROVED, HELD_WITHDRAWN):
            done = "审核通过" if held.status == HELD_APPROVED else "删除"
            refused.append(_reason("T102", f"展览会备案已{done}，不能重复申报"))
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed"))
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"))
        problems = review_problems(rec)
        if problems:
            _hold(session, key, HELD_REFUSED)
            info = "审核不通过: " + "; ".join(problems)
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED, info, "not approved"))
            continue
        _hold(session, key, HELD_APPROVED)
        _keep_dates(session, key, rec)
        number = exhibition_no(rec.fields.get("customsCode", ""), key)
        if session.get(SimExhibitionNumber, number) is None:
            session.add(SimExhibitionNumber(exhibition_no=number, business_key=key))
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, "审核通过", "approved",
                            exhibitionNo=number))  # fmt: skip
    return answers


def _one(kind: DocumentKind, rec: Record, due: float, status: str, info: str, note: str,
         **more: str) -> Answer:  # fmt: skip
    entity = _entity(rec, status, info, **more)
    return Answer(due, kind.receipt_type, build(kind.receipt_type, [entity], due), note)


def _exhibition_answer(rec: Record, due: float, status: str, info: str, **more: str) -> Answer:
    body = build("TMP102Message", [_entity(rec, status, info, **more)], due)
    return Answer(due, "TMP102Message", body, f"registration {status}")


def _registration_of(session: Session, rec: Record) -> tuple[str, Declaration | None]:
    """The registration an application names, as customs holds it."""
    key = key_text((rec.fields.get("agentCode", ""), rec.fields.get("copNo", "")))
    return key, held_declaration(session, EXHIBITION, key)


def _not_approved_registration(
    session: Session, rec: Record, held: Declaration | None
) -> str | None:
    """Why an application cannot be stored: the registration is not one customs holds as
    approved, or the customs number it names is not the one customs gave it (T104)."""
    if held is None or held.status != HELD_APPROVED:
        state = held.status if held else "unknown"
        return _reason("T103", f"展览会备案{rec.fields.get('copNo')}未审核通过或已删除 ({state})")
    given = rec.fields.get("exhibitionNo", "")
    found = session.get(SimExhibitionNumber, given) if given else None
    if given and (found is None or found.business_key != held.business_key):
        return _reason("T104", f"展览会海关编号{given}不是备案{rec.fields.get('copNo')}的编号")
    return None


def _changes(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        key, held = _registration_of(session, rec)
        seq = rec.fields.get("seqNo", "")
        refused = [r for r in (_not_approved_registration(session, rec, held),) if r]
        refused += storage_problems(rec)
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed",
                                seqNo=seq))  # fmt: skip
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored",
                            seqNo=seq))  # fmt: skip
        problems = review_problems(rec)
        if problems:
            info = "审核不通过: " + "; ".join(problems)
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED, info,
                                "not approved", seqNo=seq))  # fmt: skip
            continue
        given = rec.fields.get("exhibitionNo", "")
        _keep_dates(session, key, rec)  # the change's form is the registration's now
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, "变更审核通过", "approved",
                            seqNo=seq, exhibitionNo=given))  # fmt: skip
        info = f"变更{seq}审核通过: {rec.fields.get('changeReason', '')}"
        answers.append(_exhibition_answer(rec, at.result + 0.002, TmpReturn.APPROVED, info,
                                          exhibitionNo=given))  # fmt: skip
    return answers


def _deletions(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        key, held = _registration_of(session, rec)
        refused = _not_approved_registration(session, rec, held)
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", refused, "store failed"))
            continue
        _hold(session, key, HELD_WITHDRAWN)
        given = rec.fields.get("exhibitionNo", "")
        answers += [
            _one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"),
            _one(kind, rec, at.result, TmpReturn.APPROVED, "备案删除审核通过", "approved",
                 exhibitionNo=given),
            _exhibition_answer(rec, at.result + 0.002, TmpReturn.WITHDRAWN,
                               f"备案删除: {rec.fields.get('reason', '') or '企业申请'}",
                               exhibitionNo=given),
        ]  # fmt: skip
    return answers


# --- TMP107: loaned-exhibit lists --------------------------------------------------------------


def loan_no(customs: str, key: str) -> str:
    """外借清单编号 as this simulator gives it (the manual shows none): "WJ" + customs + year +
    6 digits, stable per list."""
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**6
    return f"WJ{customs}{time.gmtime().tm_year}{digest:06d}"


def _exhibition_held(session: Session, number: str) -> tuple[str, str] | None:
    """(business key, supervising customs) of an exhibition customs approved, by its number."""
    found = session.get(SimExhibitionNumber, number) if number else None
    if found is None:
        return None
    held = held_declaration(session, EXHIBITION, found.business_key)
    if held is None or held.status != HELD_APPROVED:
        return None
    return found.business_key, number[2:6]


def loan_problems(session: Session, rec: Record, number: str) -> list[str]:
    """Why customs' review does not approve a list: goods not on the exhibition's
    declarations, or more lent than declared (the lists it approved before count)."""
    found = []
    own = key_text(rec.business_key)
    for line in loans.goods_of(rec):
        entry, item = line.get("entryId"), line.get("itemNo")
        declared = session.scalar(
            select(SimDeclarationGoods).where(
                SimDeclarationGoods.exhibition_no == number,
                SimDeclarationGoods.entry_id == entry,
                SimDeclarationGoods.item_no == (int(item) if item.isdigit() else -1),
            )
        )
        if declared is None:
            text = f"报关单{entry}第{item}项商品不在展览会{number}关联的报关单中"
            found.append(_reason("T302", text))
            continue
        lent = session.scalar(
            select(func.coalesce(func.sum(SimLoanLine.qty), 0)).where(
                SimLoanLine.entry_id == entry,
                SimLoanLine.item_no == declared.item_no,
                SimLoanLine.list_key != own,
            )
        )
        asked = loans.quantity(line.get("loanQty")) or Decimal(0)
        lent = loans.exact(lent)
        if lent + asked > declared.qty:
            text = (
                f"报关单{entry}第{item}项外借数量{line.get('loanQty')}超过申报数量"
                f"{declared.qty.normalize():f} (已外借{lent.normalize():f})"
            )
            found.append(_reason("T303", text))
    return found


def _lend(session: Session, rec: Record) -> None:
    own = key_text(rec.business_key)
    session.execute(delete(SimLoanLine).where(SimLoanLine.list_key == own))
    for line in loans.goods_of(rec):
        session.add(SimLoanLine(list_key=own, entry_id=line.get("entryId"),
                                item_no=int(line.get("itemNo")),
                                qty=loans.quantity(line.get("loanQty"))))  # fmt: skip


def _loan_lists(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        key = key_text(rec.business_key)
        number = rec.fields.get("exhibitionNo", "")
        exhibition = _exhibition_held(session, number)
        held = held_declaration(session, kind.name, key)
        if exhibition is None or (held is not None and held.status == HELD_APPROVED):
            info = (
                _reason("T301", f"展览会编号{number}不存在或未审核通过")
                if exhibition is None
                else _reason("T102", "外借展品清单已审核通过，不能重复申报")
            )
            answers.append(_one(kind, rec, at.stored, "-1", info, "store failed"))
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"))
        problems = closed_problems(session, exhibition[0], number,
                                   rec.fields.get("loanDate", ""), "外借日期")  # fmt: skip
        problems += loan_problems(session, rec, number)
        if problems:
            _hold(session, key, HELD_REFUSED, kind.name)
            info = "审核不通过: " + "; ".join(problems)
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED, info, "not approved"))
            continue
        _hold(session, key, HELD_APPROVED, kind.name)
        _lend(session, rec)
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, "审核通过", "approved",
                            loanNo=loan_no(exhibition[1], key)))  # fmt: skip
    return answers


# --- TMP109: review confirmations --------------------------------------------------------------


def confirm_no(customs: str, key: str) -> str:
    """确认申请书编号 as this simulator gives it (the manual shows none): "QR" + customs + year
    + 6 digits, stable per confirmation."""
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10**6
    return f"QR{customs}{time.gmtime().tm_year}{digest:06d}"


def confirmation_storage_problems(session: Session, rec: Record) -> list[str]:
    """Why customs cannot store a confirmation: an unknown customs, an exhibition it did not
    approve (or one since deleted), an attachment it names that customs never received
    (T503: the TMP113 carrying it comes first)."""
    found = storage_problems(rec)
    number = rec.fields.get("exhibitionNo", "")
    if number and _exhibition_held(session, number) is None:
        found.append(_reason("T301", f"展览会编号{number}不存在或未审核通过"))
    key = key_text(rec.business_key)
    for doc in confirmations.documents_of(rec):
        digest = doc.get("sha256", "")
        if session.get(SimAttachment, (key, digest)) is None:
            name = doc.get("fileName", "") or digest[:12]
            found.append(_reason("T503", f"随附单证{name}未收到 (sha256 {digest})"))
    return found


def confirmation_review_problems(session: Session, rec: Record) -> list[str]:
    """Why customs' review does not approve it: the dates, checked again (T202); for an
    exhibition's goods, the exhibition closed (T305) and goods lines naming a declaration
    not linked to it, or an HS code not on that declaration (T302)."""
    where = rules.Where(rec.element.tag, 1, rec.element)
    found = [
        _reason("T202", f"复运出/进境日期必须晚于进出境日期 ({v.value})")
        for v in confirmations.date_problems(rec, where)
    ]
    number = rec.fields.get("exhibitionNo", "")
    exhibition = _exhibition_held(session, number) if number else None
    if exhibition is None:
        return found
    found += closed_problems(session, exhibition[0], number, rec.fields.get("ieDate", ""),
                             "进出境日期")  # fmt: skip
    return found + _goods_off_declarations(session, rec, number)


def _goods_off_declarations(session: Session, rec: Record, number: str) -> list[str]:
    """T302: a goods line naming a declaration (entryId) must name one customs links to the
    exhibition, and its HS code must be one of that declaration's lines."""
    found = []
    for n, line in enumerate(confirmations.goods_of(rec), start=1):
        entry = line.get("entryId", "")
        if not entry:
            continue  # goods declared later: nothing to compare
        codes = set(
            session.scalars(
                select(SimDeclarationGoods.hs_code).where(
                    SimDeclarationGoods.exhibition_no == number,
                    SimDeclarationGoods.entry_id == entry,
                )
            )
        )
        if not codes:
            text = f"第{n}项货物的报关单{entry}不在展览会{number}关联的报关单中"
            found.append(_reason("T302", text))
        elif line.get("hsCode", "") not in codes:
            text = f"第{n}项货物商品编码{line.get('hsCode', '')}不在报关单{entry}的商品中"
            found.append(_reason("T302", text))
    return found


def _confirmations(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *ids: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    sender = ids[1] if len(ids) > 1 else ""
    for rec in records:
        key = key_text(rec.business_key)
        held = held_declaration(session, kind.name, key)
        refused = confirmation_storage_problems(session, rec)
        if held is not None and held.status == HELD_APPROVED:
            refused.append(_reason("T102", "审核确认已审核通过，不能重复申报"))
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed"))
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"))
        problems = confirmation_review_problems(session, rec)
        if problems:
            _hold(session, key, HELD_REFUSED, kind.name)
            info = "审核不通过: " + "; ".join(problems)
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED, info, "not approved"))
            continue
        _hold(session, key, HELD_APPROVED, kind.name).sender_id = sender  # whom 结案 answers
        info = f"审核通过，请于{rec.fields.get('returnDate', '')}前复运出/进境并办理结案"
        number = confirm_no(rec.fields.get("customsCode", ""), key)
        _remember(session, number, key, rec)
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, info, "approved",
                            confirmNo=number))  # fmt: skip
    return answers


#: customs' state of a confirmation it closed (结案)
HELD_CLOSED = "closed"


def close(session: Session, key: str, close_date: str, at: float | None = None) -> str:
    """结案: customs closes the approved confirmation `key` ("agentCode|copNo"), the goods
    having gone back on `close_date` (YYYYMMDD); the TMP110 `5` is scheduled to its declarer
    now (or at `at`). Refused (NotFound) for a confirmation customs did not approve."""
    held = held_declaration(session, confirmations.CONFIRMATION, key)
    if held is None or held.status != HELD_APPROVED:
        raise NotFound(f"no approved review confirmation {key} at customs")
    agent, cop = key.split("|", 1)
    due = time.time() if at is None else at
    entity = {
        "agentCode": agent,
        "copNo": cop,
        "closeDate": close_date,
        "returnStatus": TmpReturn.CLOSED.value,
        "returnInfo": f"已复运，{close_date}结案",
    }
    body = build("TMP110Message", [entity], due)  # fmt: skip
    env = wrap(body, msg_type="TMP110Message", sender_id=EXPORT_RECEIVER_ID,
               receiver_ids=(held.sender_id,))  # fmt: skip
    session.add(Scheduled(due=due, routing_key=held.sender_id, message_id=env.cop_msg_id,
                          body=env.body, note="case closed"))  # fmt: skip
    held.status = HELD_CLOSED
    return env.cop_msg_id


# --- TMP111: extensions --------------------------------------------------------------------


class SimConfirmation(SimBase):
    """A confirmation customs approved, by its 确认申请书编号: what an extension is checked
    against (its dates as customs holds them; an approved extension moves `return_date`)."""

    __tablename__ = "sim_tmp_confirmations"

    confirm_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    business_key: Mapped[str] = mapped_column(String(300))
    ie_date: Mapped[str] = mapped_column(String(8))
    return_date: Mapped[str] = mapped_column(String(8))


def _remember(session: Session, number: str, key: str, rec: Record) -> None:
    held = session.get(SimConfirmation, number) or SimConfirmation(confirm_no=number)
    held.business_key = key
    held.ie_date = rec.fields.get("ieDate", "")
    held.return_date = rec.fields.get("returnDate", "")
    session.add(held)


def allowed_date(ie_date: str, asked: str) -> str:
    """The date customs allows: the one asked, but never later than the I/E date plus
    `extensions.MAX_DAYS` (one year)."""
    latest = datetime.strptime(ie_date, "%Y%m%d") + timedelta(days=extensions.MAX_DAYS)
    return min(asked, latest.strftime("%Y%m%d"))


def extension_review_problem(held: SimConfirmation, asked: str) -> str | None:
    """Why customs' review refuses an extension: the date asked is no later than the one it
    holds (T403), or the confirmation already runs to the allowed maximum, its I/E date +
    `extensions.MAX_DAYS` (T402). Asked past the maximum but short of it now: approved with
    the maximum (海关延期审核允许时间), the answer says so."""
    if asked <= held.return_date:
        return _reason("T403", f"延期申请期限{asked}未晚于复运出/进境日期{held.return_date}")
    most = allowed_date(held.ie_date, asked)
    if most <= held.return_date:
        text = (
            f"已达最长期限{held.return_date}: 进出境日期{held.ie_date}起至多"
            f"{extensions.MAX_DAYS}天，不能再延期"
        )
        return _reason("T402", text)
    return None


def extension_problems(session: Session, rec: Record) -> tuple[SimConfirmation | None, list[str]]:
    """Why customs cannot store an extension: an unknown customs, a confirmation it did not
    approve for this declarer or closed since (T401)."""
    found = storage_problems(rec)
    number = rec.fields.get("confirmNo", "")
    held = session.get(SimConfirmation, number)
    mine = held is not None and held.business_key.startswith(f"{rec.fields.get('agentCode')}|")
    key = held.business_key if held else ""
    state = held_declaration(session, confirmations.CONFIRMATION, key) if mine else None
    if not mine or state is None or state.status != HELD_APPROVED:
        found.append(_reason("T401", f"确认申请书编号{number}不存在或未审核通过"))
        return None, found
    return held, found


def _extensions(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        held, refused = extension_problems(session, rec)
        if refused or held is None:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed"))
            continue
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "海关入库成功", "stored"))
        asked = rec.fields.get("extendDate", "")
        refusal = extension_review_problem(held, asked)
        if refusal:
            answers.append(_one(kind, rec, at.result, TmpReturn.NOT_APPROVED,
                                "审核不通过: " + refusal, "not approved"))  # fmt: skip
            continue
        allowed = allowed_date(held.ie_date, asked)
        held.return_date = allowed
        info = f"同意延期至{allowed}"
        if allowed != asked:
            info += f" (申请期限{asked}超过最长期限: 进出境日期起{extensions.MAX_DAYS}天)"
        answers.append(_one(kind, rec, at.result, TmpReturn.APPROVED, info,
                            "approved", allowedDate=allowed))  # fmt: skip
    return answers


# --- TMP113: attachments ------------------------------------------------------------------


class SimAttachment(SimBase):
    """An attached file customs received (TMP113), by confirmation and digest."""

    __tablename__ = "sim_tmp_attachments"

    confirmation_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)


def attachment_problems(rec: Record) -> tuple[bytes, list[str]]:
    """The file a TMP113 carries, and why customs cannot take it: not base64, not the bytes
    its digest or size says (T501), not a PDF or over 4 MB (T502)."""
    get = rec.fields.get
    try:
        data = base64.b64decode(get("content", ""), validate=True)
    except (binascii.Error, ValueError):
        return b"", [_reason("T501", "随附单证内容不是base64")]
    found = []
    if hashlib.sha256(data).hexdigest() != get("sha256") or str(len(data)) != get("fileSize"):
        found.append(_reason("T501", f"随附单证{get('fileName')}与摘要或大小不符"))
    if not data.startswith(b"%PDF-") or len(data) > 4 * 1024 * 1024:
        found.append(_reason("T502", f"随附单证{get('fileName')}必须为PDF格式且不超过4M"))
    return data, found


def _attachments(
    sim: CustomsSim, session: Session, kind: DocumentKind, records: list[Record], *_: str
) -> list[Answer]:
    at, answers = Timing.of(sim), []
    for rec in records:
        digest = rec.fields.get("sha256", "")
        data, refused = attachment_problems(rec)
        if refused:
            answers.append(_one(kind, rec, at.stored, "-1", "; ".join(refused), "store failed",
                                sha256=digest))  # fmt: skip
            continue
        conf_key = key_text((rec.fields.get("agentCode", ""), rec.fields.get("copNo", "")))
        held = session.get(SimAttachment, (conf_key, digest)) or SimAttachment(
            confirmation_key=conf_key, sha256=digest
        )
        held.file_name, held.size, held.content = rec.fields.get("fileName", ""), len(data), data
        session.add(held)
        answers.append(_one(kind, rec, at.stored, TmpReturn.STORED, "随附单证已接收", "stored",
                            sha256=digest))  # fmt: skip
    return answers
