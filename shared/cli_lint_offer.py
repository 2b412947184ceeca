"""`palwatch lint-offer FILE`: check a Lighthouse offer before it is published or deployed.

Registered with `shared.cli` on import. Reads a JSON file (an ARM or Bicep-compiled template, a
parameters file, or a registration definition as ARM returns it), optionally the parameters file
the template is deployed with and role definitions (`az role definition list` output), and prints
what `shared.reconcile.offer_lint` finds. Offline: it never calls Azure. Exit 0 when there is no
error (warnings are printed), 1 when there is one, 2 when the file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared import cli

MAX_BYTES = 5_000_000  # a template is small; refuse to read a huge file whole


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="template, parameters file or registration definition (JSON)")
    parser.add_argument("--parameters", metavar="FILE", help="the parameters file the template is deployed with")
    parser.add_argument(
        "--palwatch-principal",
        action="append",
        default=[],
        metavar="OBJECT_ID",
        help="object id of PAL Watch's managed identity (the PAL_IDENTITY_PRINCIPAL_ID output of azd up)",
    )
    parser.add_argument(
        "--acting-principal",
        action="append",
        default=[],
        metavar="OBJECT_ID",
        help="object id of another identity PAL Watch acts as (PAL_IDENTITIES); repeatable",
    )
    parser.add_argument("--role-definitions", metavar="FILE", help="`az role definition list` output, for custom roles")


def _read(path: str, what: str) -> Any:
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{what} {path} does not exist")
    if file.stat().st_size > MAX_BYTES:
        raise ValueError(f"{what} {path} is larger than {MAX_BYTES} bytes")
    try:
        return json.loads(file.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"{what} {path} is not JSON ({e}); compile Bicep first: az bicep build --file x.bicep") from e


def _run(args: argparse.Namespace) -> int:
    from shared.reconcile import offer_lint

    try:
        document = _read(args.file, "file")
        parameters = _read(args.parameters, "parameters file").get("parameters") if args.parameters else None
        definitions = _definitions(_read(args.role_definitions, "role definitions")) if args.role_definitions else {}
    except (ValueError, AttributeError) as e:
        print(f"palwatch lint-offer: {e}", file=sys.stderr)
        return cli.EXIT_USAGE
    if not isinstance(document, dict):
        print(f"palwatch lint-offer: {args.file} is not a JSON object", file=sys.stderr)
        return cli.EXIT_USAGE
    offers = offer_lint.offers_in(document, parameters if isinstance(parameters, dict) else None)
    problems = [
        p
        for offer in offers
        for p in offer_lint.lint(
            offer,
            palwatch_principals=args.palwatch_principal,
            acting_principals=args.acting_principal,
            role_definitions=definitions,
        )
    ]
    if not offers:
        problems = [offer_lint.Problem(offer_lint.ERROR, "no_offer", "no Lighthouse registration definition found")]
    errors = [p for p in problems if p.severity == offer_lint.ERROR]
    result = {
        "file": args.file,
        "offers": [o.name for o in offers],
        "ok": not errors,
        "problems": [
            {"severity": p.severity, "code": p.code, "offer": p.offer, "message": p.message} for p in problems
        ],
    }
    cli.emit(args, result, table=lambda: _text(result))
    return cli.EXIT_FAILED if errors else cli.EXIT_OK


def _definitions(raw: Any) -> dict[str, Any]:
    items = raw if isinstance(raw, list) else raw.get("value", []) if isinstance(raw, dict) else []
    out = {}
    for item in items:
        if isinstance(item, dict) and (item.get("name") or item.get("id")):
            out[str(item.get("name") or item.get("id")).rsplit("/", 1)[-1].lower()] = item
    return out


def _text(result: dict[str, Any]) -> str:
    lines = [f"{result['file']}: {len(result['offers'])} offer(s): {', '.join(result['offers']) or '-'}"]
    for p in result["problems"]:
        lines.append(f"  {p['severity'].upper():<8}{p['code']}: {p['message']}")
    lines.append("OK: no errors" if result["ok"] else "FAILED: fix the errors above before publishing the offer")
    return "\n".join(lines) + "\n"


cli.register(
    "lint-offer",
    "check a Lighthouse offer (template, parameters or registration definition) before publishing it",
    _configure,
    _run,
    examples="examples:\n  palwatch lint-offer customer-onboarding/subscription-onboarding.json\n"
    "  palwatch lint-offer offer.json --parameters offer.parameters.json --palwatch-principal <object id> -o json",
)
