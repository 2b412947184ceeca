"""Tokens held in process (`identity.HeldTokens`): one request per token, refreshed before expiry."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from shared.azure import identity


@dataclass
class Token:
    token: str
    expires_on: int


@dataclass
class CountingCredential:
    """Hands out numbered tokens valid for `lifetime` seconds and counts what it was asked."""

    clock: list[float]
    lifetime: int = 3600
    calls: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    fail: bool = False
    delay: float = 0.0

    def get_token(self, *scopes: str, **kwargs: Any) -> Token:
        if self.delay:
            time.sleep(self.delay)
        self.calls.append((scopes, kwargs))
        if self.fail:
            raise RuntimeError("identity endpoint down")
        return Token(f"t{len(self.calls)}", int(self.clock[0]) + self.lifetime)


def held(lifetime: int = 3600) -> tuple[identity.HeldTokens, CountingCredential, list[float]]:
    clock = [1_000_000.0]
    credential = CountingCredential(clock, lifetime)
    return identity.HeldTokens(credential, clock=lambda: clock[0]), credential, clock


def test_one_request_per_scope_however_many_calls() -> None:
    tokens, credential, _ = held()
    assert {tokens.get_token("arm/.default").token for _ in range(50)} == {"t1"}
    assert tokens.get_token("graph/.default").token == "t2"
    assert tokens.get_token("arm/.default").token == "t1"
    assert len(credential.calls) == 2


def test_a_new_token_shortly_before_expiry_not_after() -> None:
    tokens, credential, clock = held()
    assert tokens.get_token("arm/.default").token == "t1"
    clock[0] += 3600 - identity.REFRESH_MARGIN_SECONDS - 1
    assert tokens.get_token("arm/.default").token == "t1"
    clock[0] += 2  # inside the margin
    assert tokens.get_token("arm/.default").token == "t2"
    assert len(credential.calls) == 2


def test_a_short_lived_token_is_renewed_at_half_its_life() -> None:
    tokens, _credential, clock = held(lifetime=120)
    tokens.get_token("arm/.default")
    clock[0] += 59
    assert tokens.get_token("arm/.default").token == "t1"
    clock[0] += 2
    assert tokens.get_token("arm/.default").token == "t2"


def test_a_claims_challenge_and_another_tenant_ask_the_credential_again() -> None:
    tokens, credential, _ = held()
    tokens.get_token("arm/.default")
    assert tokens.get_token("arm/.default", claims='{"access_token": {}}').token == "t2"
    assert credential.calls[-1][1] == {"claims": '{"access_token": {}}'}
    assert tokens.get_token("arm/.default", tenant_id="other").token == "t3"
    assert credential.calls[-1][1] == {"tenant_id": "other"}
    assert tokens.get_token("arm/.default", tenant_id="other").token == "t3"


def test_a_failure_is_not_held() -> None:
    tokens, credential, _ = held()
    credential.fail = True
    with pytest.raises(RuntimeError):
        tokens.get_token("arm/.default")
    credential.fail = False
    assert tokens.get_token("arm/.default").token == "t2"


def test_concurrent_first_callers_wait_for_one_request() -> None:
    tokens, credential, _ = held()
    credential.delay = 0.05
    seen: list[str] = []
    threads = [threading.Thread(target=lambda: seen.append(tokens.get_token("arm/.default").token)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == ["t1"] * 16
    assert len(credential.calls) == 1


def test_credentials_hold_tokens_unless_told_not_to() -> None:
    class Settings:
        managed_identity_client_id = ""

    assert isinstance(identity.Credentials(Settings()).managed_identity(), identity.HeldTokens)
    plain = identity.Credentials(Settings(), hold_tokens=False).managed_identity()
    assert not isinstance(plain, identity.HeldTokens)
