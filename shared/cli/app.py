"""`palwatch` (also `python -m shared`): parse the line, load the commands, run one, never a traceback.

Called by the console script and `shared.__main__`. The commands live in their own modules and
register with `shared.cli.base` when `_load_commands` imports them.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence

from shared.cli import output as cli_output
from shared.cli.base import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    build_parser,
    fill_common,
    store_problem,
)

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    _load_commands()
    parser = build_parser()
    args = parser.parse_args(argv)
    fill_common(args)
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
    from shared.cli import doctor, evidence, exempt, link_me, lint_offer, verify, watch  # noqa: F401
