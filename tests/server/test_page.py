"""The viewer page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.server_kit import TOKENS, ServerProcess

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def test_page_streams_a_conversation_and_approves_a_draft(browser, tmp_path):
    with ServerProcess(tmp_path / "page.db") as srv:
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.set_default_timeout(10_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(srv.url + "/")
        page.fill("#token", TOKENS["alice"])
        page.click("#token-form button")
        page.wait_for_selector("#who:has-text('alice')")
        page.wait_for_selector("#graph svg .node[data-node='listing:act']", state="attached")
        page.click("#new-thread")
        page.wait_for_selector("#threads li.selected")
        # count how often a reply bubble's text grows: more than once means it streamed in
        page.evaluate("""() => { window.__growth = 0; new MutationObserver((ms) => { for (const m of ms)
            if (m.target.classList && m.target.classList.contains('text')) window.__growth++; })
            .observe(document.querySelector('#messages'), {childList: true, subtree: true, characterData: true}); }""")

        def say(text: str) -> None:
            page.fill("#message", text)
            page.click("#send")
            page.wait_for_selector("#send:not([disabled]), #approval:not([hidden])")

        say("I'd like to sell a product: title Red Ceramic Mug, price 12.50")
        page.wait_for_selector(".banner:has-text('Handed to listing')")
        page.wait_for_selector(".msg.assistant:has-text('I still need: category')")
        assert page.evaluate("window.__growth") > 5
        say("Hmm, what price should I charge? cost 6, margin 45%")
        page.wait_for_selector(".banner:has-text('Switched from listing to pricing')")
        page.wait_for_selector(".msg.assistant:has-text('charge $10.91')")
        assert page.inner_text("#active-agent") == "agent: pricing"
        say("OK, back to my listing: category kitchen, description: A sturdy 300 ml mug")
        page.wait_for_selector(".banner:has-text('Switched from pricing to listing')")
        page.wait_for_selector("#approval:not([hidden])")
        assert page.input_value("#approval-draft input[data-field='title']") == "Red Ceramic Mug"
        page.wait_for_selector("#threads .badge.waiting")
        page.wait_for_selector("#timeline .run .step")
        page.screenshot(path=str(tmp_path / "waiting.png"))
        page.click("#approve")
        page.wait_for_selector(".msg.assistant:has-text('Published')")
        page.wait_for_selector("#approval", state="hidden")
        page.wait_for_selector("#timeline .run:has-text('decision')")
        shot = tmp_path / "page.png"
        page.screenshot(path=str(shot), full_page=True)
        page.click(".tabs button[data-tab='graph']")
        assert page.is_visible("#graph svg .node.active[data-node='listing:act']")  # the active agent is lit
        page.screenshot(path=str(tmp_path / "graph.png"))
        if os.environ.get("STATELINE_SCREENSHOT_DIR"):
            for name in ("waiting.png", "page.png", "graph.png"):
                shutil.copy(tmp_path / name, Path(os.environ["STATELINE_SCREENSHOT_DIR"]) / name)
        assert not errors, errors
        # reload: the history comes back from the server, with the waiting state gone
        page.reload()
        page.click("#threads li")
        page.wait_for_selector(".msg.assistant:has-text('Published')")
        assert page.is_hidden("#approval")


def test_api_docs_render_offline_from_local_files(browser, tmp_path):
    """/docs (Swagger UI) loads its scripts from the server itself: no CDN needed."""
    with ServerProcess(tmp_path / "docs.db") as srv:
        page = browser.new_page()
        page.set_default_timeout(15_000)
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(srv.url + "/docs")
        page.wait_for_selector(".opblock-summary-path:has-text('/api/threads')")
        assert page.locator(".opblock").count() >= 10  # every operation of the API is listed
        outside = [u for u in requested if not u.startswith((srv.url, "data:", "blob:"))]
        assert not outside, outside
        assert page.goto(srv.url + "/redoc").status == 404  # ReDoc would fetch from its CDN: not served
