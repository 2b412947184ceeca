"""The `palwatch` operator CLI, with Azure CLI manners: `main` is the console script's entry.

`base` holds what every command shares (registry, options, exit codes, `emit`), `app` runs the
line, and each command lives in a module of its own (`verify` with report and findings, `doctor`,
`evidence`, `exempt`, `link_me`, `lint_offer`), reading and printing through `credentials` and
`output`.
"""

from shared.cli.app import main
from shared.cli.base import (
    COMMANDS,
    EXIT_FAILED,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SKIPPED,
    EXIT_USAGE,
    Command,
    build_parser,
    emit,
)

__all__ = [
    "COMMANDS",
    "EXIT_FAILED",
    "EXIT_FINDINGS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_SKIPPED",
    "EXIT_USAGE",
    "Command",
    "build_parser",
    "emit",
    "main",
]
