"""`make bench` (`python -m bench`): verify a generated estate in the emulator, beside a plain loop.

Generates the large estate (1,000 customer tenants, 5,000 delegations; `--quick`: 50 / 250),
starts Azurite and the emulator on it, injects per-request latency (25 ms by default), then:

1. runs one PAL Watch verification per `--concurrency` value on fresh tables (cold: everything
   is linked and written for the first time), and one more on the same tables (warm: the steady
   state every six hours);
2. runs the sequential SDK baseline (bench/runs.py) on the same estate.

Each run is a child process (peak memory is its own). Requests come from the emulator's journal.
"Minimum" is the number of distinct successful requests the run made (each distinct read or
write once, one token per identity/tenant/audience): what remains above it is repeated reads,
retries and 403 probes (a subscription list refused before its resource groups are listed).
Prints a Markdown report for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from scripts import services

ROOT = Path(__file__).resolve().parent.parent


_KINDS = (
    ("/oauth2/", "tokens"),
    ("/msi/token", "tokens"),
    ("registrationassignments", "assignments"),
    ("managementpartner", "pal"),
    ("/v1.0/", "graph"),
    ("/resourcegroups", "resource groups"),
)


def categorize(entry: dict[str, Any]) -> str:
    path = entry["path"].lower()
    for needle, kind in _KINDS:
        if needle in path:
            return kind
    return path.strip("/") if path.rstrip("/") in ("/subscriptions", "/tenants") else "other"


def journal_stats(journal: list[dict[str, Any]]) -> dict[str, Any]:
    made = Counter(categorize(e) for e in journal)
    distinct: set[tuple[Any, ...]] = set()
    for e in journal:
        if e["status"] in (200, 201, 202):
            who = (e.get("appId") or e.get("objectId") or "", e.get("tenantId") or "")
            distinct.add((e["method"], e["path"].lower(), e.get("query", ""), *who))
    minimum = Counter(categorize({"path": d[1]}) for d in distinct)
    writes = sum(1 for e in journal if e["method"] in ("PUT", "PATCH") and categorize(e) == "pal")
    return {
        "made": len(journal),
        "minimum": len(distinct),
        "byKind": dict(made),
        "minByKind": dict(minimum),
        "palWrites": writes,
        "errors": sum(1 for e in journal if e["status"] not in (200, 201, 202)),
    }


def child(which: str, env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.runs", which], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{which} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small estate (50 tenants, 250 delegations)")
    parser.add_argument("--tenants", type=int, default=None)
    parser.add_argument("--delegations", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=25)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    tenants = args.tenants or (50 if args.quick else 1000)
    delegations = args.delegations or (250 if args.quick else 5000)

    from emulator.large_scenario import large

    scenario = large(tenants, delegations)
    results: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="palwatch-bench-") as work:
        path = Path(work) / "estate.json"
        path.write_text(json.dumps(scenario))
        with services.azurite() as storage, services.emulator(path) as emu:
            base_env = {**os.environ, **emu.env, "AzureWebJobsStorage": storage}
            for name in ("CURL_CA_BUNDLE", "SSL_CERT_FILE"):
                base_env.pop(name, None)

            def fresh_world() -> None:
                emu.control("POST", "/reset", scenario)
                emu.control("POST", "/config", {"latencyMs": args.latency_ms})
                emu.control("DELETE", "/journal")

            prefix = ""
            for concurrency in args.concurrency:
                fresh_world()
                prefix = "b" + uuid.uuid4().hex[:12]
                env = {**base_env, "PAL_MAX_CONCURRENCY": str(concurrency), "PAL_TABLE_PREFIX": prefix}
                print(f"verify, cold, concurrency {concurrency} ...", file=sys.stderr, flush=True)
                run = child("verify", env)
                name = f"PAL Watch verify, cold, concurrency {concurrency}"
                results.append((name, run, journal_stats(emu.journal())))
            emu.control("DELETE", "/journal")
            concurrency = args.concurrency[-1]
            env = {**base_env, "PAL_MAX_CONCURRENCY": str(concurrency), "PAL_TABLE_PREFIX": prefix}
            print(f"verify, warm, concurrency {concurrency} ...", file=sys.stderr, flush=True)
            run = child("verify", env)
            results.append((f"PAL Watch verify, warm, concurrency {concurrency}", run, journal_stats(emu.journal())))
            if not args.no_baseline:
                fresh_world()
                print("sequential SDK baseline ...", file=sys.stderr, flush=True)
                run = child("baseline", base_env)
                results.append(("Sequential SDK loop (baseline)", run, journal_stats(emu.journal())))
    print(render(results, tenants, delegations, args))
    return 0


def render(results: list[tuple[str, dict[str, Any], dict[str, Any]]], tenants: int, delegations: int, args: Any) -> str:
    command = "python -m bench " + " ".join(sys.argv[1:]) if sys.argv[1:] else "make bench"
    lines = [
        f"### {tenants} customer tenants, {delegations} delegations, {args.latency_ms} ms per request",
        "",
        f"Command: `{command.strip()}`",
        "",
        "| run | wall time | requests made | minimum (distinct) | PAL writes | peak memory | delegations seen |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    baseline = next((r for name, r, _ in results if name.startswith("Sequential")), None)
    for name, run, stats in results:
        seen = run.get("outcome", {}).get("delegations", run.get("delegations", ""))
        lines.append(
            f"| {name} | {run['seconds']:.1f} s | {stats['made']} | {stats['minimum']} | {stats['palWrites']} | "
            f"{run['peakMiB']:.0f} MiB | {seen} |"
        )
    if baseline:
        lines.append("")
        for name, run, _ in results:
            if run is not baseline:
                lines.append(f"- {name}: {baseline['seconds'] / run['seconds']:.1f}x faster than the baseline")
    lines.append("")
    lines.append("Requests by kind (made / distinct):")
    lines.append("")
    for name, _run, stats in results:
        kinds = ", ".join(
            f"{k} {v}/{stats['minByKind'].get(k, 0)}" for k, v in sorted(stats["byKind"].items(), key=lambda kv: -kv[1])
        )
        lines.append(f"- {name}: {kinds}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
