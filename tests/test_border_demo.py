"""The border demo (issue 13, item 10) runs end to end against the real RabbitMQ and the
simulated customs: both people log in by emulated ID card over real PC/SC (the session's rig
lent to the demo: one pcscd per process), a resident's entry without the biometric check
(区内交易) and one with it, a customs return with the manual's reason (R-BDR-9), a
cooperative's import released once its members authenticated (a stranger's face refused
first). Without a face set it says what it needs in one line and runs the face-free steps.
No traceback, whatever happens."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from devices import pcsc
from devices.rig import CardRig
from gateway.core import emulated_cards
from gateway.core.cli import main
from tests.stack import raw_config

pytestmark = pytest.mark.integration
FACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-orl"


@pytest.fixture
def lent_rig(rig: CardRig, monkeypatch: pytest.MonkeyPatch) -> CardRig:
    """The tests' private pcscd is the process's rig: the demo's ID cards go into it."""
    monkeypatch.setattr(emulated_cards, "_rig", rig)
    return rig


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def _config(tmp_path: Path, keys_dir: Path, prefix: str) -> Path:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix=prefix)
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return config


def test_the_demo_walks_a_resident_and_a_cooperative(
    tmp_path: Path, keys_dir: Path, lent_rig: CardRig
) -> None:
    config = _config(tmp_path, keys_dir, "bdrdemotest.")
    code, out = _run(config, "bdr-demo", "--faces", str(FACES), "--timeout", "120")
    assert code == 0 and "Traceback" not in out, out
    for shown in (
        "身份证识别: 岩温 532*****147 — roles offered: 边民\n",  # R-BDR-1, by ID card
        "身份证识别: 玉香 532*****523 — roles offered: 边民、合作社\n",
        "身份选择: 合作社 of 勐海县打洛边民互市合作社",
        "face check skipped, 已申报",  # 区内交易: R-BDR-6
        "face check passed, 已申报",
        "face check passed, 待认证",
        "00-退单 (returned)",
        "审核意见 (customs' reason): 贸易国别非法；",  # R-BDR-9
        "face authentication refused (人脸比对未通过) → 待认证",
        "face authentication passed → 已申报",
    ):
        assert shown in out, out
    assert "built from the registry" not in out, out
    released = [line for line in out.splitlines() if "单据查询" in line]
    assert len(released) == 3 and all("11-单证放行" in line for line in released), out
    assert {"落地加工", "区内交易"} <= {line.split()[-2] for line in released}
    assert all("*****" in line for line in released)


def test_without_faces_it_says_what_it_needs_and_runs_the_rest(
    tmp_path: Path, keys_dir: Path, lent_rig: CardRig
) -> None:
    config = _config(tmp_path, keys_dir, "bdrdemonoface.")
    missing = tmp_path / "no-faces"
    code, out = _run(config, "bdr-demo", "--faces", str(missing), "--timeout", "120")
    assert code == 0 and "Traceback" not in out, out
    (said,) = [line for line in out.splitlines() if line.startswith("No face set")]
    assert str(missing) in said and "--faces DIR" in said
    assert "CUSTOMS_GATEWAY_DEMO_FACES" in said
    assert "face check skipped, 已申报" in out and "贸易国别非法；" in out
    assert "身份证识别: 岩温" in out and "补录" not in out and "待认证" not in out
    assert "without the face steps" in out


def test_the_demo_says_what_failed_without_a_traceback(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="bdrdemobad.")
    raw["amqp"]["url"] = "amqp://guest:guest@127.0.0.1:1/"  # no broker there
    config.write_text(yaml.safe_dump(raw, allow_unicode=True))
    code, out = _run(config, "bdr-demo", "--faces", str(FACES), "--timeout", "5")
    assert code == 1 and "Traceback" not in out and "set-up failed" in out, out


def test_without_pcsc_the_declarants_come_from_the_registry_labelled(
    tmp_path: Path, keys_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host without pcscd: said in one line, and each declarant is marked as not logged in
    by ID card."""
    monkeypatch.setattr(pcsc, "missing_tools", lambda: ["pcscd"])
    config = _config(tmp_path, keys_dir, "bdrdemonopcsc.")
    code, out = _run(config, "bdr-demo", "--faces", str(tmp_path / "none"), "--timeout", "120")
    assert code == 0 and "Traceback" not in out, out
    (said,) = [line for line in out.splitlines() if "no private pcscd" in line]
    assert "missing: pcscd" in said and "built from the registry" in said
    assert "[no PC/SC: 岩温 built from the registry, not logged in by ID card]" in out
    assert "身份证识别: 岩温" not in out and "贸易国别非法；" in out
