"""Bad input on purpose: property tests (hypothesis) over everything that reads outside bytes.

Targets: `intake.check`, `Intake.submit` through the HTTP API, the receipt parser and
`ReceiptProcessor`, and the DxpMsg `unwrap`. Inputs are valid sample messages mutated
(bytes flipped, cut, inserted; a field's text replaced; another root, namespace or encoding;
a DTD with XXE or billion laughs put in front; bodies over the size limit) and plain garbage.

The properties, for every case:
- no crash: only the gateway's own errors (InvalidMessage, ReceiptError) or a stored
  'unreadable' receipt; never a 500 from the API;
- no hang: every case runs under a wall-clock bound (`CASE_SECONDS`);
- a clear error: every violation names a rule (R-XXX-n…), a field and a reason;
- nothing accepted that should not be: whatever is accepted passes the XSD and the checks
  again when re-checked from its stored bytes;
- nothing already accepted lost: records stored before the run are unchanged after it, and
  a record in a final state stays there whatever receipts arrive.

CI runs a short version (`FUZZ_EXAMPLES`, default 100 per target: 600 cases in a few seconds);
`FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/test_fuzz.py` is the full run. The number of
cases run is printed at the end.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import signal
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gateway.codes import CEB_NS, DXP_NS
from gateway.core.api import create_app
from gateway.core.intake import check
from gateway.core.models import Document, Message, Receipt, StatusChange, Version
from gateway.core.receipt_processor import ReceiptProcessor
from gateway.core.runtime import Gateway
from gateway.ecx import samples
from gateway.errors import InvalidMessage, ReceiptError, Violation
from receipts.build import build_message_return, build_receipt
from receipts.parse import parse_receipt
from schemas import loader as schemas
from tests.stack import EBC_KEY, PLATFORM, raw_config
from transports.envelope import unwrap, wrap

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CASE_SECONDS = float(os.environ.get("FUZZ_CASE_SECONDS", "10"))
LIMIT = 64 * 1024  # size limit of the fuzzed gateway: "huge" bodies stay cheap to make
RULE = re.compile(r"R-[A-Z]+-[0-9]+(\.[a-z]+)?")
CASES: Counter[str] = Counter()
OUTCOMES: Counter[str] = Counter()  # what the cases ended in: accepted, refused by rule…

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the wall-clock bound below is the hang check; timing noise is not
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=os.environ.get("FUZZ_RANDOM") is None,  # CI: the same cases every run
    database=None,
)

EBC = samples.Party("3301960Z01", "杭州云锦跨境电子商务有限公司", "DXPENT0000458763")
CARRIER = samples.Party("3301980W02", "宁波海捷国际物流有限公司", "DXPENT0000512209")
PAYER = samples.Party("312226T001", "杭州云付支付服务有限公司", "DXPENT0000300002")


# --- bounds and reporting --------------------------------------------------------------------


class Hang(Exception):
    pass


@contextmanager
def bounded(seconds: float = CASE_SECONDS) -> Iterator[None]:
    """Fail the case if it runs longer than `seconds` (SIGALRM: pytest runs on the main thread)."""

    def expired(_sig: int, _frame: object) -> None:
        raise Hang(f"case ran over {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module", autouse=True)
def report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = f"fuzz: {sum(CASES.values())} cases ran ({dict(sorted(CASES.items()))})"
    line += f"\nfuzz outcomes: {dict(sorted(OUTCOMES.items()))}"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)
    else:  # pragma: no cover - pytest always has one unless -p no:terminal
        print(line)


def assert_clear(violations: list[Violation]) -> None:
    """Every refusal names a rule, a field and a reason."""
    assert violations, "an InvalidMessage without violations"
    for v in violations:
        assert RULE.fullmatch(v.rule), f"unclear rule {v.rule!r} in {v}"
        assert v.field.strip() and v.message.strip(), f"unclear violation {v}"


# --- inputs ----------------------------------------------------------------------------------


def seed_messages() -> list[bytes]:
    orders = samples.order_numbers(2, start=900)
    return [
        samples.order_message(EBC, PLATFORM, orders[:1]),
        samples.order_message(EBC, PLATFORM, orders, app_status="1", items_per_order=3),
        samples.payment_message(EBC, PLATFORM, PAYER, orders[:1]),
        samples.waybill_message(CARRIER, [("YT900000000001", EBC)]),
    ]


SEEDS = seed_messages()

HOSTILE_PROLOGS = [
    # XXE: a local file, a URL, a parameter entity
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE r [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>',
    b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/hostname"> %p;]>',
    b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/evil.dtd">',
    # billion laughs, and its quadratic-blowup cousin
    b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    b'<!DOCTYPE r [<!ENTITY big "' + b"x" * 2000 + b'">]>',
    b'<!ENTITY x "y">',
    b'<?xml-stylesheet href="http://127.0.0.1:9/x.xsl"?>',
    b"<!-- a comment first -->",
]
ENTITY_REFS = [b"&x;", b"&d;&d;&d;", b"&big;" * 50, b"&#0;", b"&#xD800;", b"&lt;", b"]]>"]
ROOTS = [b"CEB311Message", b"CEB999Message", b"CEB304Message", b"DxpMsg", b"Message", b"x:y"]
NAMESPACES = [b"", b"http://www.chinaport.gov.cn/ceb2", b"urn:x", DXP_NS.encode(), b"\x00"]
ENCODINGS = ["utf-16", "utf-16-le", "gb18030", "gb2312", "latin-1", "cp1252", "utf-32", "ascii"]
DECLARED = [b"UTF-8", b"GB2312", b"UTF-16", b"ISO-8859-1", b"EBCDIC", b"nonsense-42", b""]

TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
NASTY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "-1",
        "0",
        "1e309",
        "NaN",
        "99999999999999999999.999",
        "0.001",
        "20261301250000",
        "x" * 300,
        "\u202e",
        "𠀀𠀀",
        "<",
        "&amp;",
        "１２３",
        "\t\n",
    ]
)


def _text_spans(data: bytes) -> list[tuple[int, int]]:
    return [m.span(1) for m in re.finditer(rb">([^<]*)<", data)]


def _mutate(draw: Callable[..., Any], data: bytes) -> bytes:
    """One mutation, chosen by hypothesis."""
    how = draw(st.sampled_from(MUTATIONS))
    return how(draw, data)


def _flip(draw: Callable[..., Any], data: bytes) -> bytes:
    i = draw(st.integers(0, len(data) - 1))
    return data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]


def _cut(draw: Callable[..., Any], data: bytes) -> bytes:
    i = draw(st.integers(0, len(data) - 1))
    j = draw(st.integers(i, min(len(data), i + 200)))
    return data[:i] + data[j:]


def _truncate(draw: Callable[..., Any], data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data) - 1))]


def _insert(draw: Callable[..., Any], data: bytes) -> bytes:
    i = draw(st.integers(0, len(data)))
    extra = draw(st.one_of(st.binary(max_size=40), st.sampled_from(ENTITY_REFS)))
    return data[:i] + extra + data[i:]


def _field_text(draw: Callable[..., Any], data: bytes) -> bytes:
    spans = _text_spans(data)
    if not spans:
        return data
    i, j = draw(st.sampled_from(spans))
    new = draw(st.one_of(TEXT, NASTY_TEXT)).encode("utf-8")
    new = new.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
    return data[:i] + new + data[j:]


def _duplicate_slice(draw: Callable[..., Any], data: bytes) -> bytes:
    i = draw(st.integers(0, len(data) - 1))
    j = draw(st.integers(i, min(len(data), i + 400)))
    return data[:j] + data[i:j] + data[j:]


def _root_name(draw: Callable[..., Any], data: bytes) -> bytes:
    old = re.search(rb"<ceb:(CEB[0-9]+Message)", data)
    if old is None:  # an earlier mutation renamed it already
        return data
    new = draw(st.sampled_from(ROOTS))
    return data.replace(old.group(1), new)


def _namespace(draw: Callable[..., Any], data: bytes) -> bytes:
    return data.replace(CEB_NS.encode(), draw(st.sampled_from(NAMESPACES)))


def _encoding(draw: Callable[..., Any], data: bytes) -> bytes:
    text = data.decode("utf-8", errors="replace")
    enc = draw(st.sampled_from(ENCODINGS))
    body = text.encode(enc, errors="replace")
    if draw(st.booleans()):  # declare something else than what was written
        body = (
            re.sub(
                rb'encoding="[^"]*"',
                b'encoding="' + draw(st.sampled_from(DECLARED)) + b'"',
                text.encode("utf-8"),
                count=1,
            )
            .decode("utf-8")
            .encode(enc, errors="replace")
        )
    return body


def _hostile(draw: Callable[..., Any], data: bytes) -> bytes:
    prolog = draw(st.sampled_from(HOSTILE_PROLOGS))
    decl, _, rest = data.partition(b"\n")
    ref = draw(st.sampled_from(ENTITY_REFS))
    return decl + b"\n" + prolog + rest.replace(b"</ceb:orderNo>", ref + b"</ceb:orderNo>", 1)


def _huge(draw: Callable[..., Any], data: bytes) -> bytes:
    pad = draw(st.sampled_from([b" ", b"<!-- -->", b"\x00", b"A"]))
    return data + pad * (LIMIT // len(pad) + draw(st.integers(1, 100)))


def _number(draw: Callable[..., Any], data: bytes) -> bytes:
    """Another well-formed number in a numeric field: XSD-valid, the sums may not add up."""
    spans = [m.span(1) for m in re.finditer(rb">([0-9]+(?:\.[0-9]+)?)<", data)]
    if not spans:
        return data
    i, j = draw(st.sampled_from(spans))
    places = draw(st.sampled_from([0, 2, 3]))
    value = draw(st.integers(0, 10**7)) / 10**places
    return data[:i] + f"{value:.{places}f}".encode() + data[j:]


def _code(draw: Callable[..., Any], data: bytes) -> bytes:
    """A valid code where another was: appType, appStatus, guid (a new message, same records)."""
    tag = draw(st.sampled_from([b"appType", b"appStatus", b"guid", b"copCode", b"ebcCode"]))
    spans = [m.span(1) for m in re.finditer(rb"<ceb:" + tag + rb">([^<]*)<", data)]
    if tag == b"guid" and draw(st.booleans()):
        spans = [m.span(1) for m in re.finditer(rb' guid="([^"]*)"', data)]
    if not spans:
        return data
    i, j = draw(st.sampled_from(spans))
    choices = {
        b"appType": [b"1", b"2", b"3"],
        b"appStatus": [b"1", b"2"],
        b"guid": [str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))).upper().encode()],
        b"copCode": [EBC.code.encode(), CARRIER.code.encode(), b"3301960X99"],
        b"ebcCode": [EBC.code.encode(), CARRIER.code.encode()],
    }[tag]
    return data[:i] + draw(st.sampled_from(choices)) + data[j:]


MUTATIONS = [
    _flip, _cut, _truncate, _insert, _field_text, _field_text, _field_text,
    _duplicate_slice, _root_name, _namespace, _encoding, _hostile, _huge,
    _number, _number, _number, _code, _code, _code,
]  # fmt: skip


@st.composite
def messages(draw: Callable[..., Any], seeds: list[bytes] = SEEDS) -> bytes:
    """A valid seed with 0..3 mutations, or plain garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(0, 3))):
        data = _mutate(draw, data) or b" "
    return data


