"""`palwatch watch`: one tick of the watch timer from the CLI, so an operator (or the sandbox) sees
what the activity log announces, delegations PAL Watch cannot read included, without waiting.

Registered with `shared.cli.base` on import (imported by `app._load_commands`); the work is the
timer's own (`shared.usecases.watch.run_watch`), on the engine `verify` builds, with the same
`--credential`, `--write` and `--dry-run` rules.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from shared.cli import base as cli
from shared.cli import verify as cli_verify


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only the activity-log step, writing nothing anywhere (no PAL link, finding, snapshot, outbox or mail)",
    )
    cli_verify.add_credential(parser)


def _run(args: argparse.Namespace) -> int:
    from shared.store import errors as store_errors
    from shared.usecases import delegations, outcomes, watch

    engine = cli_verify.engine_or_error(args)
    if engine is None:
        return cli.EXIT_FAILED
    now = datetime.now(UTC)
    try:
        if getattr(engine.store, "read_only", False):  # a dry run: what the log announces, no alert step
            steps = outcomes.Steps()
            steps.run("activity-log", lambda: delegations.watch_delegations(engine, now))
        else:
            steps = watch.run_watch(engine, now)
    except RuntimeError as e:  # every step failed: the timer raises so the host logs a failed run
        print(f"palwatch watch failed: {e}", file=sys.stderr)
        return cli.EXIT_FAILED
    except store_errors.StoreError as e:
        print(f"palwatch watch failed: {cli.store_problem(e)}", file=sys.stderr)
        return cli.EXIT_FAILED
    finally:
        engine.close()
    document = {"steps": dict(steps.steps), "failed": list(steps.failed)}
    cli.emit(args, document, table=lambda: "\n".join(f"{name:<20} {text}" for name, text in steps.steps.items()))
    return cli.EXIT_FAILED if steps.failed else cli.EXIT_OK


cli.register(
    "watch",
    "run one watch tick now: the activity log (new, removed and unreadable delegations), identities, links, alerts",
    _configure,
    _run,
    examples="examples:\n  palwatch watch\n  palwatch watch -o json\n  palwatch watch --dry-run",
)
