"""A confirmation's attached documents (随附单证, R-COM-6): only to a saved confirmation (not
before the first save), PDF by content (never by name), 4 MB exactly accepted and one byte
more refused, kept with their SHA-256 digest, only while the confirmation may be edited;
another enterprise's confirmation answers like a missing one; over HTTP and the CLI."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.core.api import create_app
from gateway.core.cli import main
from gateway.core.enterprises import Caller
from gateway.core.models import Enterprise, utcnow
from gateway.core.parties import Party
from gateway.core.runtime import Gateway
from gateway.core.status import Status
from gateway.errors import InvalidMessage, NotFound
from gateway.temporary import attachments
from gateway.temporary import samples as tmp
from gateway.temporary.codes import TmpStatus
from gateway.temporary.models import TmpConfirmationAttachment
from tests.stack import CARRIER_KEY, EBC_KEY, make_config, raw_config
from tests.temporary_fixtures import CARRIER, EBC, TmpEnv, make_env, pdf_of

FOUR_MB = 4 * 1024 * 1024


PDF = pdf_of()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[TmpEnv]:
    e = make_env(tmp_path)
    yield e
    e.db.dispose()


def _caller(env: TmpEnv, code: str = EBC.code) -> Caller:
    with env.db.session() as session:
        ent = session.scalar(select(Enterprise).where(Enterprise.code == code))
        assert ent is not None
        return Caller(enterprise_id=ent.id, enterprise_code=ent.code)


def _saved(env: TmpEnv, cop_no: str = "A-1") -> int:
    one = tmp.Confirmation(cop_no, app_status="1")
    return env.submit(tmp.confirmation_message(EBC, [one])).documents[0].id


def _add(env: TmpEnv, doc_id: int, data: bytes, name: str = "invoice.pdf",
         who: Caller | None = None) -> dict[str, object]:  # fmt: skip
    with env.db.session() as session:
        return attachments.add(session, who or _caller(env), doc_id, name, data, utcnow())


def _refused(env: TmpEnv, doc_id: int, data: bytes, name: str = "x.pdf") -> list[tuple[str, str]]:
    with pytest.raises(InvalidMessage) as info:
        _add(env, doc_id, data, name)
    return [(v.rule, v.field) for v in info.value.violations]


def test_a_pdf_is_kept_with_its_digest(env: TmpEnv) -> None:
    doc = _saved(env)
    got = _add(env, doc, PDF)
    digest = hashlib.sha256(PDF).hexdigest()
    assert (got["sha256"], got["size"], got["file_name"]) == (digest, len(PDF), "invoice.pdf")
    with env.db.session() as session:
        (row,) = session.scalars(select(TmpConfirmationAttachment))
        assert (row.sha256, row.content) == (digest, PDF)
    assert _add(env, doc, PDF)["id"] == got["id"]  # the same file twice is one attachment


def test_exactly_4_mb_is_accepted_one_byte_more_refused(env: TmpEnv) -> None:
    doc = _saved(env)
    assert _add(env, doc, pdf_of(FOUR_MB))["size"] == FOUR_MB
    assert _refused(env, doc, pdf_of(FOUR_MB + 1)) == [("R-COM-6", "attachment")]


@pytest.mark.parametrize(
    "data",
    [b"not a pdf at all, only named x.pdf\n%%EOF\n",  # no header
     PDF[: len(PDF) // 2],  # truncated: no trailer
     b"%PDF-1.4\nthis is no PDF body\n%%EOF\n",  # header and trailer, nothing readable
     b""],
)  # fmt: skip
def test_anything_but_a_pdf_named_x_pdf_is_refused(env: TmpEnv, data: bytes) -> None:
    assert _refused(env, _saved(env), data, "x.pdf") == [("R-COM-6", "attachment")]


def test_a_pdf_named_otherwise_is_still_a_pdf(env: TmpEnv) -> None:
    assert _add(env, _saved(env), PDF, "scan.bin")["file_name"] == "scan.bin"


def test_before_the_first_save_there_is_nothing_to_attach_to(env: TmpEnv) -> None:
    with env.db.session() as session, pytest.raises(InvalidMessage) as info:
        attachments.find(session, _caller(env), EBC.code, "NEVER-SAVED")
    assert [(v.rule, v.field) for v in info.value.violations] == [("R-COM-6", "copNo")]
    doc = _saved(env, "A-2")
    with env.db.session() as session:
        assert attachments.find(session, _caller(env), EBC.code, "A-2") == doc


def test_a_deleted_confirmation_takes_none(env: TmpEnv) -> None:
    doc = _saved(env)
    gone = tmp.Confirmation("A-1", app_type="3", app_status="1")
    env.submit(tmp.confirmation_message(EBC, [gone]))
    assert _refused(env, doc, PDF) == [("R-COM-6", "attachment")]


def test_another_enterprises_confirmation_answers_like_a_missing_one(env: TmpEnv) -> None:
    doc = _saved(env)
    theirs = _caller(env, CARRIER.code)
    messages = []
    for target in (doc, doc + 1000):
        with pytest.raises(NotFound) as info:
            _add(env, target, PDF, who=theirs)
        messages.append(str(info.value).replace(str(target), "N"))
    assert messages[0] == messages[1]


@pytest.mark.parametrize("state", [Status.SEND_FAILED, Status.STORE_FAILED, TmpStatus.NOT_APPROVED])
def test_attach_while_editable(env: TmpEnv, state: Status) -> None:
    doc = _saved(env)
    env.set_status(doc, state)
    _add(env, doc, PDF)


@pytest.mark.parametrize("state", [Status.PENDING_SIGN, Status.STORED, TmpStatus.APPROVED,
                                   TmpStatus.CASE_CLOSED])  # fmt: skip
def test_attach_once_declared_is_refused(env: TmpEnv, state: Status) -> None:
    doc = _saved(env)
    env.set_status(doc, state)
    assert _refused(env, doc, PDF) == [("R-TMP-3", "attachment")]


# --- HTTP and CLI --------------------------------------------------------------------------------


def test_the_http_route(tmp_path: Path, keys_dir: Path) -> None:
    gw = Gateway(make_config(tmp_path, keys_dir, prefix="tmpatt."))
    gw.prepare(broker=False)
    draft = tmp.confirmation_message(EBC, [tmp.Confirmation("H-1", app_status="1")])
    mine, theirs = {"X-API-Key": EBC_KEY}, {"X-API-Key": CARRIER_KEY}
    try:
        with TestClient(create_app(gw)) as client:
            doc = client.post("/v1/messages", content=draft, headers=mine).json()
            doc_id = doc["documents"][0]["id"]
            url = f"/v1/confirmations/{doc_id}/attachments?file_name=invoice.pdf"
            taken = client.post(url, content=pdf_of(FOUR_MB), headers=mine)
            assert taken.status_code == 201, taken.text
            assert taken.json()["sha256"] == hashlib.sha256(pdf_of(FOUR_MB)).hexdigest()
            # sent to customs: a TMP113 document of its own, waiting for its signature
            sent = client.get(f"/v1/documents/{taken.json()['delivery']['document_id']}",
                              headers=mine).json()  # fmt: skip
            assert (sent["kind"], sent["status"]) == ("tmp_confirmation_attachment", "pending_sign")
            # downloaded back by its owner only
            got = f"/v1/confirmations/{doc_id}/attachments/{taken.json()['id']}"
            back = client.get(got, headers=mine)
            assert back.status_code == 200 and back.content == pdf_of(FOUR_MB)
            assert back.headers["content-type"] == "application/pdf"
            assert "invoice.pdf" in back.headers["content-disposition"]
            assert client.get(got, headers=theirs).status_code == 404
            assert client.get(got + "9", headers=mine).status_code == 404
            # the same file again: the one attachment, not sent twice
            again = client.post(url, content=pdf_of(FOUR_MB), headers=mine).json()
            assert again["delivery"] == taken.json()["delivery"]
            big = client.post(url, content=pdf_of(FOUR_MB + 1), headers=mine)
            assert big.status_code == 413 and "R-COM-6" in big.text, big.text
            fake = client.post(url.replace("invoice", "x"), content=b"hello", headers=mine)
            assert fake.status_code == 422 and "R-COM-6" in fake.text
            assert client.post(url, content=PDF, headers=theirs).status_code == 404
            missing = f"/v1/confirmations/{doc_id + 99}/attachments?file_name=a.pdf"
            assert client.post(missing, content=PDF, headers=mine).status_code == 404
    finally:
        gw.db.dispose()


def test_the_cli(tmp_path: Path, keys_dir: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpattcli."),
                                     allow_unicode=True))  # fmt: skip

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        return result.exit_code, result.output

    assert run("db", "upgrade")[0] == 0
    good, fake = tmp_path / "invoice.pdf", tmp_path / "x.pdf"
    good.write_bytes(PDF)
    fake.write_bytes(b"plain text")
    draft = tmp_path / "draft.xml"
    draft.write_bytes(tmp.confirmation_message(EBC, [tmp.Confirmation("K-1", app_status="1")]))
    code, out = run("submit", str(draft))
    assert code == 0, out
    before = ("tmp-attach", "--enterprise", EBC.code, "--cop-no", "K-0")
    code, out = run(*before, str(good))
    assert code != 0 and "R-COM-6" in out and "first save" in out  # K-0 was never saved
    attach = ("tmp-attach", "--enterprise", EBC.code, "--cop-no", "K-1")
    code, out = run(*attach, str(good))
    assert code == 0 and hashlib.sha256(PDF).hexdigest() in out, out
    assert '"status": "pending_sign"' in out  # sent to customs through the intake (TMP113)
    code, out = run(*attach, str(fake))
    assert code != 0 and "R-COM-6" in out
    back = tmp_path / "back.pdf"
    get = ("tmp-attachment", "--cop-no", "K-1", "--sha256", hashlib.sha256(PDF).hexdigest(),
           "-o", str(back))  # fmt: skip
    code, out = run(*get[:1], "--enterprise", EBC.code, *get[1:])
    assert code == 0 and back.read_bytes() == PDF, out
    code, out = run(*get[:1], "--enterprise", CARRIER.code, "--agent-code", EBC.code, *get[1:])
    assert code != 0 and "Traceback" not in out  # another's: like a missing one


def test_the_simulators_close_command_refuses_what_customs_did_not_approve(
    tmp_path: Path, keys_dir: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw_config(tmp_path, keys_dir, prefix="tmpclose."),
                                     allow_unicode=True))  # fmt: skip
    args = ["--config", str(config), "tmp-sim-close", "--agent-code", EBC.code,
            "--cop-no", "NONE", "--date", "20270601"]  # fmt: skip
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "no approved review confirmation" in result.output


# --- the declaration names its attachments by digest (ConfirmationDocument) ----------------------

DIGEST = hashlib.sha256(PDF).hexdigest()


def _with_documents(cop_no: str, *documents: tuple[str, str], **kw: object) -> bytes:
    one = tmp.Confirmation(cop_no, documents=documents, **kw)  # type: ignore[arg-type]
    return tmp.confirmation_message(EBC, [one])


def _doc_refusal(env: TmpEnv, data: bytes) -> list[tuple[str, str]]:
    with pytest.raises(InvalidMessage) as info:
        env.submit(data)
    return [(v.rule, v.field.split("/", 1)[1]) for v in info.value.violations]


def test_a_declaration_names_its_uploaded_attachment(env: TmpEnv) -> None:
    doc = _saved(env)
    _add(env, doc, PDF)
    declared = env.submit(_with_documents("A-1", ("invoice.pdf", DIGEST), app_type="2"))
    assert declared.documents[0].status == "pending_sign"


def test_a_digest_of_no_attachment_of_it_is_refused(env: TmpEnv) -> None:
    _add(env, _saved(env, "A-9"), PDF)  # another confirmation's attachment
    _saved(env)
    found = _doc_refusal(env, _with_documents("A-1", ("x.pdf", DIGEST), app_type="2"))
    assert found == [("R-COM-6", "ConfirmationDocument[1]/sha256 (随附单证摘要)")]


def test_none_can_be_declared_before_the_first_save(env: TmpEnv) -> None:
    found = _doc_refusal(env, _with_documents("A-1", ("invoice.pdf", DIGEST)))
    assert found == [("R-COM-6", "ConfirmationDocument[1]/sha256 (随附单证摘要)")]


@pytest.mark.parametrize(
    ("documents", "rule"),
    [((("a.pdf", DIGEST.upper()),), "R-COM-6"),
     ((("a.pdf", "0" * 63 + "g"),), "R-COM-6"),
     ((("a.pdf", DIGEST), ("b.pdf", DIGEST)), "R-COM-6"),
     ((("a.pdf", ""),), "R-COM-2")],
)  # fmt: skip
def test_a_digest_is_64_lowercase_hex_digits_once(
    env: TmpEnv, documents: tuple[tuple[str, str], ...], rule: str
) -> None:
    doc = _saved(env)
    _add(env, doc, PDF)
    data = _with_documents("A-1", *documents, app_type="2")
    assert [r for r, _f in _doc_refusal(env, data)] == [rule]


def test_a_key_deleted_and_saved_again_starts_without_attachments(env: TmpEnv) -> None:
    doc = _saved(env)
    _add(env, doc, PDF)
    env.submit(tmp.confirmation_message(EBC, [tmp.Confirmation("A-1", app_type="3",
                                                               app_status="1")]))  # fmt: skip
    again = _saved(env)
    with env.db.session() as session:
        assert list(session.scalars(select(TmpConfirmationAttachment))) == []
    found = _doc_refusal(env, _with_documents("A-1", ("invoice.pdf", DIGEST), app_type="2"))
    assert [r for r, _f in found] == ["R-COM-6"]
    assert again != doc


# --- delivery to customs (TMP113) --------------------------------------------------------------


def _tmp113(env: TmpEnv, cop_no: str, data: bytes, sender: Party = EBC, **change: str) -> bytes:
    """The TMP113 the gateway builds for `data` attached to `cop_no`, with `change` applied."""
    from lxml import etree

    from gateway.core.models import Enterprise as Ent
    from gateway.temporary.models import TmpConfirmation

    with env.db.session() as session:
        conf = session.scalar(select(TmpConfirmation).where(TmpConfirmation.cop_no == cop_no))
        ent = session.scalar(select(Ent).where(Ent.code == sender.code))
        digest = hashlib.sha256(data).hexdigest()
        att = TmpConfirmationAttachment(file_name="a.pdf", size=len(data), sha256=digest,
                                        content=data)  # fmt: skip
        assert conf is not None and ent is not None
        body = attachments.message(ent, conf, att, utcnow())
    root = etree.fromstring(body)
    for name, value in change.items():
        (el,) = [e for e in root.iter() if etree.QName(e).localname == name]
        el.text = value
    return etree.tostring(root)


def test_a_tmp113_carries_only_an_uploaded_file_of_the_declarers_confirmation(
    env: TmpEnv,
) -> None:
    doc = _saved(env)
    _add(env, doc, PDF)
    taken = env.submit(_tmp113(env, "A-1", PDF))
    assert taken.documents[0].kind == "tmp_confirmation_attachment"
    other = pdf_of(2000)  # never uploaded
    found = env.refused(_tmp113(env, "A-1", other))
    assert [(v.rule, v.field.split("/")[-1].split(" ")[0]) for v in found] == [
        ("R-COM-6", "sha256")
    ]
    forged = _tmp113(env, "A-1", PDF, fileSize=str(len(PDF) + 1))
    found = env.refused(forged)
    assert [v.rule for v in found] == ["R-COM-6"] and "content" in found[0].field


def test_another_enterprise_cannot_send_ones_attachment(env: TmpEnv) -> None:
    doc = _saved(env)
    _add(env, doc, PDF)
    data = _tmp113(env, "A-1", PDF, sender=CARRIER, agentCode=CARRIER.code)
    found = env.refused(data, CARRIER)
    assert [v.rule for v in found] == ["R-COM-6"] and "sha256" in found[0].field


def test_the_xsd_refuses_content_that_is_not_base64(env: TmpEnv) -> None:
    doc = _saved(env)
    _add(env, doc, PDF)
    found = env.refused(_tmp113(env, "A-1", PDF, content="not base64 at all!"))
    assert [v.rule for v in found] == ["R-COM-1"]
