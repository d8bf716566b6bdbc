"""RabbitMQ transport (pika): topology, confirmed publisher, ack-after-commit consumer, and the
DXP exchange envelope (DxpMsg) that carries signed messages to and from customs."""

from transports.consumer import Consumer, Delivery, Handler, PermanentFailure
from transports.envelope import Envelope, Unwrapped, unwrap, wrap
from transports.publisher import Publisher, connection_parameters
from transports.topology import Binding, Topology

__all__ = [
    "Binding",
    "Consumer",
    "Delivery",
    "Envelope",
    "Handler",
    "PermanentFailure",
    "Publisher",
    "Topology",
    "Unwrapped",
    "connection_parameters",
    "unwrap",
    "wrap",
]
