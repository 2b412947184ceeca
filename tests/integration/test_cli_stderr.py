"""Below `-v`, stderr carries PAL Watch's own sentences only, and a store that cannot be reached is
named with its endpoint and setting: through `cli.main`, over the emulator and Azurite."""

from __future__ import annotations

import logging

from shared import cli, telemetry
from shared.cli import app as cli_app
from tests.support.services import free_port


def test_a_store_out_of_reach_is_named_by_endpoint_and_setting(emulator, palwatch, monkeypatch, capsys):
    port = free_port()
    monkeypatch.setenv(
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
        f"TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;",
    )
    for command in (["findings"], ["report"], ["verify"]):
        assert cli.main(command) == cli.EXIT_FAILED, command
        err = capsys.readouterr().err
        assert f"http://127.0.0.1:{port}/devstoreaccount1" in err, err
        assert "AzureWebJobsStorage" in err
        assert "StoreError" not in err
        assert "ServiceRequestError" not in err


def test_telemetry_records_stay_off_stderr_unless_verbose(capsys):
    cli_app._configure_logging(_args(verbose=0))
    telemetry.emit(telemetry.OUTBOX_DEAD_LETTER, {"channel": "mail"}, level=logging.WARNING)
    logging.getLogger("azure.identity._internal").warning("ClientSecretCredential.get_token failed: raw")
    assert capsys.readouterr().err == ""

    cli_app._configure_logging(_args(verbose=1))
    telemetry.emit(telemetry.OUTBOX_DEAD_LETTER, {"channel": "mail"}, level=logging.WARNING)
    assert "PalWatch.OutboxDeadLetter" in capsys.readouterr().err


def _args(verbose: int):
    import argparse

    return argparse.Namespace(verbose=verbose, debug=False)
