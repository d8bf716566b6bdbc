"""The core's commands cover the BDR messages once the system is installed (`validate`,
`check --at` with the store's rules), and the bdr-* commands: samples, the place and the
catalogue an administrator loads, the query pages, the 认证超时 round."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway.border import receipts, samples
from gateway.core.cli import main
from tests.stack import raw_config


@pytest.fixture
def config(tmp_path: Path, keys_dir: Path) -> Path:
    path = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="bdrcli.")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_samples_validate_and_a_broken_one_names_the_path(config: Path, tmp_path: Path) -> None:
    code, out = _run(config, "bdr-samples", str(tmp_path / "ex"))
    assert code == 0, out
    files = sorted(str(p) for p in (tmp_path / "ex").glob("*.xml"))
    assert len(files) == 3
    code, out = _run(config, "validate", *files)
    assert code == 0, out
    for mtype in ("BDR101Message", "BDR103Message", "BDR105Message"):
        assert f"OK ({mtype}, 1 record(s))" in out
    entity = {
        "preEntryNo": "202601000000000001",
        "declNo": "860952601151100001",
        "returnStatus": "00",
        "returnInfo": "贸易国别非法；",
    }
    receipt = tmp_path / "r.xml"
    receipt.write_bytes(receipts.build("BDR102Message", [{"guid": "0" * 36, **entity}], 1.79e9))
    code, out = _run(config, "validate", "--schema-only", str(receipt))
    assert code == 0 and "BDR102Message" in out, out
    bad = tmp_path / "bad.xml"
    bad.write_bytes(Path(files[0]).read_bytes().replace(b"<bdr:currency>", b"<bdr:money>", 1))
    code, out = _run(config, "validate", str(bad))
    assert code == 1 and "REFUSED" in out and "[R-COM-1]" in out


def test_check_at_runs_the_store_rules(config: Path, tmp_path: Path) -> None:
    assert _run(config, "db", "upgrade")[0] == 0
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text(
        yaml.safe_dump([{"goodsCode": "0801", "name": "椰子", "unit": "千克"}], allow_unicode=True)
    )
    code, out = _run(config, "bdr-catalogue", str(catalogue))
    assert code == 0 and "1 entries" in out, out
    operator = yaml.safe_load(config.read_text())["enterprises"][0]["code"]
    code, out = _run(
        config,
        "bdr-place",
        samples.PLACE_CODE,
        "--name",
        samples.PLACE_NAME,
        "--district",
        "8609",
        "--operator",
        operator,
        "--method",
        "fingerprint",
    )
    assert code == 0, out
    _run(config, "bdr-samples", str(tmp_path / "ex"))
    code, out = _run(config, "check", "--at", "now", str(tmp_path / "ex" / "bdr101_entry.xml"))
    # line 2's 0804 is not in this catalogue: named, nothing stored
    assert code == 1, out
    assert "R-BDR-4.catalogue" in out and "EntryGoods[2]/goodsCode" in out
    code, out = _run(config, "bdr-records", "entry", "--id-number", samples.RESIDENT_ID)
    assert json.loads(out)["total"] == 0


def test_the_pages_and_the_timeout_round(config: Path) -> None:
    assert _run(config, "db", "upgrade")[0] == 0
    code, out = _run(
        config, "bdr-records", "entry", "--id-number", samples.RESIDENT_ID, "--quick", "today"
    )
    assert code == 0, out
    assert json.loads(out)["total"] == 0 and json.loads(out)["size"] == 10
    code, out = _run(
        config,
        "bdr-documents",
        "import",
        "--id-number",
        samples.RESIDENT_ID,
        "--role",
        "group",
        "--mode",
        "07",
    )
    assert code == 1 and "business_mode" in out and "Traceback" not in out
    code, out = _run(config, "bdr-expire")
    assert code == 0 and "0 declaration(s)" in out