# --- intake.check ----------------------------------------------------------------------------


def _recheck(data: bytes) -> None:
    """An accepted message must be accepted again from its bytes, XSD and rules alike."""
    again = check(data, max_bytes=LIMIT)
    assert schemas.validate(again.root, again.kind.message_type) == []


@FUZZ
@given(messages())
def test_check_never_crashes_and_explains_every_refusal(data: bytes) -> None:
    CASES["intake.check"] += 1
    with bounded():
        try:
            checked = check(data, max_bytes=LIMIT)
        except InvalidMessage as exc:
            assert_clear(exc.violations)
            OUTCOMES[f"check refused {exc.violations[0].rule}"] += 1
            return
        _recheck(checked.data)
        OUTCOMES["check accepted"] += 1


@pytest.mark.parametrize("prolog", HOSTILE_PROLOGS[:6])
def test_dtds_are_refused_whatever_they_carry(prolog: bytes) -> None:
    data = (
        SEEDS[0]
        .replace(b"\n", b"\n" + prolog, 1)
        .replace(b"</ceb:orderNo>", b"&x;</ceb:orderNo>", 1)
    )
    with bounded(), pytest.raises(InvalidMessage) as info:
        check(data)
    assert "DTD" in info.value.violations[0].message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "cp037"])
@pytest.mark.parametrize("prolog", HOSTILE_PROLOGS[:6])
def test_dtds_are_refused_in_any_encoding(prolog: bytes, encoding: str) -> None:
    """Found by this fuzz test: a UTF-16 DOCTYPE passed the byte check and was parsed."""
    text = SEEDS[0].decode().replace("\n", "\n" + prolog.decode(), 1)
    text = text.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    text = text.replace("</ceb:orderNo>", "&x;&d;</ceb:orderNo>", 1)
    with bounded(), pytest.raises(InvalidMessage) as info:
        check(text.encode(encoding, errors="xmlcharrefreplace"))
    assert "DTD" in info.value.violations[0].message


