"""What every `palwatch` command shares: the registry, the common options, the exit codes, `emit`.

Subcommands register themselves on import: `register(name, help, configure, run)` adds one
(`configure(parser)` declares its options, `run(args) -> int` is its exit code). Every command
takes `-o/--output`, `--query`, `-v` and `--debug` anywhere on the line and prints through
`emit`; the exit codes below are documented in README.md. Command modules import this one and
never `shared.cli.app`, so the CLI has no import circle.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn

from shared.cli import output as cli_output

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


def fill_common(args: argparse.Namespace) -> None:
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
