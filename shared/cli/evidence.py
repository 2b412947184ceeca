"""`palwatch evidence`: each identity the app acts as, the PAL link it reports and its eligible scopes.

Registered with `shared.cli` on import (imported by `cli._load_commands`); the work is
`shared.usecases.evidence`. JSON nests the scopes under each identity; CSV and TSV give one row
per identity and scope (an identity without eligible scopes still gets its row), for a
spreadsheet a partner can send as is.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from shared.cli import base as cli
from shared.cli import credentials as cli_credentials
from shared.cli import verify as cli_verify

_LINK_COLUMNS = ("identity", "credential", "tenantId", "objectId", "type", "partnerId", "partnerName")
_TIME_COLUMNS = ("linkState", "linkCreated", "linkUpdated")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--identity", metavar="NAME", help="only this identity (a name from PAL_IDENTITIES, or one found)"
    )
    cli_credentials.add_option(parser)


def _run(args: argparse.Namespace) -> int:
    from shared.azure import errors
    from shared.store import errors as store_errors
    from shared.usecases import evidence

    engine = cli_verify.engine_or_error(args)
    if engine is None:
        return cli.EXIT_FAILED
    try:
        found = evidence.collect_evidence(engine, args.identity)
    except (errors.AzureError, store_errors.StoreError) as e:
        print(f"palwatch evidence failed: {e}", file=sys.stderr)
        return cli.EXIT_FAILED
    finally:
        engine.close()
    if args.identity is not None and not found.identities:
        print(f"palwatch: no identity named {args.identity!r} (see palwatch evidence)", file=sys.stderr)
        return cli.EXIT_FAILED
    document = found.to_json()
    value = flat_rows(document) if args.output in ("csv", "tsv") and not args.query else document
    cli.emit(args, value, table=lambda: table(document))
    return cli.EXIT_OK if all(not i["problem"] for i in document) else cli.EXIT_FAILED


def flat_rows(document: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per identity and eligible scope."""
    rows = []
    for entry in document:
        head = {k: entry[k] for k in (*_LINK_COLUMNS, *_TIME_COLUMNS)}
        blank = {"scope": "", "customerTenantName": "", "customerTenantId": "", "roleName": "", "viaGroup": ""}
        for scope in entry["scopes"] or [None]:
            rows.append({**head, **({k: scope[k] for k in blank} if scope else blank), "problem": entry["problem"]})
    return rows


def table(document: list[dict[str, Any]]) -> str:
    if not document:
        return "No identity to show."
    blocks = []
    for entry in document:
        link = (
            f"partner {entry['partnerId']} ({entry['partnerName'] or 'no name'}), {entry['linkState']}, "
            f"created {entry['linkCreated'] or '?'}, updated {entry['linkUpdated'] or '?'}"
            if entry["partnerId"]
            else "no PAL link"
        )
        lines = [
            f"{entry['identity']} ({entry['type']}, {entry['credential']})",
            f"  tenant {entry['tenantId']}  object {entry['objectId'] or '?'}",
            f"  link: {link}",
        ]
        if (entry["problem"] and entry["partnerId"]) or (entry["problem"] and entry["problem"] != "no PAL link"):
            lines.append(f"  problem: {entry['problem']}")
        if entry["scopes"]:
            lines.append(f"  permanent eligible roles on {len(entry['scopes'])} scope(s):")
            for s in entry["scopes"]:
                via = f" via group {s['viaGroup']}" if s["viaGroup"] else ""
                lines.append(
                    f"    {s['customerTenantName'] or s['customerTenantId']}  {s['scope']}  {s['roleName']}{via}"
                )
        else:
            lines.append("  no permanent eligible role on a delegated scope")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


cli.register(
    "evidence",
    "each identity the app acts as: its PAL link (partner id, name, times) and every scope it earns credit on",
    _configure,
    _run,
    examples="examples:\n  palwatch evidence\n  palwatch evidence -o csv > pal-evidence.csv\n"
    "  palwatch evidence --identity automation -o json",
)
