"""A pool of IC cards: several cards sign in parallel, one worker thread and queue per card.

A card signs about four times a second; an enterprise that declares more puts several cards
in several readers. The pool is one `KeyBackend`: `sign` queues the job on the card with the
shortest queue among the healthy ones and waits at most `timeout` for the signature. A card
that fails (pulled, reader gone, locked, wrong PIN, expired certificate, timeout) is set
aside and the job goes to the next card: a signature has no side effect, so trying it on
another card is safe. It comes back once a health check finds it in order, or when it is the
last card left to try and signs again.

The cards of one pool hold the same certificate (KeyInfo names one certificate per
signature, and customs verifies against the certificate registered for the enterprise).
Callers that want the pool's full rate sign from several threads: `sign_many` does that.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.errors import ConfigError
from signers.algorithms import Suite
from signers.card import CardError, CardKey, CardTimeout, Health
from signers.keys import serial_hex

log = logging.getLogger(__name__)


@dataclass
class _Job:
    data: bytes
    suite: Suite
    future: Future[bytes] = field(default_factory=Future)


class _Worker:
    """One card, its queue and the thread that empties it."""

    def __init__(self, key: CardKey, stop: threading.Event) -> None:
        self.key = key
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        self.healthy = True
        self.problem: str | None = None
        self.load = 0  # jobs queued or being signed (the pool's lock guards it)
        self.signatures = 0
        self._stop = stop
        self.thread = threading.Thread(
            target=self._run, name=f"card-{key.card_number}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self.jobs.get()
            if job is None:
                return
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(self.key.sign(job.data, job.suite))
                self.signatures += 1
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                job.future.set_exception(exc)


class CardPool:
    """A `KeyBackend` over several `CardKey`s."""

    def __init__(
        self, keys: Sequence[CardKey], *, timeout: float = 10.0, warn_days: int = 30
    ) -> None:
        if not keys:
            raise ConfigError("a card pool needs at least one card")
        first = keys[0].certificate.public_bytes(Encoding.DER)
        for key in keys[1:]:
            if key.certificate.public_bytes(Encoding.DER) != first:
                raise ConfigError(
                    f"the cards of one pool must hold the same certificate: card "
                    f"{key.card_number} has serial {serial_hex(key.certificate)}, card "
                    f"{keys[0].card_number} has {serial_hex(keys[0].certificate)}"
                )
        self.timeout = timeout
        self.warn_days = warn_days
        self._stop = threading.Event()
        self._workers = [_Worker(key, self._stop) for key in keys]
        self._lock = threading.Lock()

    # --- KeyBackend ---------------------------------------------------------------------------

    @property
    def certificate(self) -> x509.Certificate:
        return self._workers[0].key.certificate

    @property
    def key_type(self) -> str:
        return self._workers[0].key.key_type

    @property
    def size(self) -> int:
        return len(self._workers)

    def sign(self, data: bytes, suite: Suite) -> bytes:
        tried: set[int] = set()
        last: CardError | None = None
        while True:
            worker = self._pick(tried)
            if worker is None:
                raise last or CardError(f"no card of the pool is usable: {self._problems()}")
            # the job goes to the healthy card with the fewest jobs
            tried.add(id(worker))
            try:
                signature = self._sign_on(worker, data, suite)
            except CardError as exc:
                self._set_aside(worker, exc)
                last = exc
                continue
            if not worker.healthy:
                with self._lock:
                    worker.healthy, worker.problem = True, None
            return signature

    def sign_many(self, items: Iterable[bytes], suite: Suite) -> list[bytes | CardError]:
        """Sign each item, as many at once as there are cards; errors in place of results."""

        def one(data: bytes) -> bytes | CardError:
            try:
                return self.sign(data, suite)
            except CardError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="pool") as ex:
            return list(ex.map(one, items))

    def describe(self) -> str:
        cert = self.certificate
        numbers = ", ".join(str(w.key.card_number) for w in self._workers)
        return (
            f"card pool of {self.size} ({numbers}; serial {serial_hex(cert)}, "
            f"{cert.subject.rfc4514_string()}, valid until {cert.not_valid_after_utc:%Y-%m-%d})"
        )

    # --- operations ---------------------------------------------------------------------------

    def health(self) -> list[Health]:
        """Check every card (present, certificate valid, days left); a card set aside comes
        back when it is in order again. Certificates near expiry are logged as warnings."""
        out = []
        for worker in self._workers:
            state = worker.key.health(self.warn_days)
            with self._lock:
                worker.healthy = state.present and state.valid
                worker.problem = state.problem
            if state.days_left is not None and state.days_left < self.warn_days:
                log.warning("card %s: %s", state.card_number, state.problem)
            out.append(state)
        return out

    def stats(self) -> list[dict[str, object]]:
        return [
            {
                "card_number": w.key.card_number,
                "reader": w.key.reader,
                "healthy": w.healthy,
                "queued": w.load,
                "signatures": w.signatures,
                "problem": w.problem,
            }
            for w in self._workers
        ]

    def close(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.jobs.put(None)
        for worker in self._workers:
            worker.thread.join(timeout=5)
            worker.key.close()

    # --- inside -------------------------------------------------------------------------------

    def _pick(self, tried: set[int]) -> _Worker | None:
        with self._lock:
            untried = [w for w in self._workers if id(w) not in tried]
            # cards set aside are the last resort: one put back in its reader works again
            free = [w for w in untried if w.healthy] or untried
            chosen = min(free, key=lambda w: w.load, default=None)
            if chosen is not None:
                chosen.load += 1
            return chosen

    def _sign_on(self, worker: _Worker, data: bytes, suite: Suite) -> bytes:
        job = _Job(data, suite)
        job.future.add_done_callback(lambda _f: self._done(worker))
        worker.jobs.put(job)
        try:
            return job.future.result(timeout=self.timeout)
        except FutureTimeout:
            job.future.cancel()
            raise CardTimeout(
                f"card {worker.key.card_number} in {worker.key.reader}: no signature within "
                f"{self.timeout} s"
            ) from None

    def _done(self, worker: _Worker) -> None:
        with self._lock:
            worker.load -= 1

    def _set_aside(self, worker: _Worker, exc: CardError) -> None:
        log.warning("card %s set aside: %s", worker.key.card_number, exc.message)
        with self._lock:
            worker.healthy, worker.problem = False, exc.message

    def _problems(self) -> str:
        return "; ".join(f"{w.key.card_number}: {w.problem}" for w in self._workers)
