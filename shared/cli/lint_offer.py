"""`palwatch lint-offer FILE|DIRECTORY`: check a Lighthouse offer before it is published or deployed.

Registered with `shared.cli` on import. Reads a JSON file (an ARM or Bicep-compiled template, a
parameters file, or a registration definition as ARM returns it), optionally the parameters file
the template is deployed with and role definitions (`az role definition list` output), and prints
what `shared.decisions.offer_lint` finds. Given a directory, it lints each of its *.json files that
holds an offer, on its own, and names the files it skipped as not an offer. Offline: it never
calls Azure. Exit 0 when there is no error (warnings are printed), 1 when there is one or no offer
was found, 2 when the input cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.cli import base as cli

MAX_BYTES = 5_000_000  # a template is small; refuse to read a huge file whole


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        help="template, parameters file or registration definition (JSON), or a directory of them (its *.json)",
    )
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
    try:
        directory = Path(args.file).is_dir()
        if directory and args.parameters:
            raise ValueError("--parameters goes with one template, not a directory (each file is linted on its own)")
        parameters = _read(args.parameters, "parameters file").get("parameters") if args.parameters else None
        definitions = _definitions(_read(args.role_definitions, "role definitions")) if args.role_definitions else {}
        document = None if directory else _read(args.file, "file")
    except (ValueError, AttributeError, OSError) as e:
        print(f"palwatch lint-offer: {e}", file=sys.stderr)
        return cli.EXIT_USAGE
    if directory:
        return _run_directory(args, Path(args.file), definitions)
    if not isinstance(document, dict):
        print(f"palwatch lint-offer: {args.file} is not a JSON object", file=sys.stderr)
        return cli.EXIT_USAGE
    result = _lint_file(args, args.file, document, parameters if isinstance(parameters, dict) else None, definitions)
    if not result["offers"]:
        result["problems"].append(_no_offer())
        result["ok"] = False
    cli.emit(args, result, table=lambda: _text(result) + _verdict(result["ok"]))
    return cli.EXIT_OK if result["ok"] else cli.EXIT_FAILED


_NO_OFFER_MESSAGE = "no Lighthouse registration definition found"
_NOT_AN_OFFER = "not an offer (no Lighthouse registration definition, no offer parameter such as authorizations)"


def _run_directory(args: argparse.Namespace, directory: Path, definitions: dict[str, Any]) -> int:
    """Each *.json of `directory` that holds an offer, linted on its own; the others named as skipped."""
    from shared.decisions import offer_lint

    linted: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for path in sorted(directory.glob("*.json")):
        try:
            document = _read(str(path), "file")
        except ValueError as e:
            skipped.append({"file": str(path), "reason": str(e)})
            continue
        if not isinstance(document, dict) or not offer_lint.offers_in(document):
            skipped.append({"file": str(path), "reason": _NOT_AN_OFFER})
            continue
        linted.append(_lint_file(args, str(path), document, None, definitions))
    problems = [] if linted else [_no_offer(f"no offer in {directory}/*.json: {_NO_OFFER_MESSAGE}")]
    result = {
        "directory": str(directory),
        "ok": bool(linted) and all(r["ok"] for r in linted),
        "files": linted,
        "skipped": skipped,
        "problems": problems,
    }
    cli.emit(args, result, table=lambda: _directory_text(result))
    return cli.EXIT_OK if result["ok"] else cli.EXIT_FAILED


def _lint_file(
    args: argparse.Namespace,
    name: str,
    document: dict[str, Any],
    parameters: dict[str, Any] | None,
    definitions: dict[str, Any],
) -> dict[str, Any]:
    from shared.decisions import offer_lint

    offers = offer_lint.offers_in(document, parameters)
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
    return {
        "file": name,
        "offers": [o.name for o in offers],
        "ok": not any(p.severity == offer_lint.ERROR for p in problems),
        "problems": [_as_json(p) for p in problems],
    }


def _no_offer(message: str = _NO_OFFER_MESSAGE) -> dict[str, str]:
    from shared.decisions import offer_lint

    return _as_json(offer_lint.Problem(offer_lint.ERROR, "no_offer", message))


def _as_json(problem: Any) -> dict[str, str]:
    return {"severity": problem.severity, "code": problem.code, "offer": problem.offer, "message": problem.message}


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
    return "\n".join(lines) + "\n"


def _directory_text(result: dict[str, Any]) -> str:
    text = "".join(_text(r) for r in result["files"])
    for skipped in result["skipped"]:
        text += f"skipped {skipped['file']}: {skipped['reason']}\n"
    for p in result["problems"]:
        text += f"{p['severity'].upper()}: {p['code']}: {p['message']}\n"
    return text + _verdict(result["ok"])


def _verdict(ok: bool) -> str:
    return "OK: no errors\n" if ok else "FAILED: fix the errors above before publishing the offer\n"


cli.register(
    "lint-offer",
    "check a Lighthouse offer (template, parameters or registration definition) before publishing it",
    _configure,
    _run,
    examples="examples:\n  palwatch lint-offer customer-onboarding/subscription-onboarding.json\n"
    "  palwatch lint-offer customer-onboarding/\n"
    "  palwatch lint-offer offer.json --parameters offer.parameters.json --palwatch-principal <object id> -o json",
)
