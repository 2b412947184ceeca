"""Alerts to the ops inbox: notices, rendering, channels and the outbox dispatcher.

Use cases turn findings that opened, resolved or stay open into `notices.Notice` values,
write them to the outbox (`shared.store.outbox.Outbox`) and call `dispatch.Dispatcher`,
which sends each pending notice once per configured channel (`mail`, `webhook`,
`eventgrid`), grouped into one message per channel. Modules are imported where used so
that importing this package stays cheap on a cold start.
"""

from __future__ import annotations