def test_a_body_over_the_limit_is_refused_without_parsing() -> None:
    with bounded(), pytest.raises(InvalidMessage) as info:
        check(SEEDS[0] + b" " * LIMIT, max_bytes=LIMIT)
    assert "over the limit" in info.value.violations[0].message


# --- Intake.submit through the HTTP API ------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Gateway]]:
    from gateway.core import config as config_mod

    base = tmp_path_factory.mktemp("fuzz-api")
    raw = raw_config(base, base / "keys", prefix="fuzz.")
    raw["http"] = {"max_body_bytes": LIMIT}
    raw["intake"]["max_bytes"] = LIMIT
    gw = Gateway(config_mod.from_dict(raw, base))
    gw.prepare(broker=False)
    with TestClient(create_app(gw), raise_server_exceptions=False) as client:
        yield client, gw
    gw.db.dispose()


def snapshot(gw: Gateway) -> dict[str, Any]:
    """Everything about the records stored so far, to compare after the run."""
    with gw.db.session() as s:
        return {
            "documents": [
                (d.id, d.kind, d.business_key, d.status, d.enterprise_id, d.pre_no)
                for d in s.scalars(select(Document).order_by(Document.id))
            ],
            "messages": [
                (m.id, m.guid, m.sha256, hashlib.sha256(m.original).hexdigest(), m.state)
                for m in s.scalars(select(Message).order_by(Message.id))
            ],
            "versions": [
                (v.id, v.document_id, v.message_id, v.number)
                for v in s.scalars(select(Version).order_by(Version.id))
            ],
            "history": [
                (h.id, h.document_id, h.to_status)
                for h in s.scalars(select(StatusChange).order_by(StatusChange.id))
            ],
        }


