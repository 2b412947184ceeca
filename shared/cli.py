"""The `palwatch` operator CLI (also `python -m shared`).

Subcommands are registered, not hard-wired: `register(name, help, configure, run)` adds one
(`configure(parser)` declares its options, `run(args) -> int` is its exit code), so `verify`,
`report`, `findings` and `link-me` plug in from their own modules (see `_load_plugins`).
`doctor` is defined here. Exit codes: 0 fine, 1 something required failed, 2 usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: dict[str, Command] = {}

# Modules that call `register` on import (the lead adds e.g. "shared.cli_verify").
# A missing one is skipped so the CLI keeps working while commands are being built.
PLUGIN_MODULES: list[str] = ["shared.cli_link_me", "shared.cli_verify"]


def register(
    name: str,
    help: str,
    configure: Callable[[argparse.ArgumentParser], None],
    run: Callable[[argparse.Namespace], int],
) -> Command:
    """Add (or replace) a subcommand."""
    command = Command(name, help, configure, run)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="palwatch",
        description="PAL Watch: keeps Partner Admin Link attribution intact across Azure Lighthouse customers.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for entry in sorted(COMMANDS.values(), key=lambda c: c.name):
        sub = subparsers.add_parser(entry.name, help=entry.help, description=entry.help)
        entry.configure(sub)
        sub.set_defaults(_run=entry.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _load_plugins()
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print("palwatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`palwatch verify | head -1`): stop quietly, as Unix tools do.
        _silence_stdout()
        return 0
    except Exception as e:  # the last line of defence: a user never sees a traceback unless asked
        from shared import settings as settings_module

        if isinstance(e, settings_module.SettingsError):
            print(f"palwatch: {e}", file=sys.stderr)
            return 1
        log.debug("unexpected failure", exc_info=True)
        print(
            f"palwatch: {type(e).__name__}: {e}" + ("" if args.verbose else " (run with -vv for details)"),
            file=sys.stderr,
        )
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _load_plugins() -> None:
    for module in PLUGIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            log.debug("CLI plugin %s not present", module)


# -- doctor ------------------------------------------------------------------------------------


def _configure_doctor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument("--show-settings", action="store_true", help="also list every setting (secrets redacted)")
    parser.add_argument(
        "--send-test-mail", action="store_true", help="send a test alert mail to PAL_ALERT_MAIL_TO to prove Mail.Send"
    )


def _run_doctor(args: argparse.Namespace) -> int:
    from shared import doctor

    report = doctor.run_doctor(send_test_mail=args.send_test_mail)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.render(show_settings=args.show_settings))
    return 0 if report.ok else 1


register(
    "doctor",
    "check settings, tokens and every permission PAL Watch needs, with the fix for what is missing",
    _configure_doctor,
    _run_doctor,
)
