"""`palwatch verify`, `palwatch report` and `palwatch findings`: the verification from a laptop or pipeline.

Registered with `shared.cli` on import (imported by `cli._load_commands`). They use the same
engine and store as the function app (so they need `AzureWebJobsStorage` and the PAL_ settings).
`--credential` (shared.cli.credentials) says who plays the app's managed identity from a
laptop: `default`, `cli` or `device-code`; the identities in PAL_IDENTITIES keep their own
credentials.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from shared.cli import base as cli
from shared.cli import credentials as cli_credentials
from shared.cli import output as cli_output

CREDENTIALS = cli_credentials.CREDENTIALS


class ProgressBar:
    """A one-line progress bar on stderr for long runs (only when stderr is a terminal)."""

    def __init__(self, stream: TextIO | None = None, *, width: int = 30, force: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = force or self.stream.isatty()
        self._last = 0.0
        self._shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return  # redraw at most ten times a second
        self._last = now
        filled = int(self.width * done / total) if total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{stage[:40]:<40} [{bar}] {done}/{total}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * (self.width + 60) + "\r")
            self.stream.flush()


def build_engine(credential: str = "managed-identity", *, dry_run: bool = False, write: bool = False) -> Any:
    """The engine as the function app builds it, from the environment's settings.

    `dry_run`: no PAL link is written and the store only reads (`Engine.read_only`). A credential
    that is not the app's own identity (`cli_credentials.acts_as_app`) makes every run a dry run
    unless `write`: a person's token must not stand in for the managed identity by accident.
    """
    from dataclasses import replace

    from shared import settings as settings_module
    from shared.usecases.engine import Engine

    settings = settings_module.load_settings()
    engine = Engine(settings)
    if credential != "managed-identity":
        engine.use_credentials(cli_credentials.credentials_for(credential, engine.settings))
        if not dry_run and not write:
            who = cli_credentials.acts_as_app(engine)
            if who:
                print(f"palwatch: {who}", file=sys.stderr)
                dry_run = True
    if dry_run:
        engine.settings = replace(settings, mode="observe")
        engine.read_only()
    return engine


def add_credential(parser: argparse.ArgumentParser) -> None:
    cli_credentials.add_option(parser)
    parser.add_argument(
        "--write",
        action="store_true",
        help="with a --credential that is not PAL Watch's managed identity: act as the app anyway "
        "(write links, findings and alerts, judging delegations against that identity); without it such a "
        "run is read-only, as --dry-run",
    )


def engine_or_error(args: argparse.Namespace) -> Any:
    from shared import settings as settings_module
    from shared.azure import errors

    try:
        return build_engine(
            getattr(args, "credential", "managed-identity"),
            dry_run=getattr(args, "dry_run", False),
            write=getattr(args, "write", False),
        )
    except settings_module.SettingsError as e:
        print(f"palwatch: {e}", file=sys.stderr)
        return None
    except errors.AzureError as e:
        print(f"palwatch: cannot tell who --credential signs in as: {e}", file=sys.stderr)
        return None


# -- verify ------------------------------------------------------------------------------------


def _configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    cli.add_fail_on(parser, "critical")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="write nothing anywhere (no PAL link, finding, snapshot, coverage, outbox or mail): print what "
        "the run would do. PAL_MODE=observe, the setting, is different: it records and alerts, and only links nothing",
    )
    add_credential(parser)


def _run_verify(args: argparse.Namespace) -> int:
    from shared import reports
    from shared.azure import errors
    from shared.store import errors as store_errors
    from shared.usecases import coverage_view, verify

    engine = engine_or_error(args)
    if engine is None:
        return cli.EXIT_FAILED
    bar = ProgressBar() if not args.no_progress else None
    try:
        outcome = verify.run_verify(engine, datetime.now(UTC), progress=bar)
        coverage = coverage_view.current(engine)
        open_findings = engine.store.list_findings()
    except errors.AzureError as e:
        print(f"palwatch verify failed: {e}", file=sys.stderr)
        return cli.EXIT_FAILED
    except store_errors.StoreError as e:
        print(f"palwatch verify failed: {cli.store_problem(e)}", file=sys.stderr)
        return cli.EXIT_FAILED
    finally:
        if bar:
            bar.close()
        engine.close()

    def table() -> str:
        text = f"Verification {outcome}"
        if outcome.status != "skipped":
            text += _would(engine.store)
            text += "\n\n" + reports.coverage_table(coverage, width=_terminal_width())
        return text

    cli.emit(args, outcome.to_json(), table=table)
    if outcome.status == "skipped":
        return cli.EXIT_SKIPPED
    if outcome.status not in ("ok", "partial"):
        return cli.EXIT_FAILED
    return cli.findings_exit((r.finding.severity.value for r in open_findings), args.fail_on)


def _would(store: Any) -> str:
    """What a dry run would have done, finding by finding (empty for a real run)."""
    if not getattr(store, "read_only", False):
        return ""
    lines = ["", "", "Dry run: nothing was written. It would:"]
    lines += [f"  open     {r.finding.severity.value:<8} {r.finding.title}" for r in store.would_open]
    lines += [f"  resolve  {r.finding.severity.value:<8} {r.finding.title}" for r in store.would_resolve]
    if len(lines) == 3:
        lines.append("  change no finding")
    return "\n".join(lines)


# -- report ------------------------------------------------------------------------------------


def _configure_report(parser: argparse.ArgumentParser) -> None:
    # -o html is the page; --format is the older spelling of -o, kept for scripts.
    parser.add_argument("--format", choices=cli_output.FORMATS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--problems", action="store_true", help="only the scopes that need attention (at risk, not attributed, unread)"
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument(
        "--customer",
        metavar="NAME_OR_TENANT_ID",
        help="only this customer's delegations: its tenant id, its name or the start of it (any case); "
        "with -o html, a printable statement for that customer",
    )
    cli.add_fail_on(parser, "none")
    add_credential(parser)


def _run_report(args: argparse.Namespace) -> int:
    from shared import reports
    from shared.usecases import coverage_view

    engine = engine_or_error(args)
    if engine is None:
        return cli.EXIT_FAILED
    from shared.reports import money as money_report

    fmt = args.format or args.output
    try:
        coverage = coverage_view.current(engine)
        context = coverage_view.context(engine) if fmt == "html" else None
        costs = engine.store.costs.all()
        open_findings = engine.store.list_findings() if args.fail_on != "none" else []
    finally:
        engine.close()
    customer = ""
    if args.customer and coverage is not None:
        customer, candidates = coverage_view.match_customer(coverage, args.customer)
        if not customer:
            _no_customer(args.customer, candidates, coverage_view.customer_names(coverage))
            return cli.EXIT_FAILED
        coverage = coverage_view.for_customer(coverage, customer)
    if args.problems and coverage is not None:
        coverage = coverage_view.needing_attention(coverage)
    if fmt == "html":
        money = money_report.money_html(coverage, costs)
        _write(reports.coverage_html(coverage, context=context, customer=customer, money=money), args.out)
    elif fmt == "csv":
        _write(reports.coverage_csv(coverage, costs), args.out)
    else:
        args.output = fmt
        document = {**reports.coverage_json(coverage), "money": money_report.money_json(coverage, costs)}
        if fmt == "tsv" and not args.query:
            document = document.get("delegations") or []  # one line per delegation, as the table has

        def table(width: int | None) -> str:
            lines = money_report.money_lines(coverage, costs)
            return "\n".join([*lines, ""] if lines else []) + reports.coverage_table(coverage, width=width)

        if args.out:
            _write(
                cli_output.render(
                    cli_output.apply_query(document, args.query),
                    fmt,
                    table=None if args.query else lambda: table(None),
                ),
                args.out,
            )
        else:
            cli.emit(args, document, table=lambda: table(_terminal_width()))
    return cli.findings_exit((r.finding.severity.value for r in open_findings), args.fail_on)


def _no_customer(wanted: str, candidates: tuple[str, ...], known: tuple[str, ...]) -> None:
    if candidates:
        print(
            f"palwatch report: {wanted!r} matches {len(candidates)} customers: {', '.join(candidates)}; "
            "give more of the name, or the tenant id",
            file=sys.stderr,
        )
        return
    print(
        f"palwatch report: no customer matches {wanted!r} (a tenant id, a name or the start of one). "
        f"Customers: {', '.join(known) if known else 'none yet'}",
        file=sys.stderr,
    )


# -- findings ----------------------------------------------------------------------------------


def _configure_findings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true", help="include resolved findings")
    cli.add_fail_on(parser, "none")
    add_credential(parser)


def _run_findings(args: argparse.Namespace) -> int:
    from shared import reports

    engine = engine_or_error(args)
    if engine is None:
        return cli.EXIT_FAILED
    from shared.usecases import at_stake, exemptions

    try:
        recorded = engine.store.list_findings(include_resolved=args.all)
        accepted = exemptions.in_force(engine).accepted(recorded, datetime.now(UTC))
        # Most severe first, and within a severity the most revenue at stake first.
        revenue = at_stake.revenue_at_stake(recorded, engine.store.costs.all())
        never_verified = not recorded and engine.store.get_coverage() is None
    finally:
        engine.close()
    if never_verified:
        # Nothing was checked yet: "no findings" would read as "all is well".
        from shared.reports import coverage as coverage_report

        if args.output != "table" or args.query:
            print(f"palwatch findings: {coverage_report.EMPTY_NEVER_RUN}", file=sys.stderr)
        cli.emit(args, [], table=lambda: coverage_report.EMPTY_NEVER_RUN)
        return cli.EXIT_OK
    cli.emit(
        args,
        reports.findings_json(recorded, accepted, revenue=revenue),
        table=lambda: reports.findings_table(recorded, width=_terminal_width(), accepted=accepted, revenue=revenue),
    )
    # Accepted findings do not fail a pipeline: someone chose to live with them until a date.
    blocking = (r.finding.severity.value for r in recorded if r.open and r.finding.key not in accepted)
    return cli.findings_exit(blocking, args.fail_on)


def _write(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _terminal_width() -> int | None:
    """The terminal's width, or COLUMNS when set (as `COLUMNS=120 palwatch report | less`); None: uncut."""
    import os
    import shutil

    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    return shutil.get_terminal_size((120, 24)).columns if sys.stdout.isatty() else None


cli.register(
    "verify",
    "re-check the whole estate now, repair drift, store coverage",
    _configure_verify,
    _run_verify,
    examples="examples:\n  palwatch verify\n  palwatch verify -o json --fail-on warning\n"
    "  palwatch verify --credential cli   # from a laptop after az login: read-only unless --write\n"
    "  palwatch verify --dry-run        # what a run would do; writes nothing anywhere",
)
cli.register(
    "report",
    "the latest coverage: table, JSON, CSV or a self-contained HTML page",
    _configure_report,
    _run_report,
    examples="examples:\n  palwatch report\n  palwatch report -o csv --out coverage.csv\n"
    "  palwatch report --format html --out coverage.html",
)
cli.register(
    "findings",
    "open findings (--all: with resolved ones)",
    _configure_findings,
    _run_findings,
    examples="examples:\n  palwatch findings\n  palwatch findings --query \"[?severity=='critical'].title\" -o tsv\n"
    "  palwatch findings --fail-on critical -o none",
)