def _same_prefix(before: dict[str, Any], after: dict[str, Any]) -> None:
    for table, rows in before.items():
        assert after[table][: len(rows)] == rows, f"{table}: rows stored before the run changed"


@FUZZ
@given(data=st.data())
def test_http_intake_never_500_and_loses_nothing(api, data) -> None:  # type: ignore[no-untyped-def]
    client, gw = api
    if not snapshot(gw)["documents"]:  # the records that must survive the run
        for seed in (SEEDS[0], SEEDS[2], SEEDS[3]):
            key = EBC_KEY if b"CEB505" not in seed else "test-key-carrier"
            answer = client.post("/v1/messages", content=seed, headers={"X-API-Key": key})
            assert answer.status_code == 201, answer.text
    before = snapshot(gw)
    body = data.draw(messages(SEEDS + [_fresh_order(data.draw(st.integers(1000, 99999)))]))
    key = data.draw(st.sampled_from([EBC_KEY, EBC_KEY, "test-key-carrier", "", "nope"]))
    CASES["http.submit"] += 1
    with bounded():
        resp = client.post("/v1/messages", content=body, headers={"X-API-Key": key})
    assert resp.status_code in (200, 201, 401, 409, 413, 422), resp.text
    OUTCOMES[f"http {resp.status_code}"] += 1
    answer = resp.json()
    if resp.status_code in (409, 413, 422):
        assert_clear([Violation(**v) for v in answer["violations"]])
    elif resp.status_code == 201:
        _accepted_is_valid(gw, answer["message_id"])
    _same_prefix(before, snapshot(gw))


