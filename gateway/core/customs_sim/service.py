"""What the simulated customs does with each envelope, and when it answers.

Checks run in the order the exchange platform and customs run them: envelope and routing,
format (the same XSDs, CEB900 on failure), signature against the certificate registered for
the sender (CEB900 with a security code), then business rules per record (a duplicate
business key gets a negative returnStatus). Accepted records get the e-port's "declaring"
receipt (2) and later customs' result: stored (120) or returned (100) with a reason.

Outcome rates are decided by a hash of the message and record, not by a random generator:
the same run gives the same answers, so the demo and the tests are reproducible.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cryptography import x509
from lxml import etree
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID, AppType, ReturnStatus
from gateway.core import registry as systems
from gateway.core.config import Config, SimConfig
from gateway.core.customs_sim.books import Holdings, Run
from gateway.core.customs_sim.state import (
    RECEIVED,
    REVOKED,
    SCHEDULED,
    Declaration,
    Received,
    Scheduled,
    SimBase,
)
from gateway.core.db import Database
from gateway.core.kinds import DocumentKind, Record, key_text
from gateway.errors import InvalidMessage, SignatureInvalid
from receipts.build import MESSAGE_RETURN_INFO_MAX, build_message_return, build_receipt
from receipts.build import epoch_return_time as stamp
from schemas import loader as schemas
from signers import REGISTRY, allow_list, verify
from transports import Delivery, Topology, unwrap, wrap
from transports.batch import BatchPublisher, Outgoing
from transports.envelope import Unwrapped

log = logging.getLogger(__name__)

#: business-rule refusals (negative returnStatus) used by this simulator
DUPLICATE_KEY = "-1"
NOTHING_TO_MODIFY = "-2"
NOT_MODIFIABLE = "-3"

RETURN_REASONS = (
    "[Code:2101;Desc:商品信息与备案信息不符]",
    "[Code:2102;Desc:订购人身份信息校验未通过]",
    "[Code:2103;Desc:申报价格明显偏离]",
)


@dataclass(frozen=True)
class Answer:
    """One receipt message, sent at `due` (epoch seconds): the moment its returnTime names,
    as customs sends a step's receipt when it takes the step. So receipts leave in the
    order of their returnTimes, however long the transaction that decided them took."""

    due: float
    msg_type: str
    #: the receipt message, or b"" when `entries` are given: `body` builds it from them when
    #: asked (a batch's answers of one step are built as one receipt, never one by one)
    prebuilt: bytes
    note: str
    #: the receipt's entities, for a step customs may answer together with the same step of
    #: other messages judged in the same batch (`CustomsSim.handle_batch`); () if not
    entries: tuple[dict[str, str], ...] = ()

    @property
    def body(self) -> bytes:
        return self.prebuilt or build_receipt(self.msg_type, list(self.entries))


def result_delay(sim: SimConfig) -> float:
    """Customs' result is always stamped after the e-port's "declaring", even with no delay."""
    return max(sim.result_delay, sim.declaring_delay + 0.002)


class Reply:
    """The receipts customs answers one business message with: the e-port's "declaring" (2)
    or a refusal for every record, then customs' result for the records it took, each
    receipt message holding the entities of one stage."""

    def __init__(self, sim: SimConfig, kind: DocumentKind) -> None:
        self.sim, self.kind = sim, kind
        now = time.time()
        #: epoch seconds of the e-port's "declaring" and of customs' result; the lifecycle
        #: counts its next step from `result_epoch` (lifecycle.track)
        self.declared_epoch = now + sim.declaring_delay
        self.result_epoch = now + result_delay(sim)
        self.declared_at = stamp(self.declared_epoch)
        self.result_at = stamp(self.result_epoch)
        self.first: list[dict[str, str]] = []
        self.later: list[dict[str, str]] = []

    def refuse(self, entity: Mapping[str, str], status: str, info: str) -> None:
        self.first.append(_entry(entity, status, info, self.declared_at))

    def declaring(self, entity: Mapping[str, str], rec: Record) -> None:
        info = f"新增申报成功[{rec.guid}]"
        self.first.append(
            _entry(entity, ReturnStatus.EPORT_DECLARING.value, info, self.declared_at)
        )

    def result(self, entity: Mapping[str, str], status: str, info: str) -> None:
        self.later.append(_entry(entity, status, info, self.result_at))

    def answers(self) -> list[Answer]:
        receipt = self.kind.receipt_type
        out = [Answer(self.declared_epoch, receipt, b"", "declaring", tuple(self.first))]
        if self.later:
            out.append(Answer(self.result_epoch, receipt, b"", "result", tuple(self.later)))
        return out


def _entry(entity: Mapping[str, str], status: str, info: str, at: str) -> dict[str, str]:
    return {**entity, "returnStatus": status, "returnInfo": info, "returnTime": at}


def _fraction(*parts: str) -> float:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def exchange_error(code: str, desc: str) -> str:
    """A CEB900 returnInfo. A format error quoting the offending value (libxml2 does) could
    outgrow the schema's C..5000: the description is cut to fit, the code kept in front."""
    head, tail = f"[Code:{code};Desc:", "]"
    room = MESSAGE_RETURN_INFO_MAX - len(head) - len(tail)
    if len(desc) > room:
        desc = desc[: room - 1] + "…"
    return head + desc + tail


