"""`palwatch verify --dry-run` writes nothing anywhere, and a CLI signed in as someone other than the
app's managed identity runs that way unless `--write`: through `cli.main`, over the emulator,
Azurite and the mail channels."""

from __future__ import annotations

import json

from shared import cli
from shared.cli import credentials as cli_credentials
from tests.support import demo, engines
from tests.support.mail import OPS_INBOX, SENDER, mailbox
from tests.support.world import pal_writes


def _nothing_written(emulator, tmp_path) -> None:
    engine = engines.current()
    assert pal_writes(emulator) == []
    assert engine.store.list_findings(include_resolved=True) == []
    assert engine.store.list_delegations() == []
    assert engine.store.get_coverage() is None
    assert engine.store.outbox().list_entries() == []
    assert mailbox(emulator) == []
    assert list(tmp_path.iterdir()) == []


class _Person:
    """`az login` as a person of the managing tenant: the emulator mints their token for each scope."""

    def __init__(self, emulator, object_id: str) -> None:
        self.emulator, self.object_id = emulator, object_id

    def get_token(self, *scopes: str, **_options):
        from azure.core.credentials import AccessToken

        body = {"objectId": self.object_id, "tenantId": demo.MANAGING, "audience": scopes[0]}
        answer = self.emulator.control("POST", "/tokens", body)
        return AccessToken(answer["access_token"], int(answer["expires_on"]))


def _mail(monkeypatch, tmp_path, emulator) -> None:
    emulator.control("DELETE", "/mailbox")
    emulator.control("DELETE", "/journal")
    engines.rebuilt(
        monkeypatch, PAL_ALERT_MAIL_FROM=SENDER, PAL_ALERT_MAIL_TO=OPS_INBOX, PAL_ALERT_OUTBOX_DIR=str(tmp_path)
    )


def test_a_dry_run_writes_no_link_finding_snapshot_coverage_outbox_or_mail_and_says_what_it_would_do(
    emulator, palwatch, monkeypatch, capsys, tmp_path
):
    emulator.control("DELETE", f"/links/{demo.MANAGING}/{demo.MI.object_id}")
    _mail(monkeypatch, tmp_path, emulator)

    assert cli.main(["verify", "--dry-run"]) == 0
    out = capsys.readouterr().out

    _nothing_written(emulator, tmp_path)
    assert "Dry run: nothing was written. It would:" in out
    assert "open     warning" in out
    assert "would open" in out
    assert "PAL_MODE is observe" not in out
    assert "PAL_MODE=observe" not in out

    # The next real run finds nothing resolved: the dry run opened nothing.
    assert cli.main(["verify", "--json"]) == 0
    outcome = json.loads(capsys.readouterr().out)
    assert outcome["mode"] == "repair"
    assert outcome["findingsOpened"] > 0
    assert outcome["findingsResolved"] == 0
    assert pal_writes(emulator)


def test_another_identity_signed_in_runs_read_only_unless_write(emulator, palwatch, monkeypatch, capsys, tmp_path):
    """A pipeline's service principal holding the same grants as the app, but not the app."""
    scenario = demo.scenario_copy()
    demo.principal_in(scenario, demo.OPS)["graphAppRoles"] = ["User.Read.All", "Group.Read.All", "Application.Read.All"]
    emulator.reset(scenario)
    _mail(monkeypatch, tmp_path, emulator)
    monkeypatch.setattr(cli_credentials, "signed_in_credential", lambda *_: _Person(emulator, demo.OPS.object_id))

    assert cli.main(["verify", "--credential", "cli", "-o", "none"]) in (0, 3)
    err = capsys.readouterr().err
    assert f"signed in as {demo.OPS.object_id}" in err
    assert "read-only run" in err
    assert "--write" in err
    _nothing_written(emulator, tmp_path)

    assert cli.main(["verify", "--credential", "cli", "--write", "-o", "none"]) in (0, 3)
    assert "read-only" not in capsys.readouterr().err
    assert engines.current().store.get_coverage() is not None


def test_the_apps_own_identity_signed_in_writes_as_before(emulator, palwatch, capsys):
    """`--credential default` where DefaultAzureCredential finds the managed identity (AZURE_CLIENT_ID)."""
    assert cli.main(["verify", "--credential", "default", "-o", "none"]) == 0
    assert "read-only" not in capsys.readouterr().err
    assert engines.current().store.get_coverage() is not None