def _fresh_order(number: int) -> bytes:
    """A message whose key is likely not stored yet, so that mutations of it can be accepted."""
    return samples.order_message(EBC, PLATFORM, [f"EO2026112{number:06d}"])


def _accepted_is_valid(gw: Gateway, message_id: int) -> None:
    with gw.db.session() as s:
        original = s.get(Message, message_id).original  # type: ignore[union-attr]
    _recheck(bytes(original))


# --- receipts --------------------------------------------------------------------------------


def seed_receipts() -> list[bytes]:
    order_key = {"ebpCode": PLATFORM.code, "ebcCode": EBC.code, "orderNo": "EO2026112209001"}
    ok = {**order_key, "returnStatus": "120", "returnInfo": "新增申报成功"}
    return [
        build_receipt("CEB304Message", [ok]),
        build_receipt("CEB304Message", [{**ok, "returnStatus": "100"}], default_namespace=True),
        build_receipt("CEB304Message", [{**ok, "orderNo": "UNKNOWN-1"}], encoding="GB2312"),
        build_receipt(
            "CEB506Message",
            [
                {
                    "logisticsCode": CARRIER.code,
                    "logisticsNo": "YT1",
                    "returnStatus": "2",
                    "returnInfo": "申报中",
                }
            ],
        ),  # fmt: skip
        build_message_return(
            ori_cop_msg_id="NO-SUCH-COPMSGID",
            ori_message_type="CEB303Message",
            return_status="-1",
            return_info="[Code:1004;Desc:签名与数据不符]",
            ori_biz_message=SEEDS[0],
        ),
    ]


RECEIPTS = seed_receipts()


