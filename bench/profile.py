"""The top of a py-spy profile: where a bench run's busy CPU went, as a few lines for the report.

`python -m bench --profile DIR` records each verify run with `py-spy record -f raw` (collapsed
stacks of every thread, idle samples left out); `top` reads one such file and names the
functions holding the most samples, inclusive (anywhere on the stack) and self (at the top).
`python -m bench.profile FILE` prints the same for a file recorded by hand.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")
# Frames every worker thread starts with: on every stack, they say nothing.
_PLUMBING = ("threading.py:", "futures/thread.py:", "<frozen ", "runpy.py:", "bench/runs.py:", "usecases/verify.py:")


def _name(frame: str) -> str:
    """`func (path/to/module.py:12)` -> `module.py:func` (lines merged)."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    file = match.group("file")
    parts = file.replace("\\", "/").split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else file
    return f"{short}:{match.group('func')}"


def top(path: Path, limit: int = 12) -> list[str]:
    """The `limit` functions with the most inclusive samples, then the `limit` with the most self samples."""
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_name(f) for f in stack.split(";") if f]
        for name in set(frames):
            if not name.startswith(_PLUMBING):
                inclusive[name] += samples
        if frames:
            self_time[frames[-1]] += samples
    if not total:
        return ["(no samples)"]
    out = [f"{total} samples; inclusive:"]
    out += [f"{100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(limit)]
    out.append("self:")
    out += [f"{100 * n / total:5.1f} %  {name}" for name, n in self_time.most_common(limit)]
    return out


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print("\n".join(top(Path(argument), limit=25)))
