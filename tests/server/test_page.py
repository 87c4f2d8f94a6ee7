"""The viewer page in real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.server_kit import TOKENS, ServerProcess

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed (apt-get install chromium)"
)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def chromium():
    """One Chromium for the module (a launch costs seconds)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser(chromium):
    """The shared Chromium; each test's pages (each in a fresh context) are closed after it."""
    yield chromium
    for context in chromium.contexts:
        context.close()


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


GEOMETRY = """() => {
  const rect = (el) => { const b = el.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom]; };
  const svg = document.querySelector('#graph svg');
  return {
    svg: rect(svg), panel: rect(document.querySelector('#tab-graph')),
    nodes: [...svg.querySelectorAll('.node')].map((g) => ({ id: g.dataset.node, box: rect(g.querySelector('rect')),
      label: rect(g.querySelector('text')), text: g.querySelector('text').textContent })),
    clusters: [...svg.querySelectorAll('.cluster')].map((g) => ({ agent: g.dataset.agent,
      box: rect(g.querySelector('rect') || g),
      label: ((l) => l && rect(l))(svg.querySelector(`.cluster-label[data-agent="${g.dataset.agent}"]`)) })),
    edges: [...svg.querySelectorAll('.edge')].map((p) => [p.dataset.source, p.dataset.target]),
    edgeBoxes: [...svg.querySelectorAll('.edge')].map((p) => rect(p)),
  };
}"""


def _overlap(a: list[float], b: list[float]) -> bool:
    """Two [left, top, right, bottom] boxes share an area (touching edges do not count)."""
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.01 and min(a[3], b[3]) - max(a[1], b[1]) > 0.01


def _inside(inner: list[float], outer: list[float], slack: float = 0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


@pytest.mark.parametrize(
    "agents", [["listing"], ["listing", "pricing", "analytics"]], ids=["one-subgraph", "three-subgraphs"]
)
def test_graph_tab_lays_out_expanded_subgraphs_without_overlap(browser, tmp_path, agents):
    """The storefront graph with agent subgraphs expanded: no two boxes overlap, no label is cut."""
    args = [a for name in agents for a in ("--approval", name)]
    with ServerProcess(tmp_path / "graph.db", args=args) as srv:
        picture = srv.client("alice").get("/api/graph").json()
        assert {n["group"] for n in picture["nodes"]} == {None, *agents}  # the expanded subgraphs, named
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.set_default_timeout(10_000)
        requested: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(srv.url + "/")
        page.fill("#token", TOKENS["alice"])
        page.click("#token-form button")
        page.click(".tabs button[data-tab='graph']")
        page.wait_for_selector(f"#graph svg .node[data-node='{agents[-1]}:act']")
        page.screenshot(path=str(tmp_path / "graph-tab.png"))
        if os.environ.get("STATELINE_SCREENSHOT_DIR"):
            shutil.copy(
                tmp_path / "graph-tab.png", Path(os.environ["STATELINE_SCREENSHOT_DIR"]) / f"graph-{len(agents)}.png"
            )
        geo = page.evaluate(GEOMETRY)
        assert not errors, errors

        # no two node boxes overlap
        boxes = geo["nodes"]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert not _overlap(a["box"], b["box"]), f"{a['id']} {a['box']} overlaps {b['id']} {b['box']}"
        # every node and edge of LangGraph's picture is drawn, each label whole
        assert sorted(n["id"] for n in geo["nodes"]) == sorted(n["id"] for n in picture["nodes"])
        assert sorted(map(tuple, geo["edges"])) == sorted((e["source"], e["target"]) for e in picture["edges"])
        assert sorted(c["agent"] for c in geo["clusters"]) == sorted(agents)
        names = {n["id"]: n["name"].strip("_") for n in picture["nodes"]}
        for n in geo["nodes"]:
            assert n["text"] == names[n["id"]]
            assert _inside(n["label"], n["box"]), f"label of {n['id']} is clipped: {n['label']} not in {n['box']}"
            assert _inside(n["box"], geo["svg"]), f"{n['id']} is cut off by the picture's edge"
            assert _inside(n["box"], geo["panel"]), f"{n['id']} is outside the visible graph panel"
        assert _inside(geo["svg"], geo["panel"]), "the picture is wider than its panel"
        for edge, box in zip(geo["edges"], geo["edgeBoxes"], strict=False):
            assert _inside(box, geo["svg"]), f"edge {edge} is cut off by the picture's edge"
        # a subgraph's box holds its nodes and nothing else
        for c in geo["clusters"]:
            assert c["label"] is not None and _inside(c["label"], c["box"]), (
                f"the label of subgraph {c['agent']} is clipped"
            )
            assert _inside(c["box"], geo["svg"]), f"subgraph {c['agent']} is cut off by the picture's edge"
            for n in boxes:
                if n["id"].startswith(c["agent"] + ":"):
                    assert _inside(n["box"], c["box"]), f"{n['id']} sticks out of its subgraph"
                    assert not _overlap(n["box"], c["label"]), f"{n['id']} covers the label of {c['agent']}"
                else:
                    assert not _overlap(n["box"], c["box"]), f"{n['id']} overlaps subgraph {c['agent']}"
        for i, a in enumerate(geo["clusters"]):
            for b in geo["clusters"][i + 1:]:
                assert not _overlap(a["box"], b["box"]), f"subgraphs {a['agent']} and {b['agent']} overlap"

        # the favicon: linked from the page, served at /favicon.ico; nothing was fetched from elsewhere
        icons = page.eval_on_selector_all("link[rel='icon']", "(links) => links.map((l) => l.href)")
        assert srv.url + "/favicon.ico" in icons
        for url in icons:
            assert page.request.get(url).status == 200, url
        ico = page.request.get(srv.url + "/favicon.ico")
        assert ico.headers["content-type"] == "image/x-icon" and ico.body()[:4] == b"\x00\x00\x01\x00"
        outside = [u for u in requested if not u.startswith((srv.url, "data:", "blob:"))]
        assert not outside, outside
