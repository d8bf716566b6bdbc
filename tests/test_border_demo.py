"""The border demo (issue 13, item 10) runs end to end against the real RabbitMQ and the
simulated customs: faces enrolled and checked by the people side's real matcher, a
resident's entry released, a cooperative's import released once its members authenticated
(a stranger's face refused first). No traceback, whatever happens."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway.core.cli import main
from tests.stack import raw_config

pytestmark = pytest.mark.integration
FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-orl"


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_the_demo_walks_a_resident_and_a_cooperative(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="bdrdemotest."), allow_unicode=True)
    )
    code, out = _run(config, "bdr-demo", "--faces", str(FACES), "--timeout", "120")
    assert code == 0 and "Traceback" not in out, out
    for shown in (
        "face check passed, 已申报",
        "face check passed, 待认证",
        "face authentication refused (人脸比对未通过) → 待认证",
        "face authentication passed → 已申报",
    ):
        assert shown in out, out
    released = [line for line in out.splitlines() if "单据查询" in line]
    assert len(released) == 2 and all("11-单证放行" in line for line in released), out
    assert "落地加工" in released[0] and "*****" in released[0]


def test_the_demo_says_what_failed_without_a_traceback(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="bdrdemobad.")
    raw["amqp"]["url"] = "amqp://guest:guest@127.0.0.1:1/"  # no broker there
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    code, out = _run(config, "bdr-demo", "--faces", str(FACES), "--timeout", "5")
    assert code == 1 and "Traceback" not in out and "set-up failed" in out, out
