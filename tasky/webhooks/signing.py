"""Signatures and headers of the Standard Webhooks specification.

A receiver checks ``webhook-signature`` against the HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}`` under the secret it was given, and refuses a
timestamp too far from its clock, so a captured request cannot be replayed later. During a
secret's rotation both secrets sign: the header carries one ``v1,`` signature per secret,
separated by spaces, and a receiver holding either accepts the request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_bytes

from tasky import __version__

PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = f"Tasky/{__version__}"


def new_secret() -> str:
    """A new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode("ascii")


def _key(secret: str) -> bytes:
    """The HMAC key of a secret: the base64 after ``whsec_`` (padding optional)."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"a webhook secret starts with {PREFIX}")
    encoded = secret[len(PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,`` and the base64 HMAC-SHA256 of ``f"{msg_id}.{timestamp}."`` + ``body``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    if not secrets:
        raise ValueError("a webhook is signed with at least one secret")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def headers(
    secrets: Sequence[str],
    msg_id: str,
    timestamp: int,
    body: bytes,
    user_agent: str = USER_AGENT,
) -> dict[str, str]:
    """Every header of a delivery: ``webhook-id`` (the same on each retry of one message),
    ``webhook-timestamp`` (seconds since the epoch, of this attempt), ``webhook-signature``,
    ``Content-Type`` and ``User-Agent``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "Content-Type": "application/json",
        "User-Agent": user_agent,
    }
