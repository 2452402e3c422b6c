"""The browser the UI tests drive: Playwright for Python with Debian's chromium (never a
downloaded browser), every request to another host recorded and refused, and axe-core (vendored
from npm, tests/ui/vendor) for the accessibility check."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = Path(__file__).with_name("vendor") / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


class Browser:
    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.foreign: list[str] = []  # requests that tried to leave the server
        self.console: list[str] = []  # errors the page logged (a CSP refusal, a script error)
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.console.append(str(e)))
        own = urlsplit(base).netloc

        def guard(route: Any) -> None:
            url = route.request.url
            if urlsplit(url).netloc != own and not url.startswith(("data:", "blob:")):
                self.foreign.append(url)
                route.abort()
            else:
                route.continue_()

        page.route("**/*", guard)

    def _console(self, message: Any) -> None:
        # A page answered with 400 or 403 on purpose is logged as a failed load: not an error.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console.append(message.text)

    def goto(self, path: str) -> Any:
        response = self.page.goto(f"{self.base}{path}")
        self.page.wait_for_load_state("networkidle")
        return response

    def log_in(self, email: str, password: str) -> None:
        self.goto("/ui/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Log in").click()
        self.page.wait_for_load_state("networkidle")

    def log_out(self) -> None:
        self.page.get_by_role("button", name="Log out").click()
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def accessibility_violations(self) -> list[str]:
        """axe-core's WCAG 2 A/AA violations on the page (serious and critical ones)."""
        # Evaluated through the DevTools protocol: the page's CSP (no inline script) stays on.
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8") + "\n;true")
        result = self.page.evaluate(
            "async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})"
        )
        return [
            f"{v['id']}: {v['help']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['html'][:120]})"
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed and could not be (make chromium installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def open_browser(chromium: Any, base: str) -> Browser:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    return Browser(context.new_page(), base)
