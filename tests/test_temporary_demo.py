"""The temporary-goods demo (issue 12, item 9) runs end to end against the real RabbitMQ and
the simulated customs in its own process: an exhibition approved, a loan list, a confirmation
with a PDF attachment customs received, an extension moving the date, and the printed check
sheet — whose text is read back from the PDF. No traceback, whatever happens."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway.core.cli import main
from tests.stack import raw_config

pytestmark = pytest.mark.integration


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_the_demo_tells_the_whole_story(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="tmpdemotest.")
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    code, out = _run(config, "tmp-demo", "--timeout", "120")
    assert code == 0 and "Traceback" not in out, out
    for shown in ("审核通过 approved: 展览会海关编号 ZL2900", "外借清单编号 WJ2900",
                  "customs received the file", "downloaded back: invoice.pdf", "same digest",
                  "确认申请书编号 QR2900", "海关延期审核允许时间",
                  "复运出/进境日期 moved"):  # fmt: skip
        assert shown in out, out
    old, new = re.search(r"moved (\d{8}) → (\d{8})", out).groups()  # type: ignore[union-attr]
    assert new > old
    path = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
    assert path.is_file() and path.read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                              text=True, check=True).stdout  # fmt: skip
        pre = re.search(r"预录入确认书编号 (G\d+)", out).group(1)  # type: ignore[union-attr]
        assert "核对单" in text and pre in text and "立式加工中心" in text


def test_the_demo_says_what_failed_without_a_traceback(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="tmpdemobad.")
    raw["amqp"]["url"] = "amqp://guest:guest@127.0.0.1:1/"  # no broker there
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    code, out = _run(config, "tmp-demo", "--timeout", "5")
    assert code == 1 and "Traceback" not in out and "set-up failed" in out, out
