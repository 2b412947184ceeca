"""Health: the doctor's checks where the app runs, as the app's own identity.

Called by function_app.health (HTTP: JSON, or the doctor's table with `?format=text`) and by
function_app.watch_delegations after each watch tick (`watch_health`): the doctor runs at most
every `DOCTOR_EVERY`, and its result is logged as one `PalWatch.Doctor` record once a day and
whenever it changes, so an alert rule in infra/ hears when it turns red. A Flex Consumption app
has no console: this is where `palwatch doctor` runs in Azure.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared import doctor, telemetry
from shared import settings as settings_module
from shared.store import errors as store_errors
from shared.usecases import outcomes
from shared.usecases.engine import Engine

log = logging.getLogger(__name__)

DOCTOR_EVERY = timedelta(minutes=15)
STATE = "health"
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def health_answer(
    fmt: str,
    environ: Mapping[str, str] | None = None,
    *,
    send_test_alert: bool = False,
    run: Callable[..., Any] | None = None,
) -> outcomes.Answer:
    """The doctor's report: 200 when every required check passes, 503 when one fails (monitors read it).

    It reads the settings itself (default os.environ), so wrong settings are a red row, not a crash.
    """
    wanted = (fmt or "").strip().lower()
    if wanted not in ("", "json", "text"):
        body = {"error": {"code": "UnsupportedFormat", "message": "format must be json or text"}}
        return outcomes.Answer(400, "application/json", json.dumps(body), _HEADERS, "rejected")
    report = (run or doctor.run_doctor)(environ, send_test_alert=send_test_alert)
    status, verdict = (200, "green") if report.ok else (503, "red")
    if wanted == "text":
        return outcomes.Answer(status, "text/plain", report.render() + "\n", _HEADERS, verdict)
    document = {"ok": report.ok, "checks": report.to_json()["checks"]}
    return outcomes.Answer(status, "application/json", json.dumps(document, indent=2), _HEADERS, verdict)


def fingerprint(report: Any) -> str:
    """What changes when a check changes status (details such as counts do not count)."""
    states = sorted((c.name, c.status) for c in report.checks)
    return hashlib.sha256(json.dumps([report.ok, states]).encode()).hexdigest()[:16]


def dimensions(report: Any) -> dict[str, Any]:
    failed = [c for c in report.checks if c.failed]
    warned = [c for c in report.checks if c.status == doctor.WARN or (c.status == doctor.FAIL and not c.required)]
    return {
        "ok": report.ok,
        "failed": len(failed),
        "warned": len(warned),
        "failedChecks": [c.name for c in failed],
        "warnedChecks": [c.name for c in warned],
        "fixes": [f"{c.name}: {c.fix}" for c in failed][:10],
        "checks": len(report.checks),
    }


def watch_health(get_engine: Callable[[], Engine], now: datetime, *, run: Callable[..., Any] | None = None) -> str:
    """Run the doctor when due; log `PalWatch.Doctor` once a day and on every change. Never raises.

    Without an engine (settings so wrong it cannot be built) the doctor still runs on the
    environment and its red record is logged on every tick: there is nowhere to remember it.
    """
    try:
        engine = _engine_or_none(get_engine)
        state = _read_state(engine) if engine is not None else {}
        ran_at = _when(state.get("ranAt"))
        if ran_at is not None and now - ran_at < DOCTOR_EVERY:
            return "not due"
        report = (run or doctor.run_doctor)()  # the settings the engine was built from: the app settings
        current = fingerprint(report)
        day = now.date().isoformat()
        changed = current != state.get("fingerprint")
        logged = changed or state.get("day") != day
        if logged:
            dims = {**dimensions(report), "changed": changed and "fingerprint" in state}
            telemetry.emit(telemetry.DOCTOR, dims, level=logging.INFO if report.ok else logging.WARNING)
        new_state = {"ranAt": now.isoformat(), "fingerprint": current, "day": day if logged else state.get("day")}
        if engine is not None:
            try:
                engine.store.put_state(STATE, new_state)
            except (store_errors.StoreError, settings_module.SettingsError) as e:  # the doctor says why
                log.warning("health: doctor state not saved: %s", e)
        return ("green" if report.ok else "red") + (" (logged)" if logged else "")
    except Exception as e:  # the watch must never fail because its own check-up did
        log.warning("health: the doctor could not run: %s", type(e).__name__)
        return f"failed: {type(e).__name__}"


def _engine_or_none(get_engine: Callable[[], Engine]) -> Engine | None:
    try:
        return get_engine()
    except settings_module.SettingsError:
        return None


def _read_state(engine: Engine) -> dict[str, Any]:
    try:
        state = engine.store.get_state(STATE)
    except (store_errors.StoreError, settings_module.SettingsError):
        return {}
    return state if isinstance(state, dict) else {}


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
