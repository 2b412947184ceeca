"""A small SVG chart of the scale curve: `python -m bench.chart OUT.svg RUN.json [RUN.json ...]`.

Each RUN.json is written by `python -m bench --json`; the chart plots, against customer
tenants, the warm verification's wall time, its CPU seconds and the emulator's, and its
requests (right axis), so how each grows with the estate is visible at a glance.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_W, _H, _PAD = 640, 360, 56
_SERIES = (
    ("wall time (s)", "seconds", "#1f77b4"),
    ("CPU ours (s)", "cpuSeconds", "#ff7f0e"),
    ("CPU emulator (s)", "emulatorCpuSeconds", "#2ca02c"),
)


def warm_run(document: dict[str, Any]) -> dict[str, Any]:
    warm = [r for r in document["runs"] if r["name"].startswith("PAL Watch verify, warm")]
    return warm[-1]


def svg(points: list[tuple[int, dict[str, Any]]]) -> str:
    points = sorted(points, key=lambda p: p[0])
    xs = [p[0] for p in points]
    top = max(max(run[key] for _, run in points) for _, key, _ in _SERIES) * 1.1 or 1
    requests_top = max(run["made"] for _, run in points) * 1.1 or 1

    def x(value: float) -> float:
        return _PAD + (value - 0) / (max(xs) or 1) * (_W - 2 * _PAD)

    def y(value: float, scale: float) -> float:
        return _H - _PAD - value / scale * (_H - 2 * _PAD)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" font-family="sans-serif" font-size="11">',
        f'<rect width="{_W}" height="{_H}" fill="white"/>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="black"/>',
        f'<line x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}" stroke="black"/>',
        f'<text x="{_W / 2}" y="{_H - 16}" text-anchor="middle">customer tenants (warm verification)</text>',
        f'<text x="{_PAD}" y="{_PAD - 10}">seconds (max {top:.0f})</text>',
        f'<text x="{_W - _PAD}" y="{_PAD - 10}" text-anchor="end">requests (dashed, max {requests_top:.0f})</text>',
    ]
    for value in xs:
        out.append(f'<text x="{x(value):.1f}" y="{_H - _PAD + 14}" text-anchor="middle">{value}</text>')
    for index, (label, key, colour) in enumerate(_SERIES):
        path = " ".join(f"{x(t):.1f},{y(run[key], top):.1f}" for t, run in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{_PAD + 8}" y="{_PAD + 14 * (index + 1)}" fill="{colour}">{label}</text>')
    path = " ".join(f"{x(t):.1f},{y(run['made'], requests_top):.1f}" for t, run in points)
    out.append(f'<polyline points="{path}" fill="none" stroke="gray" stroke-dasharray="4 3" stroke-width="2"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    documents = [json.loads(Path(p).read_text()) for p in sys.argv[2:]]
    Path(sys.argv[1]).write_text(svg([(d["tenants"], warm_run(d)) for d in documents]))
