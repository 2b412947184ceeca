"""The `palwatch` operator CLI (also `python -m shared`), with Azure CLI manners.

Subcommands register themselves: `register(name, help, configure, run)` adds one
(`configure(parser)` declares its options, `run(args) -> int` is its exit code); `verify`,
`report`, `findings`, `link-me` and `attest` live in their own modules, `doctor` here. Every
command takes `-o/--output`, `--query`, `-v` and `--debug` anywhere on the line and prints
through `emit`; the exit codes below are documented in README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from shared import cli_output

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    examples: str = ""


COMMANDS: dict[str, Command] = {}


def register(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
    examples: str = "",
) -> Command:
    """Add (or replace) a subcommand; `examples` ends its --help."""
    command = Command(name, help, configure, run, examples)
    COMMANDS[name] = command
    return command


def command(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None] | None = None,
) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    """Decorator form of `register`."""

    def decorate(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        register(name, help, configure or (lambda _parser: None), run)
        return run

    return decorate


# Exit codes, for pipelines (documented in README.md).
EXIT_OK = 0
EXIT_FAILED = 1  # the command could not do its job: settings, an unreachable dependency, a refusal
EXIT_USAGE = 2
EXIT_FINDINGS = 3  # done, and findings at or above --fail-on are open
EXIT_SKIPPED = 4  # verification skipped: another one holds the lease
EXIT_INTERRUPTED = 130

FAIL_ON = ("critical", "warning", "none")


class _Parser(argparse.ArgumentParser):
    """argparse with Azure CLI manners: no prefix abbreviations, "did you mean" on a mistyped command."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        import difflib
        import re

        match = re.search(r"invalid choice: '([^']*)'", message)
        if match:
            close = difflib.get_close_matches(match.group(1), sorted(COMMANDS), n=1)
            if close:
                message += f"\ndid you mean '{close[0]}'?"
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def common_options() -> argparse.ArgumentParser:
    """Options every command takes anywhere on the line (defaults filled in after parsing)."""
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    hidden = argparse.SUPPRESS
    common.add_argument("-v", "--verbose", action="count", default=hidden, help="more logging (-vv: debug)")
    common.add_argument("--debug", action="store_true", default=hidden, help="debug logging, tracebacks included")
    common.add_argument(
        "-o", "--output", choices=cli_output.FORMATS, default=hidden, help="output format (default: table)"
    )
    common.add_argument("--json", action="store_true", default=hidden, help="same as --output json")
    common.add_argument("--query", metavar="JMESPATH", default=hidden, help="JMESPath query over the output, as in az")
    return common


