"""Printed forms of the review confirmation (打印, R-TMP-2; seed 002 §1.1's 小提示).

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

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.orm import Session

from gateway.codes import CHINA_TZ
from gateway.core.enterprises import Caller
from gateway.core.status import status_of
from gateway.errors import ConfigError, InvalidMessage, StateConflict, Violation
from gateway.temporary import attachments, confirmation_queries, confirmations
from gateway.temporary.codes import TmpStatus
from gateway.temporary.confirmations import IE_FLAGS

RULE = "R-TMP-2"
FONT_PACKAGE = "fonts-wqy-microhei"
FONT_ENV = "CUSTOMS_GATEWAY_CJK_FONT"
#: where a Debian CJK TrueType font lies, in the order tried after $CUSTOMS_GATEWAY_CJK_FONT.
#: TrueType outlines only: reportlab cannot embed the CFF outlines of fonts-noto-cjk's .ttc
FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # fonts-wqy-microhei (setup.sh)
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # fonts-wqy-zenhei
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # fonts-arphic-uming
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # fonts-droid-fallback
)
FONT = "CJK"
#: after approval the confirmation's customs forms (closed or overdue, it was approved);
#: before it only the check sheet
PRINTABLE_AFTER = frozenset({TmpStatus.APPROVED, TmpStatus.CASE_CLOSED, TmpStatus.RETURN_OVERDUE})
#: customs' units of measure (计量单位) as the forms print them; another code prints as is
UNIT_NAMES = {
    "001": "台", "002": "座", "003": "辆", "004": "艘", "005": "架", "006": "套", "007": "个",
    "008": "只", "010": "张", "011": "件", "012": "支", "015": "条", "016": "把", "017": "块",
    "019": "副", "020": "片", "021": "组", "022": "份", "025": "双", "026": "对", "030": "米",
    "035": "千克", "036": "克", "044": "平方米", "046": "立方米", "054": "千件", "095": "升",
}  # fmt: skip


@dataclass(frozen=True)
class Template:
    """One printed form: its title, the head's (label, key) pairs two to a row, whether the
    goods table is printed in full width (landscape), and the closing lines."""

    name: str
    title: str
    head: tuple[tuple[str, str], ...]
    landscape: bool
    closing: tuple[str, ...]


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

FORMS: dict[str, Template] = {
    "check_sheet": Template(
        "check_sheet", "暂时进出境货物审核确认 核对单",
        (*_IDENTITY, *_DATES, *_PEOPLE, ("备注", "note")), False,
        ("本核对单供申报单位核对录入数据，不作为海关审核确认的凭证。",
         "核对人（签字）：                    核对日期："),
    ),
    "list": Template(
        "list", "暂时进出境货物清单",
        (*_IDENTITY, *_DATES), True,
        ("申报单位（盖章）：                                    海关（签章）：",),
    ),
    "application": Template(
        "application", "暂时进出境货物审核确认申请书",
        (*_IDENTITY, *_DATES, *_PEOPLE, ("备注", "note"), ("审核备注", "review_remarks"),
         ("结案日期", "close_date")), False,
        ("我单位保证以上申报内容真实、准确，上述货物在规定期限内复运出／进境，并承担相应法律责任。",
         "申报单位（盖章）：                    报关员（签字）：                    日期：",
         "海关审核意见：                                              海关（签章）："),
    ),
}  # fmt: skip

_GOODS = (
    ("序号", 12), ("商品编码", 24), ("商品名称", 0), ("规格型号", 34),
    ("数量", 22), ("计量单位", 18), ("报关单海关编号", 38),
)  # fmt: skip


# --- which forms, for whom ---------------------------------------------------------------------


def find(session: Session, caller: Caller, agent_code: str, cop_no: str) -> int:
    """The document id of the caller's saved confirmation: before the first save there is
    nothing to print (R-TMP-2, "数据暂存后…【打印】按钮高亮显示")."""
    try:  # the attachments' lookup of a saved confirmation, refused under our own rule
        return attachments.find(session, caller, agent_code, cop_no)
    except InvalidMessage:
        message = "print only after the first save (暂存): no saved confirmation"
        raise InvalidMessage([Violation(RULE, "copNo", message, value=cop_no)]) from None


def printable(status: str) -> list[str]:
    """The forms a confirmation in `status` may print."""
    if status_of(status) in PRINTABLE_AFTER:
        return list(FORMS)
    return ["check_sheet"]


def render(session: Session, caller: Caller, doc_id: int, form: str, at: datetime) -> bytes:
    """The PDF of `form` for the caller's confirmation (another's: NotFound), printed `at`."""
    record = confirmation_queries.detail(session, caller, doc_id)
    if form not in FORMS:
        message = f"no form {form!r}: one of {', '.join(FORMS)}"
        raise InvalidMessage([Violation(RULE, "form", message, value=form)])
    allowed = printable(record["status"])
    if form not in allowed:
        message = f"{FORMS[form].title} only after approval (审核通过): before it, the check sheet"
        raise StateConflict([Violation(RULE, "form", message, value=record["status_name"])])
    row = confirmations.row_of(session, record["agent_code"], record["cop_no"])
    entry = {"input_code": row.input_code, "input_name": row.input_name} if row else {}
    return build(FORMS[form], {**values_of(record), **entry}, record["goods"], at)


# --- the values a form prints ------------------------------------------------------------------


def values_of(record: dict[str, Any]) -> dict[str, str]:
    """The head values of a confirmation's query record, as the forms print them."""
    form = record.get("form") or {}
    code, name = record["customs_code"], record["customs_name"]
    flag = form.get("ieFlag", "")
    broker = " ".join(x for x in (form.get("brokerName"), form.get("brokerTel")) if x)
    return {
        **{k: str(v) for k, v in record.items() if isinstance(v, str | int) and v is not None},
        "agent_name": form.get("agentName", ""),
        "customs": f"{name}（{code}）" if name else code,
        "ie_flag": IE_FLAGS.get(flag, flag).split(" ")[0],
        "purpose": form.get("purpose", ""),
        "note": form.get("note", ""),
        "broker": broker,
        "confirm_no": record.get("confirm_no") or "",
        "close_date": record.get("close_date") or "",
    }


