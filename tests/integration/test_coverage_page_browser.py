"""The demo's coverage page in a real browser (Debian's headless Chromium) at a desktop and a
phone width: nothing wider than the screen, no table cell cutting its content, every customer's
every delegation status on screen, the partner and its ID, and each fix in its reason's cell."""

from __future__ import annotations

import collections
import json

import pytest

from shared.reports import coverage as coverage_
from tests.support import browser, demo, triggers

WIDTHS = (1400, 390)

LAYOUT = """
const inner = arguments[0];  // the device's width: a mobile layout viewport grows with what overflows
const clipped = [];
for (const cell of document.querySelectorAll('td, th')) {
  const box = cell.getBoundingClientRect();
  if (box.width === 0) continue;
  if (cell.scrollWidth > cell.clientWidth + 1 || box.left < -1 || box.right > inner + 1)
    clipped.push(cell.tagName + ' ' + cell.textContent.trim().slice(0, 60));
}
const seen = [];
for (const section of document.querySelectorAll('section[id^="c"]')) {
  const heading = section.querySelector('h2');
  const tables = section.querySelectorAll('table.rows');
  const delegations = tables[tables.length - 1];
  for (const badge of delegations.querySelectorAll('tbody .badge')) {
    const box = badge.getBoundingClientRect();
    const style = getComputedStyle(badge);
    const shown = box.width > 0 && box.height > 0 && box.left >= -1 && box.right <= inner + 1
      && style.visibility !== 'hidden' && style.display !== 'none';
    if (shown) seen.push([heading.textContent, badge.textContent.trim()]);
  }
}
const onScreen = (el) => {
  const box = el.getBoundingClientRect();
  return box.width > 0 && box.height > 0 && box.left >= -1 && box.right <= inner + 1;
};
const partner = document.querySelector('p.partner');
const fixes = [...document.querySelectorAll('td .fix')].map(
  (fix) => [onScreen(fix), fix.closest('td').getAttribute('data-label') || '']);
return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, clipped: clipped, seen: seen,
        partner: partner && onScreen(partner) ? partner.innerText : '', fixes: fixes};
"""


@pytest.fixture(scope="module")
def chromium():
    found = browser.binaries()
    if found is None:
        pytest.skip("no Chromium with chromedriver on this machine (Debian: apt-get install chromium chromium-driver)")
    with browser.chromium(*found) as session:
        yield session


@pytest.mark.parametrize("width", WIDTHS)
def test_the_demo_page_fits_the_window_and_shows_every_status(chromium, emulator, palwatch, tmp_path, width):
    triggers.verify_now()
    document = json.loads(triggers.coverage({}).get_body())
    page = tmp_path / "coverage.html"
    page.write_bytes(triggers.coverage({"format": "html"}).get_body())

    chromium.show(page, width, 844)
    laid_out = chromium.run(LAYOUT, width)

    assert laid_out["scroll"] <= width, f"{laid_out['scroll']} px wide on a {width} px screen"
    assert laid_out["inner"] == width
    assert laid_out["clipped"] == []
    expected = collections.Counter(
        (d["customerTenantName"], coverage_.LABELS[d["status"]]) for d in document["delegations"]
    )
    seen = collections.Counter()
    for heading, label in laid_out["seen"]:
        names = [name for name, _ in expected if name in heading]
        seen[(max(names, key=len) if names else heading, label)] += 1
    assert seen == expected
    assert f"partner ID {demo.PARTNER}" in laid_out["partner"]
    assert laid_out["fixes"], "the demo has delegations with a reason and its fix"
    assert all(shown and label == "Why not" for shown, label in laid_out["fixes"])  # in the reason's own cell
