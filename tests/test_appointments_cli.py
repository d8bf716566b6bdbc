"""`customs-gateway check FILE --at TIME` for appointments (and still for e-commerce messages
without a database), and the apt-refdata / apt-deadlines admin commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway.appointments import samples as apt
from gateway.core.cli import main
from gateway.ecx import samples
from tests.apt_fixtures import EBC, GENERAL_CONSIGNEE, bj
from tests.stack import PLATFORM, raw_config


@pytest.fixture
def config(tmp_path: Path, keys_dir: Path) -> Path:
    path = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="aptcli.")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_check_at_prints_each_violated_rule(config: Path, tmp_path: Path) -> None:
    assert _run(config, "db", "upgrade")[0] == 0
    assert _run(config, "apt-refdata", "--sample")[0] == 0
    request = apt.Request("CLI", bj("2026-12-05 10:00"), consignee=GENERAL_CONSIGNEE,
                          decl_port="2901", ie_port="2233")  # fmt: skip
    path = tmp_path / "request.xml"
    path.write_bytes(apt.request_message(EBC, [request]))
    code, out = _run(config, "check", str(path), "--at", "2026-12-03 17:30")
    assert code == 0 and "OK" in out
    code, out = _run(config, "check", str(path), "--at", "2026-12-03 17:31")
    assert code == 1 and "[R-APT-5]" in out and "rules: R-APT-5" in out
    code, out = _run(config, "check", str(path), "--at", "20261202100000")
    assert code == 0  # nothing was stored by the checks before
    # several rules at once
    bad = apt.Request("CLI2", bj("2026-12-02 10:00"), consignee="3301940003", ie_port="22A3")
    path.write_bytes(apt.request_message(EBC, [bad]))
    code, out = _run(config, "check", str(path), "--at", "2026-11-20 09:00")
    assert code == 1 and "R-APT-1" in out and "R-APT-2" in out and "失信企业不允许操作" in out


def test_check_at_works_for_e_commerce_without_a_database(tmp_path: Path) -> None:
    path = tmp_path / "order.xml"
    path.write_bytes(samples.order_message(EBC, PLATFORM, ["EO2026112200801"]))
    missing = tmp_path / "nowhere.yaml"
    missing.write_text(yaml.safe_dump({"database": {"url": "postgresql+psycopg://x@0.0.0.0:1/x"}}))
    code, out = _run(missing, "check", str(path), "--at", "2026-12-03 17:31")
    assert code == 0 and "OK (CEB303Message" in out


def test_refdata_from_a_file_and_the_deadline_command(config: Path, tmp_path: Path) -> None:
    assert _run(config, "db", "upgrade")[0] == 0
    data = {
        "ports": [{"code": "5301", "name": "皇岗海关", "work_start": "08:00", "work_end": "20:00"}],
        "calendar": [{"port": "5301", "day": "2026-12-25", "working": False, "note": "test"}],
    }
    path = tmp_path / "ref.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    code, out = _run(config, "apt-refdata", str(path))
    assert code == 0 and '"ports": 1' in out
    code, out = _run(config, "apt-deadlines", "--at", "2026-12-10 10:00")
    assert code == 0 and '"overdue": []' in out
