import time

import jwt
import pytest

from allodiscri.kernel import tokens
from allodiscri.kernel.actors import Actor

KEY = b"unit-test-actor-token-key-32-bytes!!"
LISTENER = Actor("listener-1", "listener", "SG")


def test_a_token_names_its_actor():
    assert tokens.verify(tokens.issue(LISTENER, KEY), KEY) == LISTENER


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "no actor token"),
        ("", "no actor token"),
        ({"id": "listener-1"}, "signed string"),
        ("a.b.c", "not valid"),
    ],
)
def test_missing_or_malformed_tokens_are_refused(token, reason):
    with pytest.raises(tokens.TokenRefused, match=reason):
        tokens.verify(token, KEY)


def test_forged_expired_and_overlong_tokens_are_refused():
    forged = tokens.issue(LISTENER, b"another-key-another-key-another-key!")
    with pytest.raises(tokens.TokenRefused, match="signature") as refused:
        tokens.verify(forged, KEY)
    assert refused.value.claims == {"sub": "listener-1", "role": "listener", "platform": "SG"}
    expired = tokens.issue(LISTENER, KEY, ttl_seconds=60, now=1_000_000)
    with pytest.raises(tokens.TokenRefused, match="expired"):
        tokens.verify(expired, KEY)
    overlong = jwt.encode(
        {"iss": "allodiscri", "sub": "x", "role": "listener", "platform": "SG", "iat": 1,
         "exp": 4_000_000_000},
        KEY,
        algorithm="HS256",
    )  # fmt: skip
    with pytest.raises(tokens.TokenRefused, match="longer than allowed"):
        tokens.verify(overlong, KEY)
    with pytest.raises(ValueError, match="between 1 and"):
        tokens.issue(LISTENER, KEY, ttl_seconds=48 * 3600)


def test_claims_are_checked_like_any_input_and_algorithms_are_pinned():
    now = int(time.time())
    bad_role = jwt.encode(
        {"iss": "allodiscri", "sub": "x", "role": "boss", "platform": "SG", "iat": now,
         "exp": now + 60},
        KEY,
        algorithm="HS256",
    )  # fmt: skip
    with pytest.raises(tokens.TokenRefused, match="claims are not valid"):
        tokens.verify(bad_role, KEY)
    unsigned = jwt.encode(
        {"iss": "allodiscri", "sub": "x", "role": "listener", "platform": "SG"},
        None,
        algorithm="none",
    )
    with pytest.raises(tokens.TokenRefused, match="not valid"):
        tokens.verify(unsigned, KEY)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.issue(LISTENER, b"short")
