"""`make bench-billing` (`python -m bench.billing`): the billing reduction's peak memory at 100k and 1M lines.

Writes a gzipped JSON-lines blob of daily rated usage lines (Microsoft's attribute names; 500
subscriptions, 3 resource groups each, 30 days, so the reduced state is the same size whatever the
number of lines), then, per size, a child process reads it exactly as the credit snapshot reads a
downloaded blob (`BillingClient.lines_of`: gzip decompressed as it streams) into the reducer
(`shared.decisions.billing.Reducer`) and reports its peak RSS (`ru_maxrss`) and time. A child that
only imports the same modules gives the floor. Memory flat in the number of lines means the 1M
run's peak is the 100k run's, give or take the interpreter's noise. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIPTIONS = 500
GROUPS = 3
DAYS = 30


def write_blob(path: Path, lines: int) -> None:
    """`lines` usage lines, gzipped, written as they are made (the writer holds one line at a time)."""
    with gzip.open(path, "wt", compresslevel=1) as out:
        for n in range(lines):
            sub = n % SUBSCRIPTIONS
            line = {
                "PartnerId": "24c37422-30bf-4299-b2f0-a128b77a3378",
                "CustomerId": f"00000000-0000-4000-8000-{sub:012d}",
                "MpnId": "5127255",
                "Tier2MpnId": "",
                "SubscriptionId": f"11111111-0000-4000-8000-{sub:012d}",
                "EntitlementId": f"22222222-0000-4000-8000-{sub:012d}",
                "EntitlementDescription": f"Azure subscription {sub}",
                "ResourceGroup": f"rg-{(n // SUBSCRIPTIONS) % GROUPS}",
                "UsageDate": f"2026-11-{1 + (n // (SUBSCRIPTIONS * GROUPS)) % DAYS:02d}T00:00:00Z",
                "MeterCategory": "Virtual Machines",
                "BillingPreTaxTotal": round(0.01 * (n % 997), 2),
                "BillingCurrency": "USD",
                "PartnerEarnedCreditPercentage": 15 if sub % 10 else 0,
            }
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


def measure(path: str, reduce: bool) -> dict[str, float]:
    """Run in the child: stream the blob into the reducer (or only import), report peak RSS and time."""
    from shared.azure import billing as adapter
    from shared.decisions import billing

    started = time.perf_counter()
    lines = scope_days = 0
    if reduce:
        client = adapter.BillingClient(None)  # type: ignore[arg-type]  # lines_of needs no HTTP client
        reducer = billing.Reducer()
        with open(path, "rb") as stream:
            for line in client.lines_of(stream):
                reducer.add(line)
        lines, scope_days = reducer.usage.lines, len(reducer.usage.days)
        client.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = time.perf_counter() - started
    return {"lines": lines, "scopeDays": scope_days, "peakMiB": peak_kib / 1024, "seconds": seconds}


def child(path: Path, reduce: bool) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.billing", "--child", str(path)] + ([] if reduce else ["--floor"])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated line counts")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, reduce=not args.floor)))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="palwatch-billing-") as work:
        for size in (int(s) for s in args.sizes.split(",")):
            blob = Path(work) / f"usage-{size}.json.gz"
            write_blob(blob, size)
            floor = child(blob, reduce=False)
            run = child(blob, reduce=True)
            rows.append((size, blob.stat().st_size, floor, run))
            blob.unlink()
    print("| lines | blob (gzip) | scope-days kept | peak RSS | floor (imports only) | time |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for size, blob_bytes, floor, run in rows:
        print(
            f"| {size:,} | {blob_bytes / 2**20:.1f} MiB | {int(run['scopeDays']):,} | {run['peakMiB']:.1f} MiB "
            f"| {floor['peakMiB']:.1f} MiB | {run['seconds']:.1f} s |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
