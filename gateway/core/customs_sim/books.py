"""What customs holds of the records a run of envelopes touches, read and written once a run.

Why: customs kept its books one ORM object and one flush per record, a third of the
simulator's time (py-spy, issue 15), so the end-to-end figure of the pipeline measured the
simulator. A run is consecutive envelopes of one batch whose behaviours keep their books here
(the generic answer, and the behaviours a system marks with `batched`): the records held
under all their business keys are read with one query before the first is judged, judged in
arrival order against this in-memory copy (a repeat of a key in the run sees the first), and
written with one executemany insert and one executemany update when the run is over, before
any behaviour that reads the store itself runs. A system's behaviour may add a `RunPart` of
its own books, written right after the records (gateway/ecx/sim/four_documents.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import bindparam, insert, select, tuple_, update
from sqlalchemy.orm import Session

from gateway.core.customs_sim.state import DECLARATIONS

#: keys in one IN (...) at most: SQLite allows 32,766 parameters, PostgreSQL 65,535
CHUNK = 500

_D = DECLARATIONS.c


@dataclass
class Held:
    """One record customs holds (a `Declaration` row) as the run reads and changes it."""

    kind: str
    business_key: str
    sender_id: str
    status: str
    versions: int
    last_cop_msg_id: str
    #: None until the row is stored
    id: int | None = None
    changed: bool = False


class RunPart(Protocol):
    """A system's own books of a run, written once when the run is over."""

    def write(self, session: Session) -> None: ...


P = TypeVar("P", bound=RunPart)


def chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class Holdings:
    """The `Declaration` rows of a run, by (kind, business key); None for a key not held."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: dict[tuple[str, str], Held | None] = {}

    def load(self, keys: Iterable[tuple[str, str]]) -> None:
        """Read the rows held under `keys` not read yet, with one query (a chunk)."""
        wanted = sorted({k for k in keys if k not in self.rows})
        for part in chunks(wanted):
            query = select(
                _D.id, _D.kind, _D.business_key, _D.sender_id, _D.status, _D.versions,
                _D.last_cop_msg_id,
            ).where(tuple_(_D.kind, _D.business_key).in_(part))  # fmt: skip
            for row in self.session.execute(query):
                self.rows[(row.kind, row.business_key)] = Held(
                    row.kind, row.business_key, row.sender_id, row.status, row.versions,
                    row.last_cop_msg_id, row.id,
                )  # fmt: skip
            for key in part:
                self.rows.setdefault(key, None)

    def get(self, kind: str, key: str) -> Held | None:
        if (kind, key) not in self.rows:
            self.load([(kind, key)])
        return self.rows[(kind, key)]

    def declare(self, kind: str, key: str, sender: str, status: str, cop_msg_id: str) -> Held:
        """One more version of the record, now in `status`, last declared by `cop_msg_id`."""
        held = self.get(kind, key)
        if held is None:
            held = self.rows[(kind, key)] = Held(kind, key, sender, status, 0, cop_msg_id)
        held.status, held.versions, held.last_cop_msg_id = status, held.versions + 1, cop_msg_id
        held.changed = True
        return held

    def write(self) -> None:
        """New rows with one executemany insert, changed ones with one executemany update."""
        changed = [h for h in self.rows.values() if h is not None and h.changed]
        new = [h for h in changed if h.id is None]
        old = [h for h in changed if h.id is not None]
        if new:
            self.session.execute(
                insert(DECLARATIONS),
                [
                    {"kind": h.kind, "business_key": h.business_key, "sender_id": h.sender_id,
                     "status": h.status, "versions": h.versions,
                     "last_cop_msg_id": h.last_cop_msg_id}
                    for h in new
                ],
            )  # fmt: skip
        if old:
            self.session.execute(
                _UPDATE_HELD,
                [
                    {"row_id": h.id, "new_status": h.status, "new_versions": h.versions,
                     "new_cop": h.last_cop_msg_id}
                    for h in old
                ],
            )  # fmt: skip
        self.rows.clear()


_UPDATE_HELD = (
    update(DECLARATIONS)
    .where(_D.id == bindparam("row_id"))
    .values(
        status=bindparam("new_status"),
        versions=bindparam("new_versions"),
        last_cop_msg_id=bindparam("new_cop"),
    )
)


class Run:
    """The books of one run: the records held, and the parts systems add."""

    def __init__(self, session: Session) -> None:
        # What earlier behaviours added through the ORM must be in the store before the
        # run reads it (its queries are Core ones, which do not autoflush).
        session.flush()
        self.session = session
        self.holdings = Holdings(session)
        self.parts: dict[str, RunPart] = {}

    def part(self, name: str, make: Callable[[], P]) -> P:
        """The run's part `name`, made on first use."""
        if name not in self.parts:
            self.parts[name] = make()
        return cast(P, self.parts[name])

    def write(self) -> None:
        self.holdings.write()
        for part in self.parts.values():
            part.write(self.session)
        self.parts.clear()
        # ORM objects loaded before the run may hold what the run just changed underneath
        # (flushed first: expiring drops the changes a part made through the ORM)
        self.session.flush()
        self.session.expire_all()
