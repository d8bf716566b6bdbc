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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gateway import xmlsafe
from gateway.codes import EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID, AppType, ReturnStatus
from gateway.core import registry as systems
from gateway.core.config import Config, SimConfig
from gateway.core.customs_sim.state import (
    REVOKED,
    Declaration,
    Received,
    Scheduled,
    SimBase,
    held_declaration,
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
    body: bytes
    note: str
    #: the receipt's entities, for a step customs may answer together with the same step of
    #: other messages judged in the same batch (`CustomsSim.handle_batch`); () if not
    entries: tuple[dict[str, str], ...] = ()


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
        first = build_receipt(receipt, self.first)
        out = [Answer(self.declared_epoch, receipt, first, "declaring", tuple(self.first))]
        if self.later:
            body = build_receipt(receipt, self.later)
            out.append(Answer(self.result_epoch, receipt, body, "result", tuple(self.later)))
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


class _Repeat(Exception):
    """The CopMsgId was received before: the exchange platform drops the repeat."""


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
            with self.db.session() as session:
                self._receive(
                    session, env.cop_msg_id, env.msg_type, env.sender_id, env.receiver_ids, env.data
                )
        except _Repeat:
            self._count_repeat(env.cop_msg_id)

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        """The envelopes that arrived together, judged in one transaction (one commit, one
        fsync of customs' store) in arrival order, each in a savepoint of its own so that a
        repeated CopMsgId is dropped alone. Why: a transaction per envelope made customs the
        slowest part of the chain, so end-to-end figures measured the simulator (issue 15).
        If this raises, the consumer redoes the envelopes one by one (`handle`)."""
        # The exchange platform's checks (format, signature: most of the cost) need no store:
        # made before the transaction, which then holds the write lock only for the records.
        # Several customs-sim processes on one store can then check in parallel.
        checked = [(env, self._exchange_check(*_route(env))) for env in _readable(deliveries)]
        with self.db.together(), self.db.session() as session:
            if self.db.is_sqlite:
                # pysqlite opens no transaction before the first write: the first savepoint's
                # release would commit on its own
                session.execute(text("BEGIN IMMEDIATE"))
            self._batch.answers = []
            try:
                for env, failure in checked:
                    self._receive_one(session, env, failure)
                self._schedule_gathered(session, self._batch.answers)
            finally:
                self._batch.answers = None

    def _receive_one(self, session: Session, env: Unwrapped, failure: Answer | None) -> None:
        try:
            with session.begin_nested():
                self._receive(session, *_route(env), checked=(failure,))
        except _Repeat:
            self._count_repeat(env.cop_msg_id, session)

    def _count_repeat(self, cop_msg_id: str, joined: Session | None = None) -> None:
        # Same CopMsgId again: the exchange platform drops repeats, customs counts them.
        if joined is not None:
            joined.execute(_ONE_MORE_DELIVERY, {"cop": cop_msg_id})
        else:
            with self.db.session() as session:
                session.execute(_ONE_MORE_DELIVERY, {"cop": cop_msg_id})
        log.info("customs dropped a repeat of CopMsgId %s", cop_msg_id)

    def _receive(
        self,
        session: Session,
        cop_msg_id: str,
        msg_type: str,
        sender: str,
        receivers: Sequence[str],
        data: bytes,
        *,
        checked: tuple[Answer | None] | None = None,
    ) -> None:
        row = Received(cop_msg_id=cop_msg_id, msg_type=msg_type, sender_id=sender, outcome="")
        session.add(row)
        try:
            session.flush()
        except IntegrityError as exc:
            # Only the CopMsgId's unique index can fail here. Any other IntegrityError is a
            # fault of customs' own and must surface (the delivery is retried, then
            # dead-lettered), not pass silently for a repeat.
            raise _Repeat(cop_msg_id) from exc
        answers, outcome = self._judge(
            session, cop_msg_id, msg_type, sender, receivers, data, checked=checked
        )
        row.outcome = outcome
        for answer in answers:
            self._emit(session, sender, answer)

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
        for (receiver, msg_type, note), entries in steps.items():
            due = last.get(note, declared)
            for i in range(0, len(entries), RECEIPT_ENTRIES):
                part = entries[i : i + RECEIPT_ENTRIES]
                body = build_receipt(msg_type, part)
                self._schedule(session, receiver, Answer(due, msg_type, body, note, tuple(part)))

    def _schedule(self, session: Session, receiver: str, answer: Answer) -> None:
        env = wrap(
            answer.body,
            msg_type=answer.msg_type,
            sender_id=EXPORT_RECEIVER_ID,
            receiver_ids=(receiver,),
        )
        session.add(
            Scheduled(
                due=answer.due,
                routing_key=receiver,
                message_id=env.cop_msg_id,
                body=env.body,
                note=answer.note,
            )
        )

    def _judge(
        self,
        session: Session,
        cop_msg_id: str,
        msg_type: str,
        sender: str,
        receivers: Sequence[str],
        data: bytes,
        *,
        checked: tuple[Answer | None] | None = None,
    ) -> tuple[list[Answer], str]:
        """`checked`: the exchange check's outcome when it was made before the transaction."""
        if checked is None:
            checked = (self._exchange_check(cop_msg_id, msg_type, sender, receivers, data),)
        failure = checked[0]
        if failure is not None:
            return [failure], "format_or_security_failure"
        root = xmlsafe.parse(data).getroot()
        kind = systems.for_message(msg_type)
        assert kind is not None  # _exchange_check refused unknown types
        records = list(kind.records(root))
        # A business system may answer its kinds its own way (its sim_behaviours).
        behaviour = systems.behaviour(kind.name)
        if behaviour is not None:
            return behaviour(self, session, kind, records, cop_msg_id, sender), "accepted"
        return self._business(session, kind, records, cop_msg_id, sender), "accepted"

    def _exchange_check(
        self, cop_msg_id: str, msg_type: str, sender: str, receivers: Sequence[str], data: bytes
    ) -> Answer | None:
        def fail(code: str, desc: str) -> Answer:
            body = build_message_return(
                ori_cop_msg_id=cop_msg_id,
                ori_message_type=msg_type,
                return_status="-1",
                return_info=exchange_error(code, desc),
                ori_biz_message=data,
            )
            due = time.time() + self.sim.declaring_delay
            return Answer(due, "CEB900Message", body, f"CEB900 {code}")

        if not {EXPORT_RECEIVER_ID, IMPORT_RECEIVER_ID} & set(receivers):
            return fail("2001", f"未知的接收方 {','.join(receivers)}")
        problem = self._format_problem(msg_type, data)
        if problem is not None:
            return fail("0002", f"报文格式校验失败: {problem}")
        if self._sampled_format_failure(data):
            return fail("0002", "报文格式校验失败(模拟抽样)")
        security = self._signature_problem(sender, data)
        if security is not None:
            return fail(*security)
        return None

    def _sampled_format_failure(self, data: bytes) -> bool:
        # Keyed on the message guid (not the random CopMsgId) so a run can be repeated.
        guid = xmlsafe.parse(data).getroot().get("guid", "")
        return _fraction(str(self.sim.seed), guid, "format") < self.sim.format_failure_rate

    def _format_problem(self, msg_type: str, data: bytes) -> str | None:
        try:
            root = xmlsafe.parse(data).getroot()
        except InvalidMessage as exc:
            return exc.violations[0].message
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
        for rec in records:
            status, info, final = self._decide(session, kind, rec, cop_msg_id, sender)
            entity = _echo(kind, rec)
            if status.startswith("-"):
                reply.refuse(entity, status, info)
                continue
            reply.declaring(entity, rec)
            reply.result(entity, *final)
        return reply.answers()

    def _decide(
        self, session: Session, kind: DocumentKind, rec: Record, cop_msg_id: str, sender: str
    ) -> tuple[str, str, tuple[str, str]]:
        key = key_text(rec.business_key)
        held = held_declaration(session, kind.name, key)
        refusal = _refusal(rec, held)
        if refusal is not None:
            return refusal[0], refusal[1], ("", "")
        result = self._result(kind, key, (held.versions if held else 0) + 1)
        if held is None:
            held = Declaration(kind=kind.name, business_key=key, sender_id=sender, versions=0)
            session.add(held)
        held.status, held.versions, held.last_cop_msg_id = result[0], held.versions + 1, cop_msg_id
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


_ONE_MORE_DELIVERY = (
    update(Received)
    .where(Received.cop_msg_id == bindparam("cop"))
    .values(deliveries=Received.deliveries + 1)
)


def _refusal(rec: Record, held: Declaration | None) -> tuple[str, str] | None:
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
