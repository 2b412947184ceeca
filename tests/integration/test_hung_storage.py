"""A table endpoint that accepts connections and never answers: every entry point gives up in time.

Event Grid waits 30 s for a handler and redelivers what did not answer, so a delegation event must
fail within that, naming the endpoint; `health` must answer red within 10 s (a probe that hangs is
no health check). The endpoint here is a loopback socket that accepts and reads, and never writes.
The bound is Azure's contract, checked with a thread joined at that limit.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

import function_app
from tests import campaign
from tests.support import demo, triggers, world

ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture
def hung_tables() -> Iterator[str]:
    """A connection string whose table endpoint accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)  # read by nobody, answered never

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    yield (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
        f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};"
    )
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def _within(seconds: float, call: Any) -> Any:
    """`call()`'s result or exception; fails if it is still running after `seconds`."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except Exception as e:  # the host logs a failed invocation; that is the expected end
            box["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"still waiting on storage after {seconds} s"
    return box


def test_a_delegation_event_on_hung_storage_fails_within_event_grids_30_s(emulator, palwatch, monkeypatch, hung_tables):
    from shared.usecases import engine

    events = world.onboard(emulator, world.new_delegation(demo.RELECLOUD, (demo.AUTOMATION, demo.CONTRIBUTOR)))
    monkeypatch.setenv("AzureWebJobsStorage", hung_tables)
    engine.reset_engine()
    box = _within(30, lambda: triggers.delegation_events(events[:1]))
    assert "error" in box, box
    assert "127.0.0.1" in str(box["error"]), box["error"]
    campaign.record("hung_storage", entry="delegation_events", failed_within_s=30, endpoint_named=True)


def test_health_on_hung_storage_answers_red_within_10_s(emulator, palwatch, monkeypatch, hung_tables):
    from shared.usecases import engine

    monkeypatch.setenv("AzureWebJobsStorage", hung_tables)
    engine.reset_engine()
    request = func.HttpRequest("GET", "/api/health", params={}, headers={}, body=b"")
    box = _within(10, lambda: function_app.health(request))
    response = box["value"]
    assert response.status_code == 503
    assert "127.0.0.1" in response.get_body().decode()
    campaign.record("hung_storage", entry="health", failed_within_s=10, endpoint_named=True)
