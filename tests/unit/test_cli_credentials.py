"""`--credential` on every command: who plays the app's managed identity from a laptop."""

from __future__ import annotations

import pytest

from shared import cli
from shared import settings as settings_module
from shared.cli import app as cli_app
from shared.cli import credentials as cli_credentials

TENANT = "24c37422-30bf-4299-b2f0-a128b77a3378"


def _parser():
    cli_app._load_commands()
    return cli.build_parser()


@pytest.mark.parametrize(
    "argv",
    [
        ["doctor"],
        ["verify"],
        ["report"],
        ["findings"],
        ["attest", "add", "00000000-0000-0000-0000-000000000001"],
        ["attest", "list"],
    ],
    ids=lambda a: "-".join(a[:2]),
)
@pytest.mark.parametrize("kind", cli_credentials.CREDENTIALS)
def test_every_command_takes_credential(argv: list[str], kind: str) -> None:
    args = _parser().parse_args([*argv, "--credential", kind])
    assert args.credential == kind
    assert _parser().parse_args(argv).credential == "managed-identity"


def test_link_me_signs_in_as_the_person_with_its_own_choices() -> None:
    assert _parser().parse_args(["link-me", "--credential", "device-code"]).credential == "device-code"
    with pytest.raises(SystemExit):
        _parser().parse_args(["link-me", "--credential", "managed-identity"])  # a person, never the app


def test_a_signed_in_credential_plays_the_managed_identity() -> None:
    from azure.identity import AzureCliCredential, DeviceCodeCredential

    settings = settings_module.load_settings({"PAL_PARTNER_ID": "5127255", "PAL_MANAGING_TENANT_ID": TENANT})
    cli_creds = cli_credentials.credentials_for("cli", settings)
    assert isinstance(cli_creds.managed_identity(), AzureCliCredential)
    assert isinstance(cli_credentials.credentials_for("device-code", settings).managed_identity(), DeviceCodeCredential)
    plain = cli_credentials.credentials_for("managed-identity", settings)
    assert type(plain) is not cli_credentials.SignedInCredentials
    with pytest.raises(ValueError, match="unknown credential"):
        cli_credentials.signed_in_credential("vscode", settings)
