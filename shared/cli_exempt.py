"""`palwatch exempt` and `palwatch exemptions`: accept a finding for a while, with a reason.

Registered with `shared.cli` on import. An exemption keeps a finding out of the alerts (no notice,
no reminder) until it expires, then the finding is alerted again; reports show it as "accepted:
reason, until date". Exemptions made here live in the store; those in PAL_EXEMPTIONS are listed
too and changed in the settings.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from shared import cli


def _configure_exempt(parser: argparse.ArgumentParser) -> None:
    from shared import model

    parser.add_argument("--kind", required=True, help=f"the finding kind: {', '.join(model.EXEMPTABLE_KINDS)}")
    parser.add_argument("--reason", required=True, help="why it is accepted (shown in reports)")
    parser.add_argument("--expires", required=True, help="the date it ends, e.g. 2026-12-31 (UTC)")
    parser.add_argument("--tenant", default="", help="the customer tenant id")
    parser.add_argument("--scope", default="", help="a subscription or resource group scope (and what lies under it)")
    parser.add_argument("--offer", default="", help="the offer: its registrationDefinitionName")
    parser.add_argument("--by", default="an operator", help="who accepts it (kept with the exemption)")


def _engine() -> Any:
    from shared import settings as settings_module
    from shared.usecases import engine as engine_module

    return engine_module.Engine(settings_module.load_settings())


def _run_exempt(args: argparse.Namespace) -> int:
    from shared import settings as settings_module
    from shared.usecases import exemptions

    item = {
        "kind": args.kind,
        "reason": args.reason,
        "expires": args.expires,
        "customerTenantId": args.tenant,
        "scope": args.scope,
        "registrationDefinitionName": args.offer,
        "by": args.by,
    }
    try:
        exemption = settings_module.parse_exemption(item)
    except ValueError as e:
        print(f"palwatch exempt: {e}", file=sys.stderr)
        return cli.EXIT_USAGE
    if exemption.expires <= datetime.now(UTC):
        print(f"palwatch exempt: --expires {args.expires} is in the past", file=sys.stderr)
        return cli.EXIT_USAGE
    engine = _engine()
    try:
        exemptions.add(engine, exemption)
    finally:
        engine.close()
    print(f"exempted {exemption.exemption_id} until {exemption.expires.date().isoformat()}: {exemption.reason}")
    return cli.EXIT_OK


def _configure_exemptions(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    common = [cli.common_options()]
    actions.add_parser("list", help="every exemption, from the store and PAL_EXEMPTIONS", parents=common)
    remove = actions.add_parser("remove", help="remove an exemption made with `palwatch exempt`", parents=common)
    remove.add_argument("exemption_id", help="its id, as `palwatch exemptions list` shows it")


def _run_exemptions(args: argparse.Namespace) -> int:
    from shared.usecases import exemptions

    engine = _engine()
    try:
        if getattr(args, "action", None) == "remove":
            if not exemptions.remove(engine, args.exemption_id):
                print(f"palwatch exemptions: no stored exemption {args.exemption_id!r}", file=sys.stderr)
                return cli.EXIT_FAILED
            print(f"removed {args.exemption_id}: its findings are alerted again")
            return cli.EXIT_OK
        now = datetime.now(UTC)
        rows = [
            {
                "id": e.exemption_id,
                "kind": e.kind,
                "customerTenantId": e.tenant_id or None,
                "scope": e.scope or None,
                "offer": e.definition_name or None,
                "reason": e.reason,
                "expires": e.expires.isoformat(timespec="seconds"),
                "expired": e.expires <= now,
                "source": source,
                "by": e.by or None,
            }
            for e, source in exemptions.every(engine)
        ]
    finally:
        engine.close()
    cli.emit(args, rows)
    return cli.EXIT_OK


cli.register(
    "exempt",
    "accept a finding until a date, with a reason: not alerted or reminded until then",
    _configure_exempt,
    _run_exempt,
    examples="example:\n  palwatch exempt --kind unattributed_delegation --offer 'Contoso Monitoring' "
    "--reason 'read-only offer, no credit expected' --expires 2026-12-31",
)
cli.register(
    "exemptions",
    "list exemptions (store and PAL_EXEMPTIONS), or remove one made with `palwatch exempt`",
    _configure_exemptions,
    _run_exemptions,
    examples="examples:\n  palwatch exemptions list -o table\n  palwatch exemptions remove '<id>'",
)
