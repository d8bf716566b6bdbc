"""Printed forms (打印): real PDFs laid out like customs' paper forms, Chinese text embedded.

Each form is a `Template` — a title, the head fields in label/value pairs two to a row, the
goods columns and the closing lines — built with reportlab (title centred, a boxed head, a
ruled goods table whose header repeats on every page, signature lines last, the print time in
Beijing time in the footer). The CJK TrueType font is embedded as a subset: without it
poppler and most viewers show boxes (PLATFORM.md). Business systems fill the values; which
form may be printed in which state is theirs to say (R-TMP-2, the manuals' 打印 buttons).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
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

from gateway.codes import CHINA_TZ
from gateway.errors import ConfigError

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
    #: the goods table's (heading, width in mm; 0: the rest of the line); none: no table
    columns: tuple[tuple[str, float], ...] = ()
    #: the value the footer names the record by on every page (its pre-entry number)
    number_key: str = "pre_entry_no"


@dataclass(frozen=True)
class Extra:
    """A table after the goods (the attached files' list…): its caption, columns and rows."""

    caption: str
    columns: tuple[tuple[str, float], ...]
    rows: list[list[str]]


def quantity(value: str) -> str:
    """A quantity as customs prints it: no trailing zeros, no exponent."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


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
    tpl: Template, values: dict[str, str], rows: list[list[str]], at: datetime,
    extras: Sequence[Extra] = (),
) -> bytes:  # fmt: skip
    """The form's PDF: title, head box, goods table (header repeated on every page), the
    `extras` that have rows, closing."""
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
    ]
    if tpl.columns:
        story += [
            Paragraph(f"货物信息（共 {len(rows)} 项）", _style(10)),
            Spacer(1, 1.5 * mm),
            _goods(tpl.columns, rows, width),
        ]
    for extra in (e for e in extras if e.rows):
        story += [
            Spacer(1, 4 * mm),
            Paragraph(f"{extra.caption}（共 {len(extra.rows)} 份）", _style(10)),
            Spacer(1, 1.5 * mm),
            _goods(extra.columns, extra.rows, width),
        ]
    story += [
        Spacer(1, 6 * mm),
        *[Paragraph(line.replace(" ", "&nbsp;"), _style(9.5)) for line in tpl.closing],
    ]
    stamp = f"打印时间：{at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S}（北京时间）"
    footer = _footer(tpl.title, values.get(tpl.number_key, ""), stamp)
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


def _goods(columns: tuple[tuple[str, float], ...], rows: list[list[str]], width: float) -> Table:
    fixed = sum(w for _, w in columns) * mm
    widths = [w * mm if w else width - fixed for _, w in columns]
    cell = _style(8.5)
    cells: list[list[Any]] = [[Paragraph(name, cell) for name, _ in columns]]
    cells += [[Paragraph(_escape(v), cell) for v in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)  # the header on every page
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