#: entities in one receipt message at most when a batch's answers are sent together
RECEIPT_ENTRIES = 100


#: an envelope, the exchange platform's refusal or None, and its message parsed when accepted
_Checked = tuple[Unwrapped, "Answer | None", "etree._Element | None"]


class _Repeat(Exception):
    """The CopMsgId was received before: the exchange platform drops the repeat."""


B = TypeVar("B", bound=Callable[..., Any])

#: behaviours that keep their books in the run (`CustomsSim.run_for`), not in the store
_BATCHED: set[Callable[..., Any]] = set()


def batched(behaviour: B) -> B:
    """Mark a system's behaviour as reading and writing customs' records only through
    `CustomsSim.run_for` (books.Run): the envelopes it answers join a run, judged against
    records read once and written once (books.py). A behaviour that queries the store
    itself must not be marked: it would not see what the run has not written yet."""
    _BATCHED.add(behaviour)
    return behaviour


@dataclass
class _Parsed:
    """An envelope taken in, with its records and the behaviour that answers them."""

    env: Unwrapped
    #: the exchange platform's refusal (CEB900), when its checks failed
    failure: Answer | None
    kind: DocumentKind | None = None
    records: list[Record] = field(default_factory=list)
    behaviour: Callable[..., list[Any]] | None = None

    @property
    def in_run(self) -> bool:
        return self.failure is not None or self.behaviour in (None, *_BATCHED)

    def held_keys(self) -> list[tuple[str, str]]:
        if self.kind is None:
            return []
        return [(self.kind.name, key_text(r.business_key)) for r in self.records]


class Registry:
    """Certificates customs holds for each sender's exchange id (卡介质 registration)."""

    def __init__(self, certificates: Mapping[str, x509.Certificate]) -> None:
        self.certificates = dict(certificates)

    @classmethod
    def from_config(cls, config: Config) -> Registry:
        certs = {}
        for ent in config.enterprises:
            path = ent.key.cert_file
            if path and Path(path).exists():
                certs[ent.dxp_id] = x509.load_pem_x509_certificate(Path(path).read_bytes())
        return cls(certs)


