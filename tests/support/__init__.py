"""What the tests share, one copy of each, named by what it knows; test modules and conftest files
import from here and never from each other (an import-linter contract in pyproject.toml):

- `demo`: the demo scenario's actors and tenants as typed handles (`demo.ALICE.object_id`);
  `ids` the same actors as bare object ids for code that passes ids by the dozen.
- `world`: the emulated world as a test changes and reads it (delegations, identities, links, faults).
- `triggers`: the Functions host as tests play it (events decoded and delivered, timers, routes).
- `remembered`: what the engine's store holds (findings, snapshots, attestations).
- `engines`: the engine rebuilt after a setting changes; `clocks`: now, and virtual seconds.
- `mail`: the demo's mailboxes and the mail that was sent.
- `services`: the emulator, Azurite, SMTP and webhook servers the fixtures start.
- `callers`: raw HTTPS calls as one principal; `scripted_http`: a scripted ARM/Graph for unit tests.
- `estate`, `html_pages`: plain data for the pure decisions; an HTML page read as a browser would.
"""
