"""The configuration says when it is wrong (issue 17, item 7; docs/configuration.md): unknown
keys and bad values refused at start with the key's dotted path and the expected type, one
line per problem, no traceback; byte sizes with units; environment overrides; `config check`
prints the effective configuration with secrets masked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from gateway.core import config as config_mod
from gateway.core.cli import main as cli_main
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_SECRET = "whsec-never-shown-0123456789"
DB_PASSWORD = "db-pass-never-shown"


@pytest.fixture(autouse=True)
def _no_outside_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GATEWAY__", "CUSTOMS_GATEWAY_")):
            monkeypatch.delenv(name)


def _refused(raw: dict[str, Any], tmp_path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_mod.from_dict(raw, tmp_path)
    head, *lines = caught.value.message.splitlines()
    assert head.endswith(f"{len(lines)} problem{'s' if len(lines) > 1 else ''}")
    return [line.strip() for line in lines]


def test_a_misspelt_key_is_refused_naming_it_and_the_likely_one(tmp_path: Path) -> None:
    (line,) = _refused({"amqp": {"delivery_limt": 9}}, tmp_path)
    assert line.startswith("amqp.delivery_limt: unknown key (did you mean 'delivery_limit'?)")
    assert "amqp takes:" in line and "notify_max_length" in line
    (line,) = _refused({"enterprises": [{"code": "A", "name": "B", "dxp_id": "C",
                                         "key": {"key_fle": "x"}}]}, tmp_path)  # fmt: skip
    assert line.startswith("enterprises[0].key.key_fle: unknown key (did you mean 'key_file'?)")
    (line,) = _refused({"webhook": {}}, tmp_path)
    assert line.startswith("webhook: unknown key (did you mean 'webhooks'?)")


def test_byte_sizes_take_units_and_a_bad_one_names_the_key(tmp_path: Path) -> None:
    made = config_mod.from_dict({"intake": {"max_bytes": "10MB"}}, tmp_path)
    assert made.intake.max_bytes == 10_000_000
    made = config_mod.from_dict({"http": {"max_body_bytes": "10MiB"}}, tmp_path)
    assert made.http.max_body_bytes == 10 * 1024 * 1024
    assert config_mod.from_dict({"intake": {"max_bytes": 4096}}, tmp_path).intake.max_bytes == 4096
    (line,) = _refused({"intake": {"max_bytes": "10 MBs"}}, tmp_path)
    assert line.startswith("intake.max_bytes: ")
    assert "expected a byte size: a number of bytes, or one with a unit (10MB" in line
    assert line.endswith("got '10 MBs'")
    (line,) = _refused({"intake": {"max_bytes": 0}}, tmp_path)
    assert line.startswith("intake.max_bytes: ") and "> 0" in line


def test_every_problem_is_listed_with_its_path_and_expected_type(tmp_path: Path) -> None:
    lines = _refused(
        {
            "http": {"port": "eighty"},
            "amqp": {"queue_type": "lazy", "delivery_limit": 0},
            "database": {"pool_timeout": "soon"},
            "summary": {"cycle": "daily"},
            "enterprises": [{"code": "A", "name": "B"}],
            "alerts": {"job_overdue_minutes": {"apt-deadlines": "ten"}},
        },
        tmp_path,
    )
    assert len(lines) == 7, lines
    by_key = {line.split(":", 1)[0]: line for line in lines}
    assert "expected an integer" in by_key["http.port"] and "got 'eighty'" in by_key["http.port"]
    assert "expected one of quorum, classic" in by_key["amqp.queue_type"]
    assert "≥ 1" in by_key["amqp.delivery_limit"]
    assert "expected a number" in by_key["database.pool_timeout"]
    assert "monthly or weekly" in by_key["summary.cycle"]
    assert by_key["enterprises[0].dxp_id"].endswith("required key missing; expected text")
    assert "expected a number" in by_key["alerts.job_overdue_minutes.apt-deadlines"]


def test_secrets_are_never_echoed_in_a_refusal(tmp_path: Path) -> None:
    raw = {"enterprises": [{"code": "A", "name": "B", "dxp_id": "C",
                            "webhook_secret": ["not", "text", WEBHOOK_SECRET]}]}  # fmt: skip
    (line,) = _refused(raw, tmp_path)
    assert line.startswith("enterprises[0].webhook_secret:") and WEBHOOK_SECRET not in line


def test_the_environment_overrides_the_file_and_is_checked_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY__AMQP__DELIVERY_LIMIT", "9")
    monkeypatch.setenv("GATEWAY__INTAKE__MAX_BYTES", "2MiB")
    made = config_mod.from_dict({"amqp": {"delivery_limit": 3, "prefix": "p."}}, tmp_path)
    assert made.amqp.delivery_limit == 9 and made.amqp.prefix == "p."  # merged, not replaced
    assert made.intake.max_bytes == 2 * 1024 * 1024
    monkeypatch.setenv("GATEWAY__INTAKE__MAX_BYTES", "lots")
    monkeypatch.setenv("GATEWAY__AMQPP__URL", "amqp://x")
    lines = _refused({}, tmp_path)
    assert any(line.startswith("intake.max_bytes: ") for line in lines), lines
    assert "$GATEWAY__AMQPP__URL: unknown key 'amqpp' (did you mean 'amqp'?)" in lines


def test_the_dataclass_api_is_kept(tmp_path: Path) -> None:
    made = config_mod.from_dict({}, tmp_path)
    assert made.amqp.delivery_limit == 5 and made.intake.max_bytes == 10 * 1024 * 1024
    assert made.database_url == f"sqlite:///{tmp_path / 'var' / 'gateway.db'}"
    assert made.with_overrides(default_enterprise="X").default_enterprise == "X"
    assert made.webhooks.max_attempts == 12 and made.alerts.expiry_days == 30


def _config_file(tmp_path: Path, **extra: Any) -> Path:
    secret = tmp_path / "hook.secret"
    secret.write_text(WEBHOOK_SECRET)
    secret.chmod(0o600)
    raw = {
        "database": {"url": f"postgresql+psycopg://gw:{DB_PASSWORD}@db.example/gw"},
        "amqp": {"url": "amqp://gw:amqp-pass-never-shown@mq.example:5672/%2F"},
        "intake": {"max_bytes": "8MiB"},
        "enterprises": [
            {
                "code": "3301960Z01",
                "name": "E",
                "dxp_id": "DXPENT0000458763",
                "webhook": "https://erp.example/hooks",
                "webhook_secret_file": str(secret),
                "key": {"backend": "card", "card_number": 8930000000000101, "pin": "123456"},
            },
        ],  # fmt: skip
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_config_check_prints_the_effective_configuration_with_secrets_masked(
    tmp_path: Path,
) -> None:
    path = _config_file(tmp_path)
    result = CliRunner().invoke(cli_main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 0, result.output
    for secret in (WEBHOOK_SECRET, DB_PASSWORD, "amqp-pass-never-shown", "123456"):
        assert secret not in result.output
    shown = yaml.safe_load(result.output)
    assert shown["database_url"] == "postgresql+psycopg://gw:***@db.example/gw"
    assert shown["amqp"]["url"] == "amqp://gw:***@mq.example:5672/%2F"
    assert shown["intake"]["max_bytes"] == 8 * 1024 * 1024
    ent = shown["enterprises"][0]
    assert ent["webhook_secret"] == "***" and ent["key"]["pin"] == "***"
    assert ent["key"]["card_number"] == "8930000000000101"  # a number in YAML, text here
    assert ent["webhook"] == "https://erp.example/hooks"


def test_a_wrong_configuration_stops_every_command_in_one_line_per_problem(
    tmp_path: Path,
) -> None:
    path = _config_file(tmp_path, amqp={"delivery_limt": 9}, intake={"max_bytes": "10XB"})
    for args in (["config", "check"], ["serve"], ["db", "upgrade"]):
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", "--config", str(path), *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("GATEWAY__")},
        )
        assert done.returncode != 0, (args, done.stdout)
        assert "Traceback" not in done.stderr + done.stdout
        assert "amqp.delivery_limt: unknown key (did you mean 'delivery_limit'?)" in done.stderr
        assert "intake.max_bytes: could not interpret byte unit: XB" in done.stderr