class CustomsSim:
    def __init__(self, db: Database, sim: SimConfig, registry: Registry, topology: Topology):
        self.db = db
        self.sim = sim
        self.registry = registry
        self.topology = topology
        #: the batch being judged in this thread (its answers gathered by step)
        self._batch = threading.local()
        systems.installed()  # the systems' own simulator tables join SimBase's metadata
        SimBase.metadata.create_all(db.engine)

    # --- intake of one envelope -------------------------------------------------------------

    def handle(self, delivery: Delivery) -> None:
        try:
            env = unwrap(delivery.body)
        except InvalidMessage as exc:
            # No CopMsgId we can trust to answer to: the exchange platform drops it.
            log.warning("customs dropped an unreadable envelope: %s", exc.message)
            return
        try:
            self._judge_together([(env, *self._exchange_check(*_route(env)))], alone=True)
        except _Repeat:
            self._count_repeat(env.cop_msg_id)

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        """The envelopes that arrived together, judged in one transaction (one commit, one
        fsync of customs' store) in arrival order. Why: a transaction per envelope made
        customs the slowest part of the chain, so end-to-end figures measured the simulator
        (issue 15). A repeated CopMsgId, in the batch or from an earlier one, is found with
        one query and dropped alone; the records are read and written once a run (books.py).
        If this raises, the consumer redoes the envelopes one by one (`handle`)."""
        # The exchange platform's checks (format, signature: most of the cost) need no store:
        # made before the transaction, which then holds the write lock only for the records.
        # Several customs-sim processes on one store can then check in parallel.
        checked = [(env, *self._exchange_check(*_route(env))) for env in _readable(deliveries)]
        self._judge_together(checked, alone=False)

    def _judge_together(self, checked: list[_Checked], *, alone: bool) -> None:
        """Judge `checked` in one transaction; a batch's receipts of one step go together."""
        with self.db.together(), self.db.session() as session:
            if self.db.is_sqlite:
                # the CopMsgIds and records read under the write lock: another customs-sim
                # process on this store waits instead of judging the same ones
                session.execute(text("BEGIN IMMEDIATE"))
            fresh = self._take_in(session, checked, alone=alone)
            self._batch.answers = None if alone else []
            try:
                self._judge_runs(session, [_parse(*item) for item in fresh])
                if not alone:
                    self._schedule_gathered(session, self._batch.answers)
            finally:
                self._batch.answers = None

    def _take_in(self, session: Session, checked: list[_Checked], *, alone: bool) -> list[_Checked]:
        """The envelopes customs receives for the first time, written as received (one
        executemany insert). A CopMsgId received before, in an earlier batch or earlier in
        this one, is counted and dropped: the exchange platform drops repeats. One query
        finds them, so no envelope needs a savepoint of its own."""
        r = RECEIVED.c
        cops = {env.cop_msg_id for env, _failure, _root in checked}
        seen = set(session.scalars(select(r.cop_msg_id).where(r.cop_msg_id.in_(cops))))
        fresh, repeats = [], []
        for item in checked:
            cop = item[0].cop_msg_id
            if cop in seen:
                repeats.append(cop)
                continue
            seen.add(cop)
            fresh.append(item)
        if fresh:
            try:
                session.execute(insert(RECEIVED), [_received(*item) for item in fresh])
            except IntegrityError as exc:
                # Only the CopMsgId's unique index can fail here: another customs-sim process
                # took one of these in meanwhile (PostgreSQL). Alone, it is the repeat; in a
                # batch the consumer redoes each alone, which finds it.
                if alone:
                    raise _Repeat(checked[0][0].cop_msg_id) from exc
                raise
        if repeats:
            session.execute(_ONE_MORE_DELIVERY, [{"cop": cop} for cop in repeats])
            for cop in repeats:
                log.info("customs dropped a repeat of CopMsgId %s", cop)
        return fresh

    def _judge_runs(self, session: Session, parsed: list[_Parsed]) -> None:
        """Answer each envelope in arrival order; consecutive ones whose behaviours keep
        their books in a run are judged as one (books.py), written before the next envelope
        whose behaviour reads the store itself."""
        for in_run, group in groupby(parsed, key=lambda p: p.in_run):
            if not in_run:
                for item in group:
                    self._answer(session, item)
                continue
            items = list(group)
            run = Run(session)
            run.holdings.load(key for item in items for key in item.held_keys())
            self._batch.run = run
            try:
                for item in items:
                    self._answer(session, item)
            finally:
                self._batch.run = None
            run.write()

    @contextmanager
    def run_for(self, session: Session) -> Iterator[Run]:
        """The run of the envelope being judged: customs' records as this batch holds them
        (`run.holdings`), and the parts systems add. Outside a run (a behaviour that reads
        the store itself calling the generic answer), a run of its own, written at the end."""
        current: Run | None = getattr(self._batch, "run", None)
        if current is not None:
            yield current
            return
        run = self._batch.run = Run(session)
        try:
            yield run
        finally:
            self._batch.run = None
        run.write()

    def _answer(self, session: Session, item: _Parsed) -> None:
        env = item.env
        if item.failure is not None:
            answers = [item.failure]
        else:
            assert item.kind is not None  # _exchange_check refused unknown types
            kind, records, cop, sender = item.kind, item.records, env.cop_msg_id, env.sender_id
            if item.behaviour is not None:
                # A business system may answer its kinds its own way (its sim_behaviours).
                answers = item.behaviour(self, session, kind, records, cop, sender)
            else:
                answers = self._business(session, kind, records, cop, sender)
        for answer in answers:
            self._emit(session, env.sender_id, answer)

    def _count_repeat(self, cop_msg_id: str) -> None:
        # Same CopMsgId again: the exchange platform drops repeats, customs counts them.
        with self.db.session() as session:
            session.execute(_ONE_MORE_DELIVERY, [{"cop": cop_msg_id}])
        log.info("customs dropped a repeat of CopMsgId %s", cop_msg_id)

    def _emit(self, session: Session, receiver: str, answer: Answer) -> None:
        """Schedule the answer, or gather it to be sent with the batch's others of its step."""
        gathered: list[tuple[str, Answer]] | None = getattr(self._batch, "answers", None)
        if gathered is None or not answer.entries:
            self._schedule(session, receiver, answer)
        else:
            gathered.append((receiver, answer))

    def _schedule_gathered(self, session: Session, gathered: list[tuple[str, Answer]]) -> None:
        """One receipt message per receiver, type and step for the whole batch (at most
        RECEIPT_ENTRIES entities each), as customs sends a step's receipts together. Every
        "declaring" goes out before every result: all of a step's messages are due when its
        last entity is, the results after the last "declaring"."""
        if not gathered:
            return
        declared = max(a.due for _r, a in gathered if a.note == "declaring")
        last = {
            "declaring": declared,
            "result": max(declared + 0.002, *(a.due for _r, a in gathered)),
        }
        steps: dict[tuple[str, str, str], list[dict[str, str]]] = {}
        for receiver, answer in gathered:
            steps.setdefault((receiver, answer.msg_type, answer.note), []).extend(answer.entries)
        rows = []
        for (receiver, msg_type, note), entries in steps.items():
            due = last.get(note, declared)
            for i in range(0, len(entries), RECEIPT_ENTRIES):
                part = tuple(entries[i : i + RECEIPT_ENTRIES])
                rows.append(_scheduled(receiver, Answer(due, msg_type, b"", note, part)))
        session.execute(insert(SCHEDULED), rows)

    def _schedule(self, session: Session, receiver: str, answer: Answer) -> None:
        session.execute(insert(SCHEDULED), [_scheduled(receiver, answer)])

    def _exchange_check(
        self, cop_msg_id: str, msg_type: str, sender: str, receivers: Sequence[str], data: bytes
    ) -> tuple[Answer | None, etree._Element | None]:
        """The exchange platform's refusal (CEB900), or None and the message parsed: the
        tree validated is the one judged, not parsed again."""

        def fail(code: str, desc: str) -> tuple[Answer, None]:
            body = build_message_return(
                ori_cop_msg_id=cop_msg_id,
                ori_message_type=msg_type,
                return_status="-1",
                return_info=exchange_error(code, desc),
                ori_biz_message=data,
            )
            due = time.time() + self.sim.declaring_delay
            return Answer(due, "CEB900Message", body, f"CEB900 {code}"), None

        if not {EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID} & set(receivers):
            return fail("2001", f"未知的接收方 {','.join(receivers)}")
        try:
            root = xmlsafe.parse(data).getroot()
        except InvalidMessage as exc:
            return fail("0002", f"报文格式校验失败: {exc.violations[0].message}")
        problem = self._format_problem(msg_type, root)
        if problem is not None:
            return fail("0002", f"报文格式校验失败: {problem}")
        if self._sampled_format_failure(root):
            return fail("0002", "报文格式校验失败(模拟抽样)")
        security = self._signature_problem(sender, data)
        if security is not None:
            return fail(*security)
        return None, root

    def _sampled_format_failure(self, root: etree._Element) -> bool:
        # Keyed on the message guid (not the random CopMsgId) so a run can be repeated.
        guid = root.get("guid", "")
        return _fraction(str(self.sim.seed), guid, "format") < self.sim.format_failure_rate

    def _format_problem(self, msg_type: str, root: etree._Element) -> str | None:
        if systems.for_message(msg_type) is None or schemas.message_type(root) != msg_type:
            return f"unsupported or mismatched message type {msg_type}"
        errors = schemas.validate(root, msg_type)
        return str(errors[0]) if errors else None

    def _signature_problem(self, sender: str, data: bytes) -> tuple[str, str] | None:
        cert = self.registry.certificates.get(sender)
        if cert is None:
            return "1001", f"发送方 {sender} 未备案证书"
        try:
            # Every registered suite, including URIs the configuration overrides (SHA-1 is
            # what the customs standard's generic suite uses, so it is allowed here).
            allowed = allow_list(REGISTRY.suites(), allow_weak=True)
            verify(data, trusted=cert, at=datetime.now(UTC), allowed=allowed)
        except SignatureInvalid as exc:
            return exc.code, f"签名校验失败: {exc.message}"
        return None

    # --- business rules ------------------------------------------------------------------

    def _business(
        self,
        session: Session,
        kind: DocumentKind,
        records: list[Record],
        cop_msg_id: str,
        sender: str,
    ) -> list[Answer]:
        reply = Reply(self.sim, kind)
        with self.run_for(session) as run:
            for rec in records:
                status, info, final = self._decide(run.holdings, kind, rec, cop_msg_id, sender)
                entity = _echo(kind, rec)
                if status.startswith("-"):
                    reply.refuse(entity, status, info)
                    continue
                reply.declaring(entity, rec)
                reply.result(entity, *final)
        return reply.answers()

    def _decide(
        self, holdings: Holdings, kind: DocumentKind, rec: Record, cop_msg_id: str, sender: str
    ) -> tuple[str, str, tuple[str, str]]:
        key = key_text(rec.business_key)
        held = holdings.get(kind.name, key)
        refusal = _refusal(rec, held)
        if refusal is not None:
            return refusal[0], refusal[1], ("", "")
        result = self._result(kind, key, (held.versions if held else 0) + 1)
        holdings.declare(kind.name, key, sender, result[0], cop_msg_id)
        return ReturnStatus.EPORT_DECLARING.value, "", result

    def _result(self, kind: DocumentKind, key: str, version: int) -> tuple[str, str]:
        share = _fraction(str(self.sim.seed), kind.name, key, str(version), "return")
        if share < self.sim.return_rate:
            reason = RETURN_REASONS[int(share * 1000) % len(RETURN_REASONS)]
            return ReturnStatus.RETURNED.value, reason
        return ReturnStatus.STORED.value, "[Code:1800;Desc:逻辑校验通过]"

    # --- sending answers when due ----------------------------------------------------------

    def send_due(self, publisher: BatchPublisher, limit: int = 500) -> int:
        """The receipts now due, in one broker transaction; marked sent once it commits. A
        receipt no queue took stays unsent and goes again at the next tick."""
        s = Scheduled.__table__.c
        with self.db.session() as session:
            if self.db.is_sqlite:
                # the rows claimed under the write lock: another customs-sim process on this
                # store waits instead of sending them too
                session.execute(text("BEGIN IMMEDIATE"))
            stmt = (
                select(s.id, s.routing_key, s.message_id, s.body)
                .where(s.sent.is_(False), s.due <= time.time())
                .order_by(s.due, s.id)
                .limit(limit)
            )
            rows = list(session.execute(stmt))
            batch = [
                Outgoing(self.topology.receipts_exchange, r.routing_key, r.body, r.message_id)
                for r in rows
            ]
            returned = publisher.publish_batch(batch)
            sent = [r.id for r in rows if r.message_id not in returned]
            if sent:
                session.execute(update(Scheduled).where(s.id.in_(sent)).values(sent=True))
        return len(sent)

    def run_sender(
        self, publisher: BatchPublisher, stop: threading.Event, tick: float = 0.05
    ) -> None:
        while not stop.is_set():
            try:
                for work in systems.installed().sim_ticks():
                    work(self)
                sent = self.send_due(publisher)
            except Exception:  # keep answering after a broker hiccup
                log.exception("customs-sim could not send receipts; retrying")
                sent = 0
            if not sent:
                stop.wait(tick)


