"""Border residents' trade (边民互市贸易, seeds 000 and 001) as one business system of the core.

The declarations side: entry and import declarations (进境/进口申报单) with their changes
(变更) and revokes (撤销), the biometric rule and the representatives' pending authentication
(R-BDR-4..8), the simulated customs' answers (R-BDR-9) and the two query pages (R-BDR-10).
The people side (resident registry, terminals, sessions, officers, enrolment, verification)
adds its routes and commands here.
"""

from __future__ import annotations

from pathlib import Path

from gateway.border import kinds, sim
from gateway.border.codes import BdrStatus
from gateway.core.system import BusinessSystem

_HERE = Path(__file__).resolve().parent

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
    migrations=_HERE / "migrations",
)
