"""The XSDs of the CEB messages and the exchange envelope, and their validator (R-COM-1).

    >>> from schemas import validate
    >>> violations = validate(tree)          # [] when the message is valid

See `schemas.loader` for how schemas are compiled and shared between threads.
"""

from schemas.loader import known_message_types, message_type, validate

__all__ = ["known_message_types", "message_type", "validate"]
