"""Accessibility checks with axe-core, the npm package pinned in package-lock.json (`make test`
installs it into node_modules/). It is evaluated inside the page under test through the
browser's debugging protocol, which our Content-Security-Policy does not govern, so the pages
keep their real policy while they are checked."""

from functools import cache
from pathlib import Path

import pytest
from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# axe's impact levels are minor, moderate, serious and critical; these two fail a test.
BLOCKING = frozenset({"serious", "critical"})
RUN_AXE = """async (rules) => {
  const options = {resultTypes: ["violations"]};
  if (rules) options.runOnly = {type: "rule", values: rules};
  const results = await axe.run(document, options);
  return results.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => n.target.join(" ") + ": " + n.failureSummary),
  }));
}"""


@cache
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is missing at {AXE_JS}: `make test` installs it (npm ci).")
    return AXE_JS.read_text()


def assert_accessible(page: Page, what: str) -> None:
    """No serious or critical axe violation on the page as it is now (open dialogs included);
    the dark colour scheme is checked for contrast too."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    report = []
    for scheme, rules in (("light", None), ("dark", ["color-contrast"])):
        page.emulate_media(color_scheme=scheme)
        report += [
            f"{scheme}, {v['impact']}: {v['id']} ({v['help']})\n    " + "\n    ".join(v["nodes"])
            for v in page.evaluate(RUN_AXE, rules)
            if v["impact"] in BLOCKING
        ]
    page.emulate_media(color_scheme="light")
    assert not report, f"{what} has accessibility violations:\n" + "\n".join(report)
