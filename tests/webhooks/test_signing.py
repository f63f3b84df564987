"""Signatures checked by the independent ``standardwebhooks`` package."""

from __future__ import annotations

import base64
import time

import pytest
import standardwebhooks

from tasky import __version__
from tasky.webhooks import signing

BODY = b'{"type": "task.failed", "data": {"task_id": "t1", "error": "caf\xc3\xa9"}}'


def verify(secret: str, headers: dict[str, str], body: bytes = BODY):
    return standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)


def test_new_secrets_are_whsec_and_32_random_bytes():
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32


def test_the_headers_verify():
    secret = signing.new_secret()
    now = int(time.time())
    headers = signing.headers([secret], "msg_2b1", now, BODY)
    assert headers["webhook-id"] == "msg_2b1"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == f"Tasky/{__version__}"
    verify(secret, headers)


def test_the_signature_is_the_hmac_of_id_timestamp_and_body():
    """The specification's own example."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert (
        signing.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_signature_breaks_with_any_change():
    secret = signing.new_secret()
    now = int(time.time())
    headers = signing.headers([secret], "msg_1", now, BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(secret, headers, BODY + b" ")
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(secret, {**headers, "webhook-id": "msg_2"})
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(secret, {**headers, "webhook-timestamp": str(now + 1)})
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(signing.new_secret(), headers)


def test_during_a_rotation_either_secret_verifies():
    old, new = signing.new_secret(), signing.new_secret()
    headers = signing.headers([old, new], "msg_1", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers)
    verify(new, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(signing.new_secret(), headers)


def test_an_old_timestamp_is_refused_by_the_receiver():
    secret = signing.new_secret()
    headers = signing.headers([secret], "msg_1", int(time.time()) - 3600, BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError, match="too old"):
        verify(secret, headers)


def test_an_unpadded_secret_signs_as_the_receiver_reads_it():
    secret = "whsec_" + base64.b64encode(b"k" * 25).decode().rstrip("=")
    headers = signing.headers([secret], "msg_1", int(time.time()), BODY)
    verify(secret, headers)


@pytest.mark.parametrize("secret", ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_!!!!"])
def test_a_malformed_secret_is_a_value_error(secret):
    with pytest.raises(ValueError, match="webhook secret"):
        signing.sign(secret, "msg_1", 1, BODY)


def test_no_secret_is_a_value_error():
    with pytest.raises(ValueError, match="at least one secret"):
        signing.signature_header([], "msg_1", 1, BODY)
