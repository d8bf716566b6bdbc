"""Who may send the gateway receipts and reference data: customs, and nobody else.

Checked on every delivery of the receipts queue before any handler (receipt processor,
CEB792 result, APT110 reference data) sees it:

- the broker user that published it (`user_id`, which RabbitMQ validates against the
  publishing connection) is one of `amqp.customs_users`;
- the DxpMsg's SenderId is one of `amqp.customs_sender_ids`;
- every ReceiverId is the dxpId of an enterprise of this gateway (whether it is the dxpId
  of the record's own enterprise is checked where the record is found, receipt_processor).

Anything else is kept for ops (receipt outcome `untrusted`, with the reason) and applied to
nothing. Rule R-COM-4: status changes come only from the gateway's own steps and customs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.errors import InvalidMessage
from transports.consumer import Delivery
from transports.envelope import Unwrapped, unwrap

RULE = "R-COM-4"
UNTRUSTED = "untrusted"


@dataclass(frozen=True)
class Verdict:
    """A refusal (`why` names the field and the rule), or None fields for a trusted one."""

    why: str | None
    envelope: Unwrapped | None = None


@dataclass(frozen=True)
class ReceiptTrust:
    customs_users: frozenset[str]
    sender_ids: frozenset[str]
    #: dxpIds of this gateway's enterprises
    receivers: frozenset[str]

    @classmethod
    def of(
        cls, customs_users: Iterable[str], sender_ids: Iterable[str], receivers: Iterable[str]
    ) -> ReceiptTrust:
        return cls(frozenset(customs_users), frozenset(sender_ids), frozenset(receivers))

    def check(self, delivery: Delivery) -> Verdict:
        if delivery.user_id not in self.customs_users:
            return Verdict(
                f"user_id: published by broker user {delivery.user_id!r}, not by customs "
                f"({', '.join(sorted(self.customs_users))}) ({RULE})"
            )
        try:
            env = unwrap(delivery.body)
        except InvalidMessage:
            return Verdict(None)  # customs' own unreadable envelope: kept as unreadable
        return Verdict(self._envelope_refusal(env), env)

    def _envelope_refusal(self, env: Unwrapped) -> str | None:
        if env.sender_id not in self.sender_ids:
            return (
                f"DxpMsg/TransInfo/SenderId: {env.sender_id!r} is not a customs sender "
                f"({', '.join(sorted(self.sender_ids))}) ({RULE})"
            )
        strangers = [r for r in env.receiver_ids if r not in self.receivers]
        if strangers:
            return (
                f"DxpMsg/TransInfo/ReceiverIds/ReceiverId: {strangers[0]!r} is the dxpId of "
                f"no enterprise of this gateway ({RULE})"
            )
        return None
