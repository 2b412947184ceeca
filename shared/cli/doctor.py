"""`palwatch doctor`: settings, tokens and every permission PAL Watch needs, with the fix for each.

Registered with `shared.cli.base` on import (imported by `app._load_commands`); the checks are
`shared.doctor`'s.
"""

from __future__ import annotations

import argparse

from shared.cli import base as cli
from shared.cli import credentials as cli_credentials


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
    cli_credentials.add_option(parser)


def _run_doctor(args: argparse.Namespace) -> int:
    from shared import doctor

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
    cli.emit(args, report.to_json(), table=lambda: report.render(show_settings=args.show_settings))
    return cli.EXIT_OK if report.ok else cli.EXIT_FAILED


cli.register(
    "doctor",
    "check settings, tokens and every permission PAL Watch needs, with the fix for what is missing",
    _configure_doctor,
    _run_doctor,
    examples="examples:\n  palwatch doctor\n  palwatch doctor -o json --query \"checks[?status!='OK']\"",
)
