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

from shared.cli import base as cli


def _configure_exempt(parser: argparse.ArgumentParser) -> None:
    from shared import model

    parser.add_argument("--kind", required=True, help=f"the finding kind: {', '.join(model.EXEMPTABLE_KINDS)}")
    parser.add_argument("--reason", required=True, help="why it is accepted (shown in reports)")
    parser.add_argument("--expires", required=True, help="the date it ends, e.g. 2026-12-31 (UTC)")
    parser.add_argument("--tenant", default="", help="the customer: its tenant id, its name or the start of it")
    parser.add_argument("--scope", default="", help="a subscription or resource group scope (and what lies under it)")
    parser.add_argument("--offer", default="", help="the offer: its registrationDefinitionName")
    parser.add_argument("--by", default="an operator", help="who accepts it (kept with the exemption)")


def _engine() -> Any:
    from shared import settings as settings_module
    from shared.usecases import engine as engine_module

    return engine_module.Engine(settings_module.load_settings())


# The exemption's JSON keys as this command's flags, for its error messages.
_FLAGS = {
    '"customerTenantId"': "--tenant",
    '"registrationDefinitionName"': "--offer",
    '"scope"': "--scope",
    '"expires"': "--expires",
    '"reason"': "--reason",
    '"kind"': "--kind",
    "customer tenant, scope or offer": "--tenant, --scope or --offer",
}


def _in_flags(message: str) -> str:
    for key, flag in _FLAGS.items():
        message = message.replace(key, flag)
    return message.split(": [{", 1)[0]  # the PAL_EXEMPTIONS shape means nothing on a command line


def _run_exempt(args: argparse.Namespace) -> int:
    from shared import roles
    from shared import settings as settings_module
    from shared.usecases import coverage_view, exemptions

    item = {
        "kind": args.kind,
        "reason": args.reason,
        "expires": args.expires,
        "customerTenantId": args.tenant,
        "scope": args.scope,
        "registrationDefinitionName": args.offer,
        "by": args.by,
    }
    named = bool(args.tenant) and not roles.is_guid(args.tenant)  # a customer's name: looked up below
    try:
        # Everything but a customer's name is checked before anything is read.
        exemption = settings_module.parse_exemption({**item, "customerTenantId": _ANY_TENANT if named else args.tenant})
    except ValueError as e:
        print(f"palwatch exempt: {_in_flags(str(e))}", file=sys.stderr)
        return cli.EXIT_USAGE
    if exemption.expires <= datetime.now(UTC):
        print(f"palwatch exempt: --expires {args.expires} is in the past", file=sys.stderr)
        return cli.EXIT_USAGE
    engine = _engine()
    try:
        coverage = coverage_view.current(engine)
        if named:
            tenant = coverage_view.match_customer(coverage, args.tenant)[0] if coverage is not None else ""
            if not tenant:
                known = ", ".join(coverage_view.customer_names(coverage)) if coverage is not None else "none yet"
                print(
                    f"palwatch exempt: --tenant {args.tenant!r} matches no customer (known: {known})", file=sys.stderr
                )
                return cli.EXIT_FAILED
            exemption = settings_module.parse_exemption({**item, "customerTenantId": tenant})
        nothing = _matches_nothing(exemption, coverage)
        if nothing:
            print(f"palwatch exempt: {nothing}", file=sys.stderr)
            return cli.EXIT_FAILED
        exemptions.add(engine, exemption)
        covered = exemptions.in_force(engine).accepted(engine.store.open_findings(), datetime.now(UTC))
    finally:
        engine.close()
    print(
        f"exempted {exemption.exemption_id} until {exemption.expires.date().isoformat()}: {exemption.reason}\n"
        f"In effect now: {len(covered)} open finding(s) it covers are no longer alerted or reminded (the next "
        "watch pass, within minutes, sends nothing for them); `palwatch findings` shows them as accepted."
    )
    return cli.EXIT_OK


_ANY_TENANT = "00000000-0000-0000-0000-000000000000"


def _matches_nothing(exemption: Any, coverage: Any) -> str:
    """Why the exemption would match no delegation PAL Watch knows, or empty when it matches one."""
    from shared.decisions import scopes

    if coverage is None:
        return ""  # nothing verified yet: nothing to hold it against
    rows = list(coverage.rows)
    if exemption.tenant_id:
        rows = [r for r in rows if r.customer_tenant_id.lower() == exemption.tenant_id]
        if not rows:
            return f"--tenant matches no customer (known: {', '.join(_names(coverage.rows))})"
    if exemption.scope:
        rows = [r for r in rows if scopes.covers(exemption.scope, r.scope) or scopes.covers(r.scope, exemption.scope)]
        if not rows:
            return f"--scope {exemption.scope} is not a delegated scope PAL Watch knows (`palwatch report` lists them)"
    if exemption.definition_name:
        wanted = exemption.definition_name.casefold()
        if not [r for r in rows if r.definition_name.casefold() == wanted]:
            offers = ", ".join(sorted({r.definition_name for r in coverage.rows if r.definition_name}))
            return f"--offer {exemption.definition_name!r} names no offer of these delegations (known: {offers})"
    return ""


def _names(rows: Any) -> list[str]:
    return sorted({r.customer_tenant_name or r.customer_tenant_id for r in rows})


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
        ignored = tuple(getattr(engine.settings.exemptions, "problems", ()))
    finally:
        engine.close()
    cli.emit(args, rows, empty="No exemptions: none recorded with `palwatch exempt`, none in PAL_EXEMPTIONS.")
    for problem in ignored:  # the app ignores these entries (one configuration finding); a person is told here
        print(f"palwatch exemptions: PAL_EXEMPTIONS {problem} (this entry is ignored)", file=sys.stderr)
    return cli.EXIT_FAILED if ignored else cli.EXIT_OK


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
