"""`make bench` (`python -m bench`): verify a generated estate in the emulator, beside a plain loop.

Generates the large estate (1,000 customer tenants, 5,000 delegations; `--quick`: 50 / 250),
starts Azurite and the emulator on it, injects per-request latency (25 ms by default), then, each
run a child process (peak memory and CPU are its own):

1. per `--concurrency` value, one PAL Watch verification on fresh tables (cold: everything linked
   and written for the first time) and one more on the same tables (warm: the steady state);
2. one delegation event for an identity we act as, in a warm process (round trips to its link);
3. the sequential SDK baseline (bench/runs.py) on the same estate.

For every run it prints the wall time; the latency bound (requests * latency / concurrency) and
the ratio to it; the CPU seconds of the run's process (every thread), the emulator's and
Azurite's (from /proc/<pid>/stat); requests made (the emulator's journal) and the minimum (the
distinct successful requests: each read or write once, one token per identity, tenant and
audience) with the ratio to it. `--profile DIR` records each verify run with py-spy and prints the
top of each profile. Prints a Markdown report for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import journal as bench_journal
from bench import profile as bench_profile
from scripts import services

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far, from /proc/<pid>/stat (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(which: str, env: dict[str, str], profile: Path | None = None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.runs", which]
    if profile is not None:
        # py-spy samples every thread of the child; raw = collapsed stacks, summarized by bench.profile.
        # --gil: only the thread holding the GIL, i.e. Python actually running (not waiting on a socket).
        spy = str(Path(sys.executable).parent / "py-spy")
        command = [spy, "record", "--gil", "-r", "200", "-f", "raw", "-o", str(profile), "--", *command]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{which} run failed:\n{done.stderr[-4000:]}")
    answer = [line for line in done.stdout.splitlines() if line.startswith("{")]  # py-spy talks on stdout too
    result = json.loads(answer[-1])
    result["poolFullWarnings"] = done.stderr.count("Connection pool is full")
    return result


@dataclass
class Run:
    name: str
    result: dict[str, Any]
    stats: dict[str, Any]
    concurrency: int
    emulator_cpu: float
    azurite_cpu: float
    profile: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small estate (50 tenants, 250 delegations)")
    parser.add_argument("--tenants", type=int, default=None)
    parser.add_argument("--delegations", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=25)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-event", action="store_true", help="skip the delegation-event run")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy every verify run into this folder")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tenants = args.tenants or (50 if args.quick else 1000)
    delegations = args.delegations or (250 if args.quick else 5000)

    from emulator.large_scenario import large

    scenario = large(tenants, delegations)
    results: list[Run] = []
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="palwatch-bench-") as work:
        path = Path(work) / "estate.json"
        path.write_text(json.dumps(scenario))
        with services.azurite_service() as storage, services.emulator(path) as emu:
            base_env = {**os.environ, **emu.env, "AzureWebJobsStorage": storage.connection_string}
            for name in ("CURL_CA_BUNDLE", "SSL_CERT_FILE"):
                base_env.pop(name, None)

            def fresh_world() -> None:
                emu.control("POST", "/reset", scenario)
                emu.control("POST", "/config", {"latencyMs": args.latency_ms})
                emu.control("DELETE", "/journal")

            def measure(name: str, which: str, env: dict[str, str], concurrency: int) -> Run:
                print(f"{name} ...", file=sys.stderr, flush=True)
                emu.control("DELETE", "/journal")
                emulator_before, azurite_before = cpu_seconds(emu.pid), cpu_seconds(storage.pid)
                slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
                profile = args.profile / f"{slug}.txt" if args.profile is not None and which == "verify" else None
                result = child(which, env, profile)
                run = Run(
                    name,
                    result,
                    bench_journal.stats(emu.journal()),
                    concurrency,
                    cpu_seconds(emu.pid) - emulator_before,
                    cpu_seconds(storage.pid) - azurite_before,
                )
                if profile is not None:
                    run.profile = bench_profile.top(profile)
                results.append(run)
                return run

            for concurrency in args.concurrency:
                fresh_world()
                prefix = "b" + uuid.uuid4().hex[:12]
                env = {**base_env, "PAL_MAX_CONCURRENCY": str(concurrency), "PAL_TABLE_PREFIX": prefix}
                measure(f"PAL Watch verify, cold, concurrency {concurrency}", "verify", env, concurrency)
                measure(f"PAL Watch verify, warm, concurrency {concurrency}", "verify", env, concurrency)
            if not args.no_event:
                env = {**env, "BENCH_EMULATOR": json.dumps(emu.info)}
                measure("Delegation event to PAL write (warm tokens)", "event", env, 1)
            if not args.no_baseline:
                fresh_world()
                measure("Sequential SDK loop (baseline)", "baseline", base_env, 1)
    print(render(results, tenants, delegations, args))
    if args.json is not None:
        write_json(args.json, results, tenants, delegations)
    return 0


def write_json(path: Path, results: list[Run], tenants: int, delegations: int) -> None:
    """Every run's figures, for `python -m bench.chart`."""
    runs = [
        {**r.result, **r.stats, "name": r.name, "concurrency": r.concurrency}
        | {"emulatorCpuSeconds": r.emulator_cpu, "azuriteCpuSeconds": r.azurite_cpu}
        for r in results
    ]
    path.write_text(json.dumps({"tenants": tenants, "delegations": delegations, "runs": runs}, indent=1))


