"""Printed review confirmations (打印, R-TMP-2): real PDFs read back with poppler (pdftotext,
pdffonts, pdftoppm) — the check sheet alone before approval, the three forms after, nothing
before the first save, every goods line even across pages, the Chinese text embedded; over
HTTP and the CLI. Another enterprise's confirmation answers like a missing one."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise
from gateway.core.runtime import Gateway
from gateway.errors import ConfigError, InvalidMessage, NotFound, StateConflict
from gateway.temporary import declarations, printing
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpStatus
from gateway.temporary.confirmations import row_of
from tests.stack import CARRIER_KEY, EBC_KEY, make_config, raw_config
from tests.temporary_fixtures import CARRIER, EBC, EXHIBITION_NO, TmpEnv, make_env

AT = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # 2026-12-05 00:30 in Beijing
CONFIRM_NO = "TC290020260000042"
GOODS = (
    tmp.ConfirmationGoods(name="立式加工中心", hs_code="8457101000", qty="2.50000",
                          model="VMC-850", entry_id="290020261000000123"),
    tmp.ConfirmationGoods(name="数控车床", hs_code="8458110000", qty="1", unit="006",
                          model="CK6150"),
    tmp.ConfirmationGoods(name="展示用工业机器人", hs_code="8479501000", qty="12.125",
                          unit="011", model="IR-7"),
)  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _caller(env: TmpEnv, code: str = EBC.code) -> Caller:
    with env.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        assert ent is not None
        return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _saved(env: TmpEnv, cop_no: str = "P-1", goods: tuple[tmp.ConfirmationGoods, ...] = GOODS
           ) -> int:  # fmt: skip
    one = tmp.Confirmation(cop_no, goods=goods, app_status="1")
    return env.submit(tmp.confirmation_message(EBC, [one])).documents[0].id


def _print(env: TmpEnv, doc_id: int, form: str, who: Caller | None = None) -> bytes:
    with env.db.session() as session:
        return printing.render(session, who or _caller(env), doc_id, form, AT)


def _pre_entry_no(env: TmpEnv, cop_no: str) -> str:
    with env.db.session() as session:
        row = row_of(session, EBC.code, cop_no)
        assert row is not None
        return row.pre_entry_no


def text_of(pdf: bytes, tmp_path: Path, layout: bool = False) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pages_of(pdf: bytes, tmp_path: Path) -> list[str]:
    return text_of(pdf, tmp_path, layout=True).split("\f")[:-1]  # a form feed ends each page


def _has_every_line(text: str, goods: tuple[tmp.ConfirmationGoods, ...]) -> None:
    rows = [" ".join(line.split()) for line in text.splitlines()]
    for n, g in enumerate(goods, 1):
        assert any(r.startswith(f"{n} {g.hs_code} {g.name}") for r in rows), (n, g.name)


def test_before_approval_the_check_sheet_only(env: TmpEnv, tmp_path: Path) -> None:
    doc = _saved(env)
    pdf = _print(env, doc, "check_sheet")
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf, tmp_path, layout=True)
    assert "暂时进出境货物审核确认 核对单" in text
    assert _pre_entry_no(env, "P-1") in text and EBC.name in text and EBC.code in text
    _has_every_line(text, GOODS)
    rows = [" ".join(line.split()) for line in text.splitlines()]
    # quantities as customs prints them, unit names, the declaration number
    assert "1 8457101000 立式加工中心 VMC-850 2.5 台 290020261000000123" in rows
    assert "2 8458110000 数控车床 CK6150 1 套" in rows
    assert "3 8479501000 展示用工业机器人 IR-7 12.125 件" in rows
    assert "打印时间：2026-12-0500:30:00（北京时间）" in text.replace(" ", "")  # Beijing time
    for form in ("list", "application"):
        with pytest.raises(StateConflict) as info:
            _print(env, doc, form)
        assert [(v.rule, v.field) for v in info.value.violations] == [("R-TMP-2", "form")]


@pytest.mark.parametrize(
    "state", [TmpStatus.APPROVED, TmpStatus.CASE_CLOSED, TmpStatus.RETURN_OVERDUE]
)
def test_after_approval_all_three_forms(env: TmpEnv, tmp_path: Path, state: TmpStatus) -> None:
    doc = _saved(env)
    env.set_status(doc, TmpStatus.APPROVED, confirmNo=CONFIRM_NO)
    if state is not TmpStatus.APPROVED:
        env.set_status(doc, state)
    titles = {"check_sheet": "核对单", "list": "暂时进出境货物清单",
              "application": "暂时进出境货物审核确认申请书"}  # fmt: skip
    for form, title in titles.items():
        text = text_of(_print(env, doc, form), tmp_path, layout=True)
        assert title in text and CONFIRM_NO in text and _pre_entry_no(env, "P-1") in text
        _has_every_line(text, GOODS)


def test_a_form_not_known_is_refused(env: TmpEnv) -> None:
    with pytest.raises(InvalidMessage) as info:
        _print(env, _saved(env), "invoice")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-TMP-2", "form")]


def test_nothing_to_print_before_the_first_save(env: TmpEnv) -> None:
    with env.db.session() as session, pytest.raises(InvalidMessage) as info:
        printing.find(session, _caller(env), EBC.code, "NEVER-SAVED")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-TMP-2", "copNo")]
    assert "first save" in info.value.violations[0].message
    doc = _saved(env, "P-2")
    with env.db.session() as session:
        assert printing.find(session, _caller(env), EBC.code, "P-2") == doc


def test_another_enterprises_confirmation_answers_like_a_missing_one(env: TmpEnv) -> None:
    doc = _saved(env)
    messages = []
    for target in (doc, doc + 1000):
        with pytest.raises(NotFound) as info:
            _print(env, target, "check_sheet", who=_caller(env, CARRIER.code))
        messages.append(str(info.value).replace(str(target), "N"))
    assert messages[0] == messages[1]


def test_a_long_list_breaks_across_pages_with_every_line(env: TmpEnv, tmp_path: Path) -> None:
    goods = tuple(
        tmp.ConfirmationGoods(name=f"展品第{n}号", hs_code=f"84{n:08d}", qty=str(n))
        for n in range(1, 81)
    )
    doc = _saved(env, "P-LONG", goods)
    pdf = _print(env, doc, "check_sheet")
    pages = pages_of(pdf, tmp_path)
    assert len(pages) >= 2
    for n, page in enumerate(pages, 1):  # the goods header on every page, and its number
        assert "商品编码" in page and "商品名称" in page and f"第{n}页" in page.replace(" ", "")
    _has_every_line("\n".join(pages), goods)


def test_the_chinese_text_is_an_embedded_font_that_renders(env: TmpEnv, tmp_path: Path) -> None:
    name = "上海新国际博览中心·展台ＡＢ－３号（样机）"
    doc = _saved(env, "P-CJK", (tmp.ConfirmationGoods(name=name),))
    pdf = _print(env, doc, "check_sheet")
    assert name in "".join(text_of(pdf, tmp_path).split())  # the cell may wrap it
    path = tmp_path / "out.pdf"
    fonts = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True, text=True)
    cjk = [line for line in fonts.stdout.splitlines() if "WenQuanYi" in line or "CJK" in line]
    assert cjk and all(line.split()[-5:-3] == ["yes", "yes"] for line in cjk), fonts.stdout
    # rendered, the page has ink where the text is (a font poppler cannot draw leaves it blank)
    subprocess.run(["pdftoppm", "-gray", "-r", "40", "-f", "1", "-l", "1", str(path),
                    str(tmp_path / "page")], check=True)  # fmt: skip
    image = next(tmp_path.glob("page*.pgm")).read_bytes()
    assert image.startswith(b"P5")
    assert sum(1 for b in image[-200_000:] if b < 128) > 500


def test_without_a_cjk_font_a_config_error_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(printing.FONT_ENV, str(tmp_path / "none.ttf"))
    with pytest.raises(ConfigError, match=printing.FONT_ENV):
        printing.font_path()
    monkeypatch.delenv(printing.FONT_ENV)
    from gateway.core import printing as forms  # the machinery's own font search

    monkeypatch.setattr(forms, "FONT_PATHS", (str(tmp_path / "missing.ttc"),))
    with pytest.raises(ConfigError, match="fonts-wqy-microhei"):
        printing.font_path()


# --- HTTP and CLI --------------------------------------------------------------------------------


def test_the_http_route(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpprint."))
    gw.prepare(broker=False)
    draft = tmp.confirmation_message(EBC, [tmp.Confirmation("H-1", goods=GOODS, app_status="1")])
    mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
    try:
        with TestClient(create_app(gw)) as client:
            doc = client.post("/v1/messages", content=draft, headers=mine).json()
            doc_id = doc["documents"][0]["id"]
            url = f"/v1/confirmations/{doc_id}/print/check_sheet"
            got = client.get(url, headers=mine)
            assert got.status_code == 200, got.text
            assert got.headers["content-type"] == "application/pdf"
            _has_every_line(text_of(got.content, tmp_path, layout=True), GOODS)
            early = client.get(url.replace("check_sheet", "application"), headers=mine)
            assert early.status_code == 409 and "R-TMP-2" in early.text
            assert client.get(url, headers=theirs).status_code == 404
            missing = f"/v1/confirmations/{doc_id + 99}/print/check_sheet"
            assert client.get(missing, headers=mine).status_code == 404
    finally:
        gw.db.dispose()


def test_the_cli(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpprintcli."),
                                     allow_unicode=True))  # fmt: skip

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        return result.exit_code, result.output

    assert run("db", "upgrade")[0] == 0
    draft = tmp_path / "draft.xml"
    saved = tmp.Confirmation("K-1", goods=GOODS, app_status="1")
    draft.write_bytes(tmp.confirmation_message(EBC, [saved]))
    assert run("submit", str(draft))[0] == 0
    out_pdf = tmp_path / "k1.pdf"
    base = ("tmp-print", "--enterprise", EBC.code, "--form", "check_sheet", "-o", str(out_pdf))
    code, out = run(*base, "--cop-no", "K-0")
    assert code != 0 and "R-TMP-2" in out and "first save" in out and not out_pdf.exists()
    code, out = run(*base, "--cop-no", "K-1")
    assert code == 0 and str(out_pdf) in out, out
    _has_every_line(text_of(out_pdf.read_bytes(), tmp_path, layout=True), GOODS)
    code, out = run(*base[:3], "--form", "list", "-o", str(out_pdf), "--cop-no", "K-1")
    assert code != 0 and "R-TMP-2" in out


# --- the exhibition registration (展览会备案, §1.1's 小提示) --------------------------------


def _lines(env: TmpEnv) -> list[dict[str, str]]:
    with env.db.session() as session:
        return [declarations.view(x) for x in declarations.lines(session, EXHIBITION_NO)]


def test_an_exhibition_before_approval_prints_its_check_sheet_only(
    env: TmpEnv, tmp_path: Path
) -> None:
    doc = env.register("E-1", app_status="1")
    with env.db.session() as session:
        pdf = printing.render_exhibition(session, _caller(env), doc, "check_sheet", AT)
    text = " ".join(text_of(pdf, tmp_path).split())
    row = env.row("E-1")
    assert "展览会备案 核对单" in text and row.pre_entry_no in text
    assert "2027中国（杭州）国际智能制造博览会" in text.replace(" ", "")
    assert "杭州国际博览中心" in text and EBC.code in text
    for form in ("list", "application"):
        with env.db.session() as session, pytest.raises(StateConflict) as info:
            printing.render_exhibition(session, _caller(env), doc, form, AT)
        assert [(v.rule, v.field) for v in info.value.violations] == [("R-TMP-2", "form")]
    with env.db.session() as session, pytest.raises(InvalidMessage) as refused:
        printing.find(session, _caller(env), EBC.code, "E-0", "tmp_exhibition")
    assert [(v.rule, v.field) for v in refused.value.violations] == [("R-TMP-2", "copNo")]


def test_an_approved_exhibition_prints_all_three_its_list_every_declared_line(
    env: TmpEnv, tmp_path: Path
) -> None:
    doc = env.approved_exhibition("E-2", EXHIBITION_NO)
    lines = _lines(env)
    assert lines
    for form, title in (("check_sheet", "展览会备案 核对单"), ("list", "展览会备案 清单"),
                        ("application", "展览会备案申请表")):  # fmt: skip
        with env.db.session() as session:
            pdf = printing.render_exhibition(session, _caller(env), doc, form, AT)
        text = text_of(pdf, tmp_path, layout=True)
        assert title in text and EXHIBITION_NO in text
    with env.db.session() as session:
        pdf = printing.render_exhibition(session, _caller(env), doc, "list", AT)
    rows = [" ".join(line.split()) for line in text_of(pdf, tmp_path, layout=True).splitlines()]
    for line in lines:
        start = f"{line['entryId']} {line['itemNo']} {line['hsCode']}"
        assert any(r.startswith(start) and line["name"] in r for r in rows), start


def test_the_exhibition_http_route_and_cli(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpprintex."),
                                     allow_unicode=True))  # fmt: skip
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpprintex."))
    gw.prepare(broker=False)
    draft = tmp.registration_message(EBC, [tmp.Registration("X-1", app_status="1")])
    try:
        with TestClient(create_app(gw)) as client:
            mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
            doc = client.post("/v1/messages", content=draft, headers=mine).json()
            url = f"/v1/exhibitions/{doc['documents'][0]['id']}/print/check_sheet"
            got = client.get(url, headers=mine)
            assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
            assert "展览会备案 核对单" in text_of(got.content, tmp_path)
            assert client.get(url.replace("check_sheet", "list"), headers=mine).status_code == 409
            assert client.get(url, headers=theirs).status_code == 404
    finally:
        gw.db.dispose()
    out_pdf = tmp_path / "x1.pdf"
    result = CliRunner().invoke(main, ["--config", str(config), "tmp-print", "--record",
                                       "exhibition", "--enterprise", EBC.code, "--cop-no", "X-1",
                                       "--form", "check_sheet", "-o", str(out_pdf)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "展览会备案 核对单" in text_of(out_pdf.read_bytes(), tmp_path)


# --- the loaned-exhibit list (外借展品清单: 打印 with no stated content; docs/temporary.md) ----


def _loan(env: TmpEnv, app_status: str = "2") -> int:
    env.approved_exhibition("E-L", EXHIBITION_NO)
    goods = (tmp.LoanGoods(qty="2.50000"), tmp.LoanGoods("290020261000000102", "1", "1"))
    loan = tmp.LoanList("L-P", EXHIBITION_NO, goods=goods, app_status=app_status)
    return env.submit(tmp.loan_list_message(EBC, loan)).documents[0].id


def _print_loan(env: TmpEnv, doc: int, form: str, who: Caller | None = None) -> bytes:
    with env.db.session() as session:
        return printing.render_loan_list(session, who or _caller(env), doc, form, AT)


def test_a_loan_list_prints_its_check_sheet_from_the_first_save(
    env: TmpEnv, tmp_path: Path
) -> None:
    doc = _loan(env, app_status="1")
    rows = [" ".join(x.split()) for x in text_of(_print_loan(env, doc, "check_sheet"), tmp_path,
                                                  layout=True).splitlines()]  # fmt: skip
    text = "\n".join(rows)
    assert "外借展品清单 核对单" in text and EXHIBITION_NO in text
    assert "浙江大学机械工程学院" in text and "W2900" in text  # borrower, pre-entry number
    # every lent line: the declaration line, customs' name of it, lent and declared quantity
    assert any(r.startswith("1 290020261000000101 1 8457101000 立式加工中心") and " 2.5 " in r
               for r in rows), text  # fmt: skip
    assert any(r.startswith("2 290020261000000102 1 9031499090 三坐标测量机") for r in rows)
    with pytest.raises(StateConflict) as info:
        _print_loan(env, doc, "list")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-TMP-2", "form")]
    with pytest.raises(InvalidMessage):
        _print_loan(env, doc, "application")  # the list has no application form


def test_an_approved_loan_list_prints_the_list_with_its_number(
    env: TmpEnv, tmp_path: Path
) -> None:
    doc = _loan(env)
    env.set_status(doc, TmpStatus.APPROVED, loanNo="WJ29002026000777")
    text = text_of(_print_loan(env, doc, "list"), tmp_path, layout=True)
    assert "外借展品清单" in text and "WJ29002026000777" in text and "外借单位（签章）" in text
    assert "立式加工中心" in text and "三坐标测量机" in text
    with pytest.raises(NotFound):
        _print_loan(env, doc, "list", _caller(env, CARRIER.code))


def test_the_loan_list_http_route_and_cli(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpprintln."),
                                     allow_unicode=True))  # fmt: skip
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpprintln."))
    gw.prepare(broker=False)
    try:
        doc = _loan(TmpEnv(gw.db, gw.intake), app_status="1")
        with TestClient(create_app(gw)) as client:
            mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
            url = f"/v1/loan-lists/{doc}/print/check_sheet"
            got = client.get(url, headers=mine)
            assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
            assert "外借展品清单 核对单" in text_of(got.content, tmp_path)
            assert client.get(url.replace("check_sheet", "list"), headers=mine).status_code == 409
            assert client.get(url, headers=theirs).status_code == 404
    finally:
        gw.db.dispose()
    out_pdf = tmp_path / "lp.pdf"
    result = CliRunner().invoke(main, ["--config", str(config), "tmp-print", "--record",
                                       "loan_list", "--enterprise", EBC.code, "--cop-no", "L-P",
                                       "--form", "check_sheet", "-o", str(out_pdf)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "外借展品清单 核对单" in text_of(out_pdf.read_bytes(), tmp_path)


def test_the_check_sheet_lists_the_attached_files(env: TmpEnv, tmp_path: Path) -> None:
    """随附单证目录: the check sheet names each attachment with its size and digest."""
    import hashlib

    from gateway.core.models import utcnow
    from gateway.temporary import attachments
    from tests.temporary_fixtures import pdf_of

    doc = _saved(env)
    pdf = pdf_of(1500)
    with env.db.session() as session:
        attachments.add(session, _caller(env), doc, "商业发票.pdf", pdf, utcnow())
    text = " ".join(text_of(_print(env, doc, "check_sheet"), tmp_path).split())
    assert "随附单证目录（共1份）" in text.replace(" ", "")
    assert "商业发票.pdf" in text.replace(" ", "") and "1500" in text
    assert hashlib.sha256(pdf).hexdigest() in text.replace(" ", "")
