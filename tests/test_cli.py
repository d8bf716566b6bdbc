"""The command line: validate / check exit codes and rule ids, sign (verified by xmlsec1)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway.core.cli import main
from gateway.ecx import samples
from tests.stack import PLATFORM, raw_config

EBC = samples.Party("3301960Z01", "杭州云锦跨境电子商务有限公司", "DXPENT0000458763")


@pytest.fixture
def files(tmp_path: Path, keys_dir: Path) -> dict[str, Path]:
    good = samples.order_message(EBC, PLATFORM, ["EO2026112200701"])
    bad_sum = good.replace(b"<ceb:goodsValue>", b"<ceb:goodsValue>1", 1)
    no_order_no = good.replace(b"<ceb:orderNo>EO2026112200701</ceb:orderNo>", b"")
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="cli."), allow_unicode=True)
    )
    out = {"config": config}
    for name, data in (("good", good), ("bad_sum", bad_sum), ("no_order_no", no_order_no)):
        out[name] = tmp_path / f"{name}.xml"
        out[name].write_bytes(data)
    return out


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_validate_exit_status_and_schema_only(files: dict[str, Path]) -> None:
    assert _run("validate", str(files["good"]))[0] == 0
    code, out = _run("validate", str(files["good"]), str(files["bad_sum"]))
    assert code == 1 and "R-ECX-1.sum" in out
    # the sum is a business rule: the XSD alone accepts it…
    assert _run("validate", "--schema-only", str(files["bad_sum"]))[0] == 0
    # …but not a missing element, which is the schema's own error (R-COM-1)
    code, out = _run("validate", "--schema-only", str(files["no_order_no"]))
    assert code == 1 and "[R-COM-1]" in out and "orderNo" in out


def test_check_prints_every_violation_with_its_rule(files: dict[str, Path]) -> None:
    code, out = _run("check", str(files["bad_sum"]))
    assert code == 1
    assert "[R-ECX-1.sum]" in out and "goodsValue" in out and "line " in out


@pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="scripts/setup.sh installs xmlsec1")
def test_sign_prints_a_message_xmlsec1_verifies(
    files: dict[str, Path], keys_dir: Path, tmp_path: Path
) -> None:
    code, out = _run("--config", str(files["config"]), "sign", str(files["good"]))
    assert code == 0, out
    signed = tmp_path / "signed.xml"
    signed.write_text(out, encoding="utf-8")
    cert = keys_dir / "3301960Z01.cert.pem"
    check = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--pubkey-cert-pem",
            str(cert),
            "--id-attr:Id",
            "Signature",
            str(signed),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert "OK" in check.stdout + check.stderr


def test_submit_then_status_shows_history(files: dict[str, Path]) -> None:
    code, out = _run("--config", str(files["config"]), "submit", str(files["good"]))
    assert code == 0 and '"pending_sign"' in out
    code, out = _run("--config", str(files["config"]), "status", "1")
    assert code == 0 and "PENDING_SIGN" in out and "version 1 added and declared" in out
    code, out = _run("--config", str(files["config"]), "status", "999")
    assert code != 0 and "no document 999" in out