def quantity(value: str) -> str:
    """A quantity as customs prints it: no trailing zeros, no exponent."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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


# --- the page ----------------------------------------------------------------------------------


def font_path() -> Path:
    """The CJK font: $CUSTOMS_GATEWAY_CJK_FONT, else the first of FONT_PATHS present."""
    wanted = os.environ.get(FONT_ENV)
    if wanted:
        if Path(wanted).is_file():
            return Path(wanted)
        raise ConfigError(f"{FONT_ENV}={wanted}: no such font file", path=wanted)
    for candidate in FONT_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise ConfigError(
        f"no CJK TrueType font to print with: install the Debian package {FONT_PACKAGE} "
        f"(scripts/setup.sh does) or set {FONT_ENV}",
        tried=", ".join(FONT_PATHS),
    )


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        # subfont 0 of a .ttc; reportlab embeds the subset of glyphs used
        pdfmetrics.registerFont(TTFont(FONT, str(font_path()), subfontIndex=0))


def _style(size: float, align: int = 0) -> ParagraphStyle:
    return ParagraphStyle(
        "cjk", fontName=FONT, fontSize=size, leading=size * 1.35, alignment=align,
        wordWrap="CJK",
    )  # fmt: skip


def build(
    tpl: Template, values: dict[str, str], goods: list[dict[str, str]], at: datetime
) -> bytes:
    """The form's PDF: title, head box, goods table (header repeated on every page), closing."""
    _register_font()
    size = landscape(A4) if tpl.landscape else A4
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=size, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=14 * mm,
        bottomMargin=16 * mm, title=tpl.title, author="customs-gateway",
    )  # fmt: skip
    width = size[0] - 24 * mm
    story: list[Any] = [
        Paragraph(tpl.title, _style(16, align=1)),
        Spacer(1, 5 * mm),
        _head(tpl, values, width),
        Spacer(1, 4 * mm),
        Paragraph(f"货物信息（共 {len(goods)} 项）", _style(10)),
        Spacer(1, 1.5 * mm),
        _goods(goods, width),
        Spacer(1, 6 * mm),
        *[Paragraph(line.replace(" ", "&nbsp;"), _style(9.5)) for line in tpl.closing],
    ]
    stamp = f"打印时间：{at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S}（北京时间）"
    footer = _footer(tpl.title, values.get("pre_entry_no", ""), stamp)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def _head(tpl: Template, values: dict[str, str], width: float) -> Table:
    cell, label = _style(9), _style(9)
    rows: list[list[Any]] = []
    pairs = list(tpl.head)
    for i in range(0, len(pairs), 2):
        row: list[Any] = []
        for name, key in pairs[i : i + 2]:
            row += [Paragraph(name, label), Paragraph(_escape(values.get(key, "")), cell)]
        rows.append(row + [""] * (4 - len(row)))
    lw = 30 * mm
    table = Table(rows, colWidths=[lw, width / 2 - lw, lw, width / 2 - lw])
    table.setStyle(
        TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee")),
            ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#eeeeee")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ])
    )  # fmt: skip
    return table


def _goods(goods: list[dict[str, str]], width: float) -> Table:
    fixed = sum(w for _, w in _GOODS) * mm
    widths = [w * mm if w else width - fixed for _, w in _GOODS]
    cell = _style(8.5)
    rows: list[list[Any]] = [[Paragraph(name, cell) for name, _ in _GOODS]]
    for n, line in enumerate(goods, 1):
        rows.append([Paragraph(_escape(v), cell) for v in goods_row(n, line)])
    table = Table(rows, colWidths=widths, repeatRows=1)  # the header on every page
    table.setStyle(
        TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dddddd")),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ])
    )  # fmt: skip
    return table


def _footer(title: str, number: str, stamp: str) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        y = 8 * mm
        canvas.drawString(doc.leftMargin, y, f"{title}  {number}  {stamp}")
        canvas.drawRightString(doc.pagesize[0] - doc.rightMargin, y, f"第 {doc.page} 页")
        canvas.restoreState()

    return draw


def _escape(text: str) -> str:
    """Paragraph text is mini-markup: a user's < or & prints as typed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
