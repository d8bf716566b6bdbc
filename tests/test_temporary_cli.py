"""The core's commands cover the TMP messages once the system is installed (`validate`,
`check --at`, `submit`), and `tmp-exhibitions` is the registration query."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gateway.core.cli import main
from gateway.temporary import receipts
from gateway.temporary import samples as tmp
from tests.stack import raw_config
from tests.temporary_fixtures import EBC


@pytest.fixture
def config(tmp_path: Path, keys_dir: Path) -> Path:
    path = tmp_path / "config.yaml"
    raw = raw_config(tmp_path, keys_dir, prefix="tmpcli.")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def _file(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_validate_knows_every_tmp_message(config: Path, tmp_path: Path) -> None:
    good = _file(tmp_path, "reg.xml", tmp.registration_message(EBC, [tmp.Registration("V-1")]))
    change = _file(tmp_path, "chg.xml", tmp.change_message(EBC, [tmp.Change("V-1")]))
    deletion = _file(tmp_path, "del.xml", tmp.deletion_message(EBC, [tmp.Deletion("V-1")]))
    code, out = _run(config, "validate", good, change, deletion)
    assert code == 0, out
    assert "OK (TMP101Message, 1 record(s))" in out and "OK (TMP103Message" in out
    assert "OK (TMP105Message" in out
    entity = {"agentCode": EBC.code, "copNo": "V-1", "returnStatus": "1", "returnInfo": "ok"}
    receipt = _file(tmp_path, "r.xml", receipts.build("TMP102Message", [entity], 1.79e9))
    code, out = _run(config, "validate", "--schema-only", receipt)
    assert code == 0 and "TMP102Message" in out, out
    bad = good.replace("reg.xml", "bad.xml")
    Path(bad).write_bytes(Path(good).read_bytes().replace(b"<tmp:venue>", b"<tmp:place>", 1))
    code, out = _run(config, "validate", bad)
    assert code == 1 and "REFUSED" in out and "[R-COM-1]" in out


def test_check_at_runs_every_tmp_rule_storing_nothing(config: Path, tmp_path: Path) -> None:
    assert _run(config, "db", "upgrade")[0] == 0
    omit = frozenset({"venue"})
    bad = tmp.Registration("K-1", omit=omit, values={"customsCode": "29A0"})
    path = _file(tmp_path, "bad.xml", tmp.registration_message(EBC, [bad]))
    code, out = _run(config, "check", path, "--at", "now")
    assert code == 1 and "rules: R-COM-2, R-TMP-1" in out and "venue (展览场馆)" in out
    good = _file(tmp_path, "good.xml", tmp.registration_message(EBC, [tmp.Registration("K-1")]))
    assert _run(config, "check", good, "--at", "now")[0] == 0
    change = tmp.change_message(EBC, [tmp.Change("K-1", exhibition_no="ZL1")])
    code, out = _run(config, "check", _file(tmp_path, "chg.xml", change), "--at", "now")
    assert code == 1 and "[R-TMP-3]" in out  # nothing was stored: no registration to change
    loan = tmp.loan_list_message(EBC, tmp.LoanList("K-2", "ZL1"))
    code, out = _run(config, "check", _file(tmp_path, "loan.xml", loan), "--at", "now")
    assert code == 1 and "[R-TMP-4]" in out and "exhibitionNo" in out  # no approved exhibition


def test_check_without_at_runs_the_business_rules_too(config: Path, tmp_path: Path) -> None:
    """Plain `check` is not the XSD alone: a registration the XSD takes but R-COM-2 and
    R-TMP-1 refuse is refused, as is a list naming no approved exhibition (R-TMP-4, the
    store read and rolled back); the XSD-only `validate --schema-only` passes them."""
    assert _run(config, "db", "upgrade")[0] == 0
    bad = tmp.Registration("K-3", omit=frozenset({"venue"}), values={"closeDate": "20000101"})
    path = _file(tmp_path, "bad.xml", tmp.registration_message(EBC, [bad]))
    assert _run(config, "validate", "--schema-only", path)[0] == 0
    code, out = _run(config, "check", path)
    assert code == 1 and "rules: R-COM-2, R-TMP-1" in out and "closeDate" in out, out
    loan = _file(tmp_path, "loan.xml", tmp.loan_list_message(EBC, tmp.LoanList("K-4", "ZL1")))
    code, out = _run(config, "check", loan)
    assert code == 1 and "[R-TMP-4]" in out, out
    good = _file(tmp_path, "good.xml", tmp.registration_message(EBC, [tmp.Registration("K-3")]))
    code, out = _run(config, "check", good)
    assert code == 0 and "OK (TMP101Message" in out, out


def test_check_says_when_the_database_does_not_answer(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.yaml"
    missing.write_text(yaml.safe_dump({"database": {"url": "postgresql+psycopg://x@0.0.0.0:1/x"}}))
    good = _file(tmp_path, "good.xml", tmp.registration_message(EBC, [tmp.Registration("K-5")]))
    code, out = _run(missing, "check", good)
    assert code == 1 and "did not answer" in out and "Traceback" not in out, out


def test_submit_then_query(config: Path, tmp_path: Path) -> None:
    assert _run(config, "db", "upgrade")[0] == 0
    draft = tmp.Registration("Q-1", app_status="1")
    code, out = _run(
        config, "submit", _file(tmp_path, "q.xml", tmp.registration_message(EBC, [draft]))
    )
    assert code == 0, out
    code, out = _run(config, "tmp-exhibitions", "--enterprise", EBC.code)
    assert code == 0, out
    found = json.loads(out)
    assert found["total"] == 1 and found["records"][0]["status_name"] == "暂存"
    doc_id = found["records"][0]["document_id"]
    code, out = _run(config, "tmp-exhibitions", "--id", str(doc_id))
    assert code == 0 and json.loads(out)["form"]["venue"] == "杭州国际博览中心"
    code, out = _run(config, "tmp-exhibitions", "--status", "nonsense")
    assert code == 1 and "R-COM-7" in out
    code, out = _run(config, "tmp-exhibitions", "--customs", "0100", "--from", "20260101")
    assert code == 0 and json.loads(out)["total"] == 0


def test_samples_to_start_from(config: Path, tmp_path: Path) -> None:
    folder = tmp_path / "samples"
    code, out = _run(config, "tmp-samples", "--exhibition-no", "ZL1", str(folder))
    assert code == 0, out
    every = sorted(str(p) for p in folder.iterdir())
    assert [Path(f).name for f in every] == [
        "1-save-TMP101.xml", "2-declare-TMP101.xml", "3-change-TMP103.xml",
        "4-deletion-TMP105.xml", "5-loan-list-TMP107.xml", "6-confirmation-save-TMP109.xml",
        "declarations.yaml",
    ]  # fmt: skip
    files = [f for f in every if f.endswith(".xml")]
    code, out = _run(config, "validate", *files)
    assert code == 0, out
    assert _run(config, "db", "upgrade")[0] == 0
    assert _run(config, "submit", files[0], files[1])[0] == 0
    code, out = _run(config, "tmp-exhibitions")
    (record,) = json.loads(out)["records"]
    assert (record["cop_no"], record["status_name"]) == ("EXPO-0001", "已申报")
