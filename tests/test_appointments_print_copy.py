"""Appointment 打印 and 复制 (seed 003 §2.3, Alt+P and Alt+C; coverage.md rows 7 and 8).

The printed application is a real PDF read back with pdftotext: its head fields, every goods
line and the attachments' names, Chinese text embedded. A copy is a new saved draft through
the intake (its own pre-entry number, none of customs' numbers), from any state; the
original is untouched; a copy with the same key or with another field is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.appointments import printing, refdata
from gateway.appointments import samples as apt
from gateway.appointments.codes import AptStatus
from gateway.core import records
from gateway.core.api import create_app
from gateway.core.enterprises import Caller
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.errors import InvalidMessage, NotFound
from tests.apt_fixtures import CARRIER, EBC, AptEnv, bj, make_env
from tests.stack import CARRIER_KEY, EBC_KEY, make_config

AT = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
GOODS = (("0603110000", "鲜的玫瑰"), ("0603190000", "鲜的百合花"), ("0805100000", "鲜橙"))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AptEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _caller(env: AptEnv, code: str = EBC.code) -> Caller:
    from gateway.core.models import Enterprise

    with env.db.session() as s:
        ent = s.scalar(select(Enterprise).where(Enterprise.code == code))
        assert ent is not None
        return Caller(ent.id, ent.code)


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          check=True)  # fmt: skip
    return done.stdout.decode()


def test_the_printed_application_has_its_head_goods_and_attachments(
    env: AptEnv, tmp_path: Path
) -> None:
    pdfs = (("航班信息.pdf", apt.pdf()),)
    doc_id = env.request("PR-1", "2026-12-05 20:00", "2026-11-20 09:00", goods=GOODS, pdfs=pdfs)
    with env.db.session() as s:
        pdf = printing.render(s, _caller(env), doc_id, AT)
        pre_no = s.get(Document, doc_id).pre_no  # type: ignore[union-attr]
    assert pdf.startswith(b"%PDF")
    text = _text(pdf, tmp_path)
    for expected in ("预约通关申请单", pre_no, "PR-1", EBC.code, EBC.name,
                     "王晓梅", "13905710001", "航空运输", "进口", "2026-12-05 20:00",
                     "2026-12-05 22:00", "航班信息.pdf", "鲜花空运到港"):  # fmt: skip
        assert expected in text, expected
    for hs, name in GOODS:
        assert hs in text and name in text


def test_print_is_for_the_owner_only_and_needs_a_saved_record(env: AptEnv) -> None:
    doc_id = env.request("PR-2", "2026-12-05 20:00", "2026-11-20 09:00")
    with env.db.session() as s:
        with pytest.raises(NotFound):
            printing.render(s, _caller(env, CARRIER.code), doc_id, AT)
        with pytest.raises(NotFound):
            printing.render(s, _caller(env), doc_id + 99, AT)


def test_a_copy_is_a_new_saved_draft_from_any_state(env: AptEnv) -> None:
    doc_id = env.request("CP-1", "2026-12-05 20:00", "2026-11-20 09:00", goods=GOODS)
    env.set_status(doc_id, AptStatus.BOOKED)
    with env.db.session() as s:
        data = records.copy_message(s, _caller(env), doc_id, {"copNo": "CP-2"})
    result = env.submit(data, "2026-11-21 09:00")
    (copied,) = result.documents
    with env.db.session() as s:
        new = s.get(Document, copied.id)
        old = s.get(Document, doc_id)
        assert new is not None and old is not None
        assert new.status == Status.SAVED and new.business_key == f"{EBC.code}|CP-2"
        assert new.pre_no and new.pre_no != old.pre_no and not new.customs_numbers
        assert old.status == AptStatus.BOOKED  # the original is untouched
        fields = dict(records.kind_of(new).record(records.latest_element(s, new)).fields)
    assert fields["appType"] == "1" and fields["appStatus"] == "1"
    assert fields["reason"].startswith("鲜花空运到港") and "aptNo" not in fields


def test_a_copy_with_the_same_key_or_another_field_is_refused(env: AptEnv) -> None:
    doc_id = env.request("CP-3", "2026-12-05 20:00", "2026-11-20 09:00")
    with env.db.session() as s:
        with pytest.raises(InvalidMessage) as same:
            records.copy_message(s, _caller(env), doc_id, {"copNo": "CP-3"})
        assert same.value.violations[0].rule == "R-COM-5"
        with pytest.raises(InvalidMessage) as other:
            records.copy_message(s, _caller(env), doc_id, {"reason": "x"})
        assert other.value.violations[0].field == "reason"
        with pytest.raises(NotFound):
            records.copy_message(s, _caller(env, CARRIER.code), doc_id, {"copNo": "CP-4"})


def test_the_http_routes(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="aptprint."))
    gw.prepare(broker=False)
    with gw.db.session() as s:
        refdata.load_sample(s)
    msg = apt.request_message(EBC, [apt.Request("HP-1", bj("2026-12-05 20:00"), app_status="1")])
    doc_id = gw.intake.submit(EBC.code, msg, "test", at=bj("2026-11-20 09:00")).documents[0].id
    mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
    try:
        with TestClient(create_app(gw)) as client:
            got = client.get(f"/v1/appointments/{doc_id}/print", headers=mine)
            assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
            assert "HP-1" in _text(got.content, tmp_path)
            assert client.get(f"/v1/appointments/{doc_id}/print", headers=theirs).status_code == 404
            url = f"/v1/appointments/{doc_id}/copy"
            made = client.post(url, json={"cop_no": "HP-2"}, headers=mine)
            assert made.status_code == 201, made.text
            (new,) = made.json()["documents"]
            assert new["status"] == Status.SAVED and new["business_key"].endswith("|HP-2")
            again = client.post(url, json={"cop_no": "HP-1"}, headers=mine)
            assert again.status_code == 422 and "R-COM-5" in again.text
            assert client.post(url, json={"cop_no": "HP-9"}, headers=theirs).status_code == 404
    finally:
        gw.db.dispose()


def test_the_commands(tmp_path: Path, keys_dir: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from gateway.core.cli import main
    from tests.stack import raw_config

    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="aptprintcli."),
                                     allow_unicode=True))  # fmt: skip

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        return result.exit_code, result.output

    assert run("apt-refdata", "--sample")[0] == 0
    draft = tmp_path / "draft.xml"
    draft.write_bytes(
        apt.request_message(EBC, [apt.Request("CL-1", bj("2026-12-05 20:00"), app_status="1")])
    )
    code, out = run("submit", str(draft))
    assert code == 0, out
    out_pdf = tmp_path / "cl1.pdf"
    code, out = run("apt-print", "1", "-o", str(out_pdf))
    assert code == 0 and str(out_pdf) in out, out
    assert "CL-1" in _text(out_pdf.read_bytes(), tmp_path)
    code, out = run("apt-print", "99", "-o", str(tmp_path / "none.pdf"))
    assert code != 0 and "Traceback" not in out and not (tmp_path / "none.pdf").exists()
    code, out = run("apt-copy", "1", "--cop-no", "CL-2")
    assert code == 0 and "|CL-2 saved" in out, out
    code, out = run("apt-copy", "1", "--cop-no", "CL-1")
    assert code != 0 and "Traceback" not in out and "key must differ" in out, out
