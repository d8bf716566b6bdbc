"""Border residents' trade (边民互市贸易, seeds 000 and 001) as one business system of the core.

The declarations side: entry and import declarations (进境/进口申报单) with their changes
(变更) and revokes (撤销), the biometric rule and the representatives' pending authentication
(R-BDR-4..8), the simulated customs' answers (R-BDR-9) and the two query pages (R-BDR-10);
the 认证超时 job. The people side (resident registry, terminals, sessions, officers,
enrolment, verification) adds its routes and commands here.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway.border import api, cli, declarations, kinds, people_api, people_cli, registry, sim
from gateway.border.codes import BdrStatus
from gateway.core import jobs
from gateway.core.models import utcnow
from gateway.core.system import BusinessSystem, Job

_HERE = Path(__file__).resolve().parent
#: the 认证超时 job (R-BDR-7): how often it looks, in seconds
EXPIRY_JOB, EXPIRY_EVERY = "border-auth-timeout", 60.0


def _expiry(gateway: Any, stop: threading.Event) -> None:
    """R-BDR-7: 待认证 past its deadline → 认证超时, and one whose residents all passed but
    was not sent is sent; one process per round (the lease)."""
    owner = jobs.owner_id()
    while not stop.wait(EXPIRY_EVERY):
        now = utcnow()
        if jobs.take_lease(gateway.db, owner, now, timedelta(seconds=EXPIRY_EVERY * 3), EXPIRY_JOB):
            declarations.expire(gateway.db, now)
            declarations.resend_ready(gateway.db, gateway.intake, now)


SYSTEM = BusinessSystem(
    name="border",
    title="border residents' trade (边民互市贸易)",
    kinds=kinds.KINDS,
    xsd_dir=_HERE / "xsd",
    statuses=(BdrStatus,),
    # a receipt tie (same returnTime) goes to the later step
    lifecycle=(
        BdrStatus.PENDING_PROCESSING,
        BdrStatus.PENDING_INSPECTION,
        BdrStatus.AMEND,
        BdrStatus.CUSTOMS_APPROVED,
        BdrStatus.GENERAL_TRADE,
        BdrStatus.DOC_RELEASED,
        BdrStatus.GOODS_RELEASED,
        BdrStatus.REVOKE_GRANTED,
    ),
    sim_behaviours=sim.behaviours(),
    routers=(api.router, people_api.router),
    commands=cli.COMMANDS + people_cli.COMMANDS,
    # BRD201Message: the resident registry customs announces (R-BDR-2)
    reference_data=(registry.handle_envelope,),
    jobs=(Job(EXPIRY_JOB, _expiry),),
    migrations=_HERE / "migrations",
)
