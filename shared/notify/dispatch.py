"""Sends what the outbox holds: each notice once per channel, batched, retried, dead-lettered.

Called by the use cases after they enqueue notices (and by every timer run, so that failed
sends are retried): `Dispatcher(outbox, channels).dispatch(now)`. One run lists pending
entries, claims those some channel is due to send (etag lease: two dispatchers never both
hold one), sends every pending notice of a channel as one message, and records per channel
`sent`, a failure with its back-off (`next_attempt_at`, `attempts`), `skipped` (a channel
that does not carry that kind, e.g. Event Grid and reminders) or `dead`.

A failure is the channel's unless proven to be the notice's. When the channel as a whole fails
(unreachable, throttled, bad credentials, refused sender or recipients, or it refuses every
message it is offered) its notices stay pending with back-off for as long as it takes, and the
report names the channel `down` (the use case turns that into a `configuration` finding). Only a
notice the channel refuses permanently, alone, while it accepts other messages, is given up
(`dead`) after a few tries; a dead letter is reported on every channel, its own included. No
channel exception escapes: a run fails only when the outbox itself cannot be read.

Delivery is at least once. A dispatcher that dies between a channel's send and `complete` (or a
send whose answer is lost to a timeout) leaves the notice pending; after its claim expires the
next run sends it again, in a message of its own with the notices of that same claim (or of
that same timed-out message, which each delivery remembers as its `batch`), so the
resend carries the same identity (Message-ID, `X-PALWatch-Notice` headers, webhook `id`, Event
Grid event ids) and receivers can drop it.

The outbox is `shared.store.outbox.Outbox`, used through the `OutboxLike` protocol because
store and notify are peer layers that do not import each other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from shared import catalogue, model, words
from shared.notify import channel as channel_
from shared.notify import notices as notices_

log = logging.getLogger(__name__)

# Short names for the delivery states (declared in shared.model, stored by shared.store.outbox).
State = model.DeliveryState
PENDING, SENT, SKIPPED, DEAD = State.PENDING, State.SENT, State.SKIPPED, State.DEAD
_REFUSED = "refused alone: "  # marks a delivery's last error as a refusal of the notice itself


class OutboxLike(Protocol):
    """`shared.store.outbox.Outbox`. Entries have `notice_id`, `payload`, `deliveries` (channel ->
    frozen dataclass with `state`, `attempts`, `next_attempt_at`, `last_error`, `sent_at`),
    `delivery(name)` (a pending default when absent) and `claimed(now)`."""

    def enqueue(self, notices: Iterable[Any], now: datetime) -> int: ...
    def list_pending(self) -> list[Any]: ...
    def claim(self, entry: Any, owner: str, now: datetime, lease: timedelta) -> Any | None: ...
    def complete(self, entry: Any, deliveries: Mapping[str, Any], *, pending: bool) -> Any | None: ...


@dataclass(frozen=True)
class DispatchPolicy:
    # Timers run every few minutes; with back-off capped at an hour, 36 transient failures
    # take about a day and a half: a channel down for hours still delivers everything.
    max_permanent_attempts: int = 3  # refusals of one notice while the channel accepts others
    max_probes: int = 20  # notices tried one by one when a batch is refused, to find the culprit
    base_delay: timedelta = timedelta(minutes=1)
    max_delay: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=10)  # longer than any send's timeouts
    max_batch: int = 500  # notices per message; render lists the ones past the first 25 in short

    def backoff(self, attempts: int) -> timedelta:
        return min(self.max_delay, self.base_delay * (2 ** max(0, attempts - 1)))


@dataclass
class ChannelReport:
    sent: int = 0  # notices delivered this run
    failed: int = 0  # notices whose send failed this run and will be retried
    dead: int = 0  # notices given up this run
    skipped: int = 0  # notices this channel does not carry
    pending: int = 0  # notices still owed on this channel after the run
    messages: int = 0  # messages (or publish calls) that went through
    errors: list[str] = field(default_factory=list)
    down: str = ""  # why the channel as a whole failed this run ("" when it did not)

    @property
    def tried(self) -> bool:
        return bool(self.messages or self.down or self.errors)


@dataclass
class DispatchReport:
    channels: dict[str, ChannelReport] = field(default_factory=dict)
    claimed: int = 0
    contended: int = 0  # entries another dispatcher held or changed first
    lost_claims: int = 0  # leases that expired before the result was recorded
    dead_letters: list[str] = field(default_factory=list)  # notice ids given up this run

    @property
    def sent(self) -> int:
        return sum(c.sent for c in self.channels.values())

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.channels.values())

    @property
    def pending(self) -> int:
        return sum(c.pending for c in self.channels.values())


@dataclass
class _Work:
    entry: Any
    notice: notices_.Notice | None
    deliveries: dict[str, Any]
    # The dispatcher whose claim on this entry expired before it recorded anything: it may have
    # sent it. Such entries are resent with the others of that claim, never with new notices.
    orphan_of: str = ""


class Dispatcher:
    def __init__(
        self,
        outbox: OutboxLike,
        channels: Sequence[channel_.Channel],
        *,
        policy: DispatchPolicy | None = None,
        remind_every: timedelta = timedelta(hours=24),
        owner: str | None = None,
    ) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channel names must be unique: {names}")
        self.outbox = outbox
        self.channels = list(channels)
        self.policy = policy or DispatchPolicy()
        self.remind_every = remind_every
        self.owner = owner or uuid.uuid4().hex

    def enqueue(self, batch: Iterable[notices_.Notice], now: datetime) -> int:
        return self.outbox.enqueue(list(batch), now)

    def remind(self, open_findings: Iterable[model.RecordedFinding], now: datetime) -> int:
        """Enqueue the reminders due now (`notices.due_reminders`); returns how many were new."""
        return self.enqueue(notices_.due_reminders(open_findings, now, self.remind_every), now)

    def dispatch(self, now: datetime) -> DispatchReport:
        now = words.utc(now)
        report = DispatchReport(channels={c.name: ChannelReport() for c in self.channels})
        if not self.channels:
            log.info("alerts: no channel configured; notices stay in the outbox")
            return report
        dead = self._run(now, report)
        if dead:  # say so on the channels that still work, in the same run
            self._run(now, report)
        return report

    # -- one pass ------------------------------------------------------------------------------

    def _state(self, work: _Work, ch: channel_.Channel) -> str:
        """What `ch` owes this entry now: terminal state, or pending."""
        notice = work.notice
        if notice is not None and (ch.name in notice.exclude_channels or not ch.accepts(notice)):
            current = work.deliveries.get(ch.name)
            if current is None or current.state == PENDING:
                return SKIPPED
        return work.entry.delivery(ch.name).state

    def _final(self, work: _Work, ch: channel_.Channel) -> str:
        recorded = work.deliveries.get(ch.name)
        return self._state(work, ch) if recorded is None or recorded.state == PENDING else recorded.state

    def _run(self, now: datetime, report: DispatchReport) -> int:
        works = []
        for entry in self.outbox.list_pending():
            try:
                notice = notices_.Notice.from_payload(entry.payload)
            except (KeyError, ValueError, TypeError):
                notice = None  # unreadable payload: dead-lettered on every channel below
            works.append(_Work(entry=entry, notice=notice, deliveries=dict(entry.deliveries)))

        # A channel is tried when any notice it owes is due; then everything it owes goes in
        # the same message (back-off is about the channel being down, not the notice).
        due_channels = {
            ch.name
            for ch in self.channels
            if any(
                self._state(w, ch) == PENDING and w.entry.delivery(ch.name).due(now)
                for w in works
                if not w.entry.claimed(now)
            )
        }
        claimed: list[_Work] = []
        for work in works:
            if work.entry.claimed(now):
                report.contended += 1
                continue
            states = {ch.name: self._state(work, ch) for ch in self.channels}
            owes = any(states[name] == PENDING and name in due_channels for name in states)
            settles = all(State(s).terminal for s in states.values())  # only needs marking done
            if not (owes or settles or work.notice is None):
                continue
            work.orphan_of = work.entry.claimed_by
            taken = self.outbox.claim(work.entry, self.owner, now, self.policy.lease)
            if taken is None:
                report.contended += 1
                continue
            work.entry = taken
            claimed.append(work)
        report.claimed += len(claimed)

        dead: dict[str, list[tuple[notices_.Notice, str]]] = {}
        for ch in self.channels:
            self._send_channel(ch, claimed, now=now, report=report, due_channels=due_channels, dead=dead)

        for work in claimed:
            owed = any(self._final(work, ch) == PENDING for ch in self.channels)
            if self.outbox.complete(work.entry, work.deliveries, pending=owed) is None:
                report.lost_claims += 1
        for ch in self.channels:
            report.channels[ch.name].pending = sum(1 for w in works if self._final(w, ch) == PENDING)
        return self._report_dead(dead, now, report)

    def _send_channel(
        self,
        ch: channel_.Channel,
        claimed: list[_Work],
        *,
        now: datetime,
        report: DispatchReport,
        due_channels: set[str],
        dead: dict[str, list[tuple[notices_.Notice, str]]],
    ) -> None:
        stats = report.channels[ch.name]
        todo: list[_Work] = []
        for work in claimed:
            state = self._state(work, ch)
            current = work.entry.delivery(ch.name)
            if work.notice is None and state == PENDING:
                work.deliveries[ch.name] = dataclasses.replace(current, state=DEAD, last_error="unreadable payload")
                stats.dead += 1
                report.dead_letters.append(work.entry.notice_id)
            elif state == SKIPPED and current.state != SKIPPED:
                work.deliveries[ch.name] = dataclasses.replace(current, state=SKIPPED)
                stats.skipped += 1
            elif state == PENDING and ch.name in due_channels:
                todo.append(work)
        size = max(1, min(self.policy.max_batch, getattr(ch, "max_batch", self.policy.max_batch)))
        todo.sort(key=lambda w: w.notice.sort_key if w.notice else ())
        groups: dict[str, list[_Work]] = {}
        for work in todo:  # what may have been delivered goes out as it went before: same Message-ID
            batch = work.entry.delivery(ch.name).batch
            groups.setdefault(f"sent:{batch}" if batch else work.orphan_of, []).append(work)
        for orphan_of, group in sorted(groups.items(), key=lambda g: g[0] == ""):
            if orphan_of:
                log.warning("alerts: resending %d notice(s) whose delivery was never confirmed", len(group))
            for start in range(0, len(group), size):
                self._deliver(ch, group[start : start + size], now=now, report=report, dead=dead)

    def _deliver(
        self,
        ch: channel_.Channel,
        chunk: list[_Work],
        *,
        now: datetime,
        report: DispatchReport,
        dead: dict[str, list[tuple[notices_.Notice, str]]],
    ) -> None:
        """One message for `chunk`; when refused, find out whether the channel or a notice is to blame."""
        stats = report.channels[ch.name]
        error = self._try_send(ch, [w.notice for w in chunk if w.notice], now)
        if error is None:
            self._sent(ch, chunk, now, stats)
            return
        stats.errors.append(error.message)
        if error.transient or error.channel_wide:
            self._channel_failed(ch, chunk, error, now, stats)
            _remember_batch(ch, chunk, error)
            return
        refused: list[tuple[_Work, channel_.DeliveryError]] = []
        untried = chunk
        if len(chunk) == 1:
            refused, untried = [(chunk[0], error)], []
        else:  # refused as a whole: offer the notices one by one
            probes, untried = chunk[: self.policy.max_probes], chunk[self.policy.max_probes :]
            for i, work in enumerate(probes):
                single = self._try_send(ch, [work.notice] if work.notice else [], now)
                if single is None:
                    self._sent(ch, [work], now, stats)
                elif single.transient or single.channel_wide:
                    untried = probes[i:] + untried
                    error = single
                    break
                else:
                    refused.append((work, single))
        if stats.messages:  # the channel works: what it refused is the notices' problem
            for work, why in refused:
                self._refused(ch, work, why, now=now, report=report, dead=dead)
            for work in untried:  # left for the next run, no attempt counted
                work.deliveries[ch.name] = dataclasses.replace(work.entry.delivery(ch.name), next_attempt_at=now)
        else:
            self._channel_failed(ch, [w for w, _ in refused] + untried, error, now, stats)

    def _sent(self, ch: channel_.Channel, works: list[_Work], now: datetime, stats: ChannelReport) -> None:
        stats.sent += len(works)
        stats.messages += 1
        for work in works:
            current = work.entry.delivery(ch.name)
            work.deliveries[ch.name] = dataclasses.replace(
                current,
                state=SENT,
                attempts=current.attempts + 1,
                sent_at=now,
                next_attempt_at=None,
                last_error="",
                batch="",
            )

    def _channel_failed(
        self,
        ch: channel_.Channel,
        works: list[_Work],
        error: channel_.DeliveryError,
        now: datetime,
        stats: ChannelReport,
    ) -> None:
        """The channel is down or misconfigured: every notice stays pending, retried with back-off."""
        stats.down = error.message
        for work in works:
            current = work.entry.delivery(ch.name)
            attempts = current.attempts + 1
            delay = self.policy.backoff(attempts)
            if error.retry_after:
                delay = max(delay, timedelta(seconds=min(error.retry_after, 86400)))
            work.deliveries[ch.name] = dataclasses.replace(
                current, state=PENDING, attempts=attempts, next_attempt_at=now + delay, last_error=error.message
            )
            stats.failed += 1

    def _refused(
        self,
        ch: channel_.Channel,
        work: _Work,
        error: channel_.DeliveryError,
        *,
        now: datetime,
        report: DispatchReport,
        dead: dict[str, list[tuple[notices_.Notice, str]]],
    ) -> None:
        """The channel refused this notice while accepting others: give it up after a few tries."""
        stats = report.channels[ch.name]
        current = work.entry.delivery(ch.name)
        refusals = int(current.last_error.startswith(_REFUSED)) * current.attempts + 1
        message = f"{_REFUSED}{error.message}"
        if refusals >= self.policy.max_permanent_attempts:
            work.deliveries[ch.name] = dataclasses.replace(
                current, state=DEAD, attempts=current.attempts + 1, next_attempt_at=None, last_error=message
            )
            stats.dead += 1
            report.dead_letters.append(work.entry.notice_id)
            log.warning("alerts: channel %s refused notice %s for good", ch.name, work.entry.notice_id[:200])
            if work.notice is not None and work.notice.finding.kind != catalogue.Kind.ALERT_DELIVERY_FAILED:
                dead.setdefault(ch.name, []).append((work.notice, error.message))
            return
        work.deliveries[ch.name] = dataclasses.replace(
            current,
            state=PENDING,
            attempts=refusals,
            next_attempt_at=now + self.policy.backoff(refusals),
            last_error=message,
        )
        stats.failed += 1

    def _try_send(
        self, ch: channel_.Channel, batch: list[notices_.Notice], now: datetime
    ) -> channel_.DeliveryError | None:
        try:
            ch.send(batch, now)
        except channel_.DeliveryError as exc:
            log.warning("alerts: channel %s failed for %d notices: %s", ch.name, len(batch), exc.message)
            return exc
        except Exception as exc:  # a channel bug or an unwrapped library error: still recorded
            log.warning("alerts: channel %s raised %s", ch.name, channel_.describe(exc))
            return channel_.DeliveryError(channel_.describe(exc), transient=True)
        return None

    def _report_dead(
        self, dead: dict[str, list[tuple[notices_.Notice, str]]], now: datetime, report: DispatchReport
    ) -> int:
        """A given-up alert becomes a warning of its own, sent on every channel (its own accepts others)."""
        letters = []
        for name, lost in dead.items():
            log.warning("alerts: %d notices given up on channel %s", len(lost), name)
            ids = sorted(n.notice_id for n, _ in lost)
            digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
            titles = "; ".join(sorted({n.finding.title or n.finding.key for n, _ in lost})[:20])
            policy = f"{self.policy.max_permanent_attempts} refusals while the channel accepted other alerts"
            finding = catalogue.alert_delivery_failed(name, digest, len(lost), titles, policy, lost[-1][1])
            letters.append(notices_.Notice(finding=finding, kind=notices_.NoticeKind.OPENED, since=now))
        return self.outbox.enqueue(letters, now) if letters else 0


def _remember_batch(ch: channel_.Channel, chunk: list[_Work], error: channel_.DeliveryError) -> None:
    """When the message may have arrived (its outcome is unknown) its notices are resent together,
    alone, so the resend has the same identity and is never merged with new notices."""
    if not error.unknown:
        return
    batch = hashlib.sha256("\n".join(w.entry.notice_id for w in chunk).encode()).hexdigest()[:32]
    for work in chunk:
        work.deliveries[ch.name] = dataclasses.replace(work.deliveries[ch.name], batch=batch)