def render(results: list[Run], tenants: int, delegations: int, args: Any) -> str:
    command = "python -m bench " + " ".join(sys.argv[1:]) if sys.argv[1:] else "make bench"
    latency = args.latency_ms / 1000
    lines = [
        f"### {tenants} customer tenants, {delegations} delegations, {args.latency_ms} ms per request",
        "",
        f"Command: `{command.strip()}`",
        "",
        "| run | wall time | latency bound | wall / bound | requests | minimum | requests / minimum | CPU: ours | "
        "ms CPU / request | CPU: emulator | CPU: Azurite | PAL writes | peak memory | delegations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    baseline = next((r for r in results if r.name.startswith("Sequential")), None)
    for run in results:
        r, stats = run.result, run.stats
        bound = stats["made"] * latency / run.concurrency
        seen = r.get("outcome", {}).get("delegations", r.get("delegations", ""))
        per_request = 1000 * r["cpuSeconds"] / max(1, stats["made"])
        lines.append(
            f"| {run.name} | {r['seconds']:.2f} s | {bound:.2f} s | {r['seconds'] / bound if bound else 0:.2f} | "
            f"{stats['made']} | {stats['minimum']} | {stats['made'] / max(1, stats['minimum']):.3f} | "
            f"{r['cpuSeconds']:.1f} s | {per_request:.2f} | {run.emulator_cpu:.1f} s | {run.azurite_cpu:.1f} s | "
            f"{stats['palWrites']} | {r['peakMiB']:.0f} MiB | {seen} |"
        )
    warned = [f"{run.name}: {run.result['poolFullWarnings']}" for run in results if run.result.get("poolFullWarnings")]
    lines += ["", "'Connection pool is full' warnings: " + ("; ".join(warned) if warned else "none")]
    if baseline:
        lines.append("")
        for run in results:
            if run is not baseline and run.name.startswith("PAL Watch verify"):
                speedup = baseline.result["seconds"] / run.result["seconds"]
                lines.append(f"- {run.name}: {speedup:.1f}x faster than the baseline")
    event = next((r for r in results if r.name.startswith("Delegation event")), None)
    if event:
        lines.append("")
        lines.append(
            f"- Delegation event: {event.result['roundTrips']} round trip(s) to Azure before its PAL write, "
            f"handler wall time {1000 * event.result['seconds']:.0f} ms"
        )
    lines.append("")
    lines.append("Requests by kind (made / minimum):")
    lines.append("")
    for run in results:
        stats = run.stats
        kinds = ", ".join(
            f"{k} {v}/{stats['minByKind'].get(k, 0)}" for k, v in sorted(stats["byKind"].items(), key=lambda kv: -kv[1])
        )
        lines.append(f"- {run.name}: {kinds}")
    for run in results:
        if run.profile:
            lines += ["", f"Profile of {run.name} (py-spy, every thread, share of CPU samples):", ""]
            lines += [f"    {line}" for line in run.profile]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