def _fill_common(args: argparse.Namespace) -> None:
    args.verbose = getattr(args, "verbose", 0)
    args.debug = getattr(args, "debug", False)
    args.output = "json" if getattr(args, "json", False) else getattr(args, "output", "table")
    args.json = args.output == "json"
    args.query = getattr(args, "query", None)


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = _Parser(
        prog="palwatch",
        description="PAL Watch: keeps Partner Admin Link attribution intact across Azure Lighthouse customers.",
        epilog=EPILOG,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"palwatch {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for entry in sorted(COMMANDS.values(), key=lambda c: c.name):
        sub = subparsers.add_parser(
            entry.name, help=entry.help, description=entry.help, epilog=entry.examples, parents=[common]
        )
        entry.configure(sub)
        sub.set_defaults(_run=entry.run)
    return parser


EPILOG = """exit codes: 0 done; 1 failed (settings, unreachable dependency, refusal); 2 usage;
  3 findings at or above --fail-on are open; 4 verification skipped (another one is running); 130 interrupted

examples:
  palwatch doctor
  palwatch verify --fail-on warning -o none
  palwatch findings --query "[?severity=='critical'].tenantName" -o tsv
"""


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("palwatch")
    except metadata.PackageNotFoundError:
        return "unknown"


def emit(args: argparse.Namespace, value: Any, *, table: Callable[[], str] | None = None, empty: str = "") -> None:
    """Print a command's result in the format asked for (`-o`, `--query`); `empty` is what the table
    says when there is nothing to list."""
    shaped = cli_output.apply_query(value, args.query)
    if empty and shaped in ([], None) and args.output == "table":
        sys.stdout.write(empty.rstrip("\n") + "\n")
        return
    text = cli_output.render(shaped, args.output, table=None if args.query else table, color=cli_output.is_terminal())
    sys.stdout.write(text)


def add_fail_on(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default=default,
        help=f"exit {EXIT_FINDINGS} when findings of this severity or worse are open (default: {default})",
    )


def findings_exit(severities: Iterable[str], fail_on: str) -> int:
    """EXIT_FINDINGS when an open finding is at or above `fail_on`, else EXIT_OK."""
    if fail_on == "none":
        return EXIT_OK
    blocking = {"critical"} if fail_on == "critical" else {"critical", "warning"}
    return EXIT_FINDINGS if any(s in blocking for s in severities) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    _load_commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    _fill_common(args)
    _configure_logging(args)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return EXIT_USAGE
    return _run_command(run, args)


def _run_command(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print("palwatch: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`palwatch verify | head -1`): stop quietly, as Unix tools do.
        _silence_stdout()
        return EXIT_OK
    except cli_output.QueryError as e:
        print(f"palwatch: {e}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as e:  # the last line of defence: a user never sees a traceback unless asked
        from shared import settings as settings_module
        from shared.store import errors as store_errors

        if isinstance(e, settings_module.SettingsError | store_errors.StoreError):
            said = store_problem(e) if isinstance(e, store_errors.StoreError) else str(e)
            print(f"palwatch: {said}", file=sys.stderr)
            return EXIT_FAILED
        log.debug("unexpected failure", exc_info=True)
        hint = "" if args.debug else " (run with --debug for details)"
        print(f"palwatch: {type(e).__name__}: {e}{hint}", file=sys.stderr)
        return EXIT_FAILED


def store_problem(error: Exception) -> str:
    """A store failure in an operator's words: which endpoint, which setting, what to check."""
    import re

    from shared import settings as settings_module
    from shared.store import errors as store_errors

    try:
        storage = settings_module.load_settings().storage
        found = re.search(r"TableEndpoint=([^;]+)", storage.connection_string) or re.search(
            r"AccountName=([^;]+)", storage.connection_string
        )
        endpoint = storage.endpoint or (found.group(1) if found else "") or "(not set)"
    except settings_module.SettingsError:
        endpoint = "(unreadable settings)"
    what = re.sub(r" \(\w+(Error|Exception)\)", "", str(error))
    if isinstance(error, store_errors.TransientStoreError):
        return (
            f"the state tables at {endpoint} cannot be reached ({what}). Check AzureWebJobsStorage, that the "
            "storage account (or Azurite) is up, and the network; then run the command again"
        )
    return f"the state tables at {endpoint} refused the request ({what}). Check AzureWebJobsStorage and your access"


class _OursOnly(logging.Filter):
    """Below -v, stderr carries PAL Watch's own messages: no SDK warnings, no telemetry records
    (JSON meant for Azure Monitor)."""

    def __init__(self, verbose: int) -> None:
        super().__init__()
        self.verbose = verbose

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "palwatch.telemetry":
            return self.verbose > 0
        return record.name.startswith(("shared", "palwatch")) or record.levelno >= logging.ERROR


def _configure_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug or args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    if not args.debug:
        handler.addFilter(_OursOnly(args.verbose))
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_palwatch", False):
            root.removeHandler(existing)
    handler._palwatch = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _load_commands() -> None:
    """The commands kept in their own modules register themselves when imported."""
    from shared import cli_evidence, cli_exempt, cli_link_me, cli_lint_offer, cli_verify  # noqa: F401


# -- doctor ------------------------------------------------------------------------------------


def _configure_doctor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--show-settings", action="store_true", help="also list every setting (secrets redacted)")
    parser.add_argument(
        "--send-test-mail", action="store_true", help="send a test alert mail to PAL_ALERT_MAIL_TO to prove Mail.Send"
    )
    parser.add_argument(
        "--send-test-alert",
        action="store_true",
        help="deliver one test notice on every configured alert channel (mail, SMTP, webhook, Event Grid)",
    )
    from shared import cli_credentials

    cli_credentials.add_option(parser)


def _run_doctor(args: argparse.Namespace) -> int:
    from shared import cli_credentials, doctor

    kind = getattr(args, "credential", "managed-identity")
    factory = None
    if kind != "managed-identity":

        def factory(settings):  # type: ignore[no-untyped-def]
            return cli_credentials.credentials_for(kind, settings, retry_total=1, retry_backoff_factor=0.2)

    report = doctor.run_doctor(
        send_test_mail=args.send_test_mail,
        send_test_alert=getattr(args, "send_test_alert", False),
        credentials_factory=factory,
    )
    emit(args, report.to_json(), table=lambda: report.render(show_settings=args.show_settings))
    return EXIT_OK if report.ok else EXIT_FAILED


register(
    "doctor",
    "check settings, tokens and every permission PAL Watch needs, with the fix for what is missing",
    _configure_doctor,
    _run_doctor,
    examples="examples:\n  palwatch doctor\n  palwatch doctor -o json --query \"checks[?status!='OK']\"",
)