#: statuses of a record customs no longer holds as live: returned (100), or an inventory
#: list withdrawn by an approved revoke application (R-ECX-5); a modification declares it again
WITHDRAWN = frozenset({ReturnStatus.RETURNED.value, REVOKED})


def _readable(deliveries: Sequence[Delivery]) -> list[Unwrapped]:
    out = []
    for delivery in deliveries:
        try:
            out.append(unwrap(delivery.body))
        except InvalidMessage as exc:
            # No CopMsgId we can trust to answer to: the exchange platform drops it.
            log.warning("customs dropped an unreadable envelope: %s", exc.message)
    return out


def _route(env: Unwrapped) -> tuple[str, str, str, Sequence[str], bytes]:
    return env.cop_msg_id, env.msg_type, env.sender_id, env.receiver_ids, env.data


def _parse(env: Unwrapped, failure: Answer | None, root: etree._Element | None) -> _Parsed:
    if failure is not None or root is None:
        return _Parsed(env, failure)
    kind = systems.for_message(env.msg_type)
    assert kind is not None  # _exchange_check refused unknown types
    return _Parsed(env, None, kind, list(kind.records(root)), systems.behaviour(kind.name))


def _received(env: Unwrapped, failure: Answer | None, _root: Any) -> dict[str, str]:
    outcome = "accepted" if failure is None else "format_or_security_failure"
    return {
        "cop_msg_id": env.cop_msg_id,
        "msg_type": env.msg_type,
        "sender_id": env.sender_id,
        "outcome": outcome,
    }


