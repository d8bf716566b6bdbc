"""Printing an export record (打印, Alt+P; seed 004 §3; coverage.md 004 row 5): a real PDF of
the declaration data read back with pdftotext — the head under the screens' names, every
line, customs' numbers and the state; the owner's only; other systems' records are not
export records."""

from __future__ import annotations

import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from lxml import etree

from gateway.core.api import create_app
from gateway.core.history import Change, Source, record
from gateway.core.models import Document
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.ecx import samples
from gateway.ecx import samples_lists as ecx
from tests.stack import CARRIER_KEY, EBC_KEY, PLATFORM, make_config


def _text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "record.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                         check=True)  # fmt: skip
    return out.stdout.decode()


def test_an_inventory_list_prints_its_head_lines_numbers_and_state(
    tmp_path: Path, keys_dir: Path
) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="exportprint."))
    gw.prepare(broker=False)
    e = gw.config.enterprises[0]
    ebc = samples.Party(e.code, e.name, e.dxp_id)
    parcel = ecx.Parcel("EO2026011500777", "YT7770000000777", ebc=ebc, ebp=PLATFORM)
    data = ecx.inventory_message(ebc, [parcel])
    declared = ecx.save_then_declare(lambda d: gw.intake.submit(ebc.code, d, "test"), data)
    doc_id = declared.documents[0].id
    with gw.db.session() as s:
        doc = s.get(Document, doc_id)
        assert doc is not None
        record(s, doc, Change(Status.STORED, Source.CUSTOMS, "test"), None)
        doc.customs_numbers = {"invtNo": "29912026E000000777"}
    mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
    try:
        with TestClient(create_app(gw)) as client:
            got = client.get(f"/v1/export/records/{doc_id}/print", headers=mine)
            assert got.status_code == 200, got.text
            assert got.headers["content-type"] == "application/pdf"
            text = _text(got.content, tmp_path)
            for expected in ("清单", "EO2026011500777", "YT7770000000777", "物流运单编号",
                             "29912026E000000777", "入库成功", ebc.name, "商品名称"):  # fmt: skip
                assert expected in text, expected
            with gw.db.session() as s:
                doc = s.get(Document, doc_id)
                assert doc is not None and doc.pre_no in text
            names = etree.fromstring(data).findall(".//{*}InventoryList/{*}gname")
            assert names and all(n.text in text for n in names)  # every line
            theirs_got = client.get(f"/v1/export/records/{doc_id}/print", headers=theirs)
            assert theirs_got.status_code == 404
            missing = client.get(f"/v1/export/records/{doc_id + 99}/print", headers=mine)
            assert missing.status_code == 404
    finally:
        gw.db.dispose()


def test_the_command(tmp_path: Path, keys_dir: Path) -> None:
    import yaml
    from click.testing import CliRunner

    from gateway.core.cli import main
    from tests.stack import raw_config

    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="exportprintcli.")
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        return result.exit_code, result.output

    e = raw["enterprises"][0]
    ebc = samples.Party(e["code"], e["name"], e["dxp_id"])
    order = tmp_path / "order.xml"
    order.write_bytes(samples.order_message(ebc, PLATFORM, samples.order_numbers(1, start=5)))
    code, out = run("submit", str(order))
    assert code == 0, out
    pdf = tmp_path / "order.pdf"
    code, out = run("ecx-print", "1", "-o", str(pdf))
    assert code == 0 and str(pdf) in out, out
    assert "订单编号" in _text(pdf.read_bytes(), tmp_path)
    code, out = run("ecx-print", "42", "-o", str(tmp_path / "none.pdf"))
    assert code != 0 and "Traceback" not in out and not (tmp_path / "none.pdf").exists()