@st.composite
def receipts(draw: Callable[..., Any]) -> bytes:
    """A receipt mutated like a message, or one wrapped in a (mutated) DxpMsg."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    data = draw(st.sampled_from(RECEIPTS))
    for _ in range(draw(st.integers(0, 3))):
        data = _mutate_receipt(draw, data) or b" "
    return data


def _mutate_receipt(draw: Callable[..., Any], data: bytes) -> bytes:
    how = draw(st.sampled_from([m for m in MUTATIONS if m not in (_root_name, _encoding)]))
    if how is _hostile:
        return draw(st.sampled_from(HOSTILE_PROLOGS)) + data
    return how(draw, data)


@FUZZ
@given(receipts())
def test_receipt_parser_reads_or_says_why(data: bytes) -> None:
    CASES["receipts.parse"] += 1
    with bounded():
        try:
            parsed = parse_receipt(data)
        except ReceiptError as exc:
            assert exc.message.strip()
            return
    assert parsed.entities and all(
        re.fullmatch(r"-?[0-9]+", e.return_status) for e in parsed.entities
    )
    for entity in parsed.entities:
        with bounded():
            entity.original_message()  # CEB900: base64, escaped or inline — never a crash


@pytest.fixture(scope="module")
def receipt_gateway(api) -> Iterator[tuple[Gateway, int]]:  # type: ignore[no-untyped-def]
    """The fuzz gateway with one order pushed to `stored` (final) by a real receipt."""
    client, gw = api
    body = samples.order_message(EBC, PLATFORM, ["EO2026112209001"])
    doc_id = client.post("/v1/messages", content=body, headers={"X-API-Key": EBC_KEY}).json()[
        "documents"
    ][0]["id"]
    with gw.db.session() as s:
        s.get(Document, doc_id).status = "sent"  # type: ignore[union-attr]  # as the relay does
    outcome = ReceiptProcessor(gw.db, gw.notifier).handle(RECEIPTS[0])
    assert outcome.outcome == "matched"
    yield gw, doc_id


@FUZZ
@given(receipts(), st.booleans())
def test_receipt_processor_stores_every_receipt_and_keeps_finals(  # type: ignore[no-untyped-def]
    receipt_gateway, data: bytes, enveloped: bool
) -> None:
    gw, final_id = receipt_gateway
    processor = ReceiptProcessor(gw.db, gw.notifier)
    CASES["receipts.apply"] += 1
    with bounded():
        if enveloped:
            body = wrap(data or b" ", msg_type="CEB304Message", sender_id="DXPEDCCEB0000002").body
            outcome = processor.handle_envelope(body)
        else:
            outcome = processor.handle(data)
    assert outcome.outcome in ("matched", "partly_matched", "unmatched", "unreadable", "duplicate")
    OUTCOMES[f"receipt {outcome.outcome}"] += 1
    with gw.db.session() as s:
        if outcome.receipt_id is not None:
            row = s.get(Receipt, outcome.receipt_id)
            assert row is not None and row.outcome == outcome.outcome
            assert row.outcome != "unreadable" or (row.error or "").strip()
        assert s.get(Document, final_id).status == "stored"  # type: ignore[union-attr]


# --- the DxpMsg envelope ---------------------------------------------------------------------

ENVELOPES = [
    wrap(SEEDS[0], msg_type="CEB303Message", sender_id="DXPENT0000458763").body,
    wrap(RECEIPTS[4], msg_type="CEB900Message", sender_id="DXPEDCCEB0000002",
         biz_keys={"orderNo": "EO1"}, ic_card="1234567890123").body,
]  # fmt: skip


@st.composite
def envelopes(draw: Callable[..., Any]) -> bytes:
    data = draw(st.sampled_from(ENVELOPES))
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from([_flip, _cut, _truncate, _insert, _field_text, _namespace,
                                    _duplicate_slice, _huge]))  # fmt: skip
        data = how(draw, data) or b" "
    return data


@FUZZ
@given(envelopes())
def test_unwrap_never_crashes_and_names_the_field(data: bytes) -> None:
    CASES["envelope.unwrap"] += 1
    with bounded():
        try:
            env = unwrap(data, max_bytes=LIMIT)
        except InvalidMessage as exc:
            assert_clear(exc.violations)
            OUTCOMES["unwrap refused"] += 1
            return
    OUTCOMES["unwrap read"] += 1
    assert env.cop_msg_id and env.msg_type and env.receiver_ids and env.data


@FUZZ
@given(st.integers(1, 400))
def test_truncated_base64_is_never_a_shorter_message(cut: int) -> None:
    CASES["envelope.truncated"] += 1
    text = base64.b64encode(SEEDS[0]).decode()
    body = ENVELOPES[0].replace(text.encode(), text[: len(text) - cut].encode())
    with bounded():
        try:
            env = unwrap(body)
        except InvalidMessage as exc:
            assert [v.field for v in exc.violations] == ["DxpMsg/Data"]
            return
    # Only a cut at a 4-character boundary decodes; the inner message is then cut XML,
    # which the next reader refuses — it never passes as the whole message.
    assert cut % 4 == 0 and env.data != SEEDS[0]
    with pytest.raises(InvalidMessage):
        check(env.data)