def _scheduled(receiver: str, answer: Answer) -> dict[str, Any]:
    env = wrap(
        answer.body,
        msg_type=answer.msg_type,
        sender_id=EXPORT_RECEIVER_ID,
        receiver_ids=(receiver,),
    )
    return {
        "due": answer.due,
        "routing_key": receiver,
        "message_id": env.cop_msg_id,
        "body": env.body,
        "note": answer.note,
    }


_ONE_MORE_DELIVERY = (
    update(RECEIVED)
    .where(RECEIVED.c.cop_msg_id == bindparam("cop"))
    .values(deliveries=RECEIVED.c.deliveries + 1)
)


class _HeldStatus(Protocol):
    """A record customs holds, as its refusals read it (`Declaration`, `books.Held`)."""

    @property
    def status(self) -> str: ...


def _refusal(rec: Record, held: _HeldStatus | None) -> tuple[str, str] | None:
    live = held is not None and held.status not in WITHDRAWN
    if rec.app_type == AppType.ADD and live:
        return DUPLICATE_KEY, "[Code:-1;Desc:业务主键重复, 该单据已存在]"
    if rec.app_type == AppType.MODIFY and held is None:
        return NOTHING_TO_MODIFY, "[Code:-2;Desc:修改的单据不存在]"
    if rec.app_type == AppType.MODIFY and live:
        return NOT_MODIFIABLE, "[Code:-3;Desc:单据当前状态不允许修改]"
    return None


def _echo(kind: DocumentKind, rec: Record) -> dict[str, str]:
    return {
        name: rec.fields.get(name, "")
        for name in kind.receipt_echo_fields
        if rec.fields.get(name, "") or name != "payNo"
    }


def stats(db: Database) -> dict[str, int]:
    """What customs saw: envelopes, repeats dropped, records held by status."""
    with db.session() as session:
        received = list(session.scalars(select(Received)))
        held = list(session.scalars(select(Declaration)))
    out = {
        "envelopes": len(received),
        "received_more_than_once": sum(r.deliveries > 1 for r in received),
    }
    for row in held:
        out[f"status_{row.status}"] = out.get(f"status_{row.status}", 0) + 1
    return out
