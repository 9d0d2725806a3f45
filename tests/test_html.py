"""The HTML report (a self-contained page, checked in headless Chromium) and the Mermaid
diagram of the Markdown output.

The browser test needs Chromium: Debian's ``chromium`` package, which the README's test
command installs (``CONVLINT_CHROMIUM`` names another binary). It drives the page with
Playwright, the way a reviewer would: graph drawn, a click on the broken node, a table sort,
zoom, then a screenshot.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import onnx
import pytest
from conftest import SAMPLES, report_of, spec
from onnx import TensorProto, helper
from onnx_utils import ONNX_DATA, report_of_model
from typer.testing import CliRunner

from analyzer.api import analyze_path
from analyzer.cli import app
from analyzer.formatters.findings import MERMAID_BOXES
from analyzer.formatters.html import render
from analyzer.formatters.layout import drawing

runner = CliRunner()
RESNET50 = ONNX_DATA / "light" / "light_resnet50.onnx"
UNET = SAMPLES / "unet_bad_size.json"
DRAWN = [RESNET50, UNET, *sorted((ONNX_DATA / "light").glob("light_*.onnx")), *sorted(SAMPLES.glob("*.json"))]


def page_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert found, "the page embeds its data"
    return json.loads(found.group(1))


def unet_sizes() -> tuple[int, int]:
    """The U-Net sample on a 100x100 input: four 2x2 poolings (floor) down, transposed convs
    (k=2, s=2: out = 2 * in) up. Returns (up3's side, down3's side), which cat3 joins."""
    side, sides = 100, []
    for _ in range(4):
        side //= 2
        sides.append(side)  # after pool1..pool4: 50, 25, 12, 6
    up4 = 2 * sides[3]
    up3 = 2 * up4
    return up3, sides[1]


# -- the layout ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", DRAWN, ids=lambda p: p.stem)
def test_layout_covers_every_data_node_once_and_layers_follow_edges(path):
    report = analyze_path(str(path))
    picture = drawing(report)
    members = [m.name for box in picture.boxes for m in box.members]
    assert len(members) == len(set(members))
    reached = {i.name for i in report.inputs}
    data_nodes = []
    for n in report.nodes:
        if any(t in reached for t in n.inputs):
            data_nodes.append(n.name)
            reached.update(o.name for o in n.outputs)
    assert sorted(members) == sorted(data_nodes)
    for a, b, _ in picture.edges:
        assert picture.boxes[b].layer > picture.boxes[a].layer
    slots = [(box.layer, box.order) for box in picture.boxes]
    assert len(slots) == len(set(slots)), "two boxes drawn on the same spot"


def test_elementwise_runs_fold_but_convs_never_do():
    model = onnx.load(RESNET50, load_external_data=False)
    convs = sum(n.op_type == "Conv" for n in model.graph.node)
    picture = drawing(analyze_path(str(RESNET50)))
    assert sum(box.node.op == "Conv" for box in picture.boxes) == convs == 53
    assert all(m.op in ("BatchNormalization", "Relu", "Softmax") for box in picture.boxes for m in box.members[1:])
    assert len(picture.boxes) < 100 < len(model.graph.node)


def test_edges_carry_the_shapes_the_broken_unet_joins():
    up3, down3 = unet_sizes()
    assert (up3, down3) == (24, 25)
    picture = drawing(analyze_path(str(UNET)))
    name = {box.id: box.node.name for box in picture.boxes}
    into_cat3 = {name[a]: label for a, b, label in picture.edges if name[b] == "cat3"}
    assert into_cat3 == {"up3": f"(256, {up3}, {up3})", "down3.conv2": f"(256, {down3}, {down3})"}
    cat3 = next(box for box in picture.boxes if box.node.name == "cat3")
    assert cat3.severity == "error"


# -- the page, without a browser --------------------------------------------------------------
@pytest.mark.parametrize("path", [RESNET50, UNET], ids=lambda p: p.stem)
def test_page_is_self_contained(path):
    page = render(analyze_path(str(path)))
    assert page.startswith("<!doctype html>")
    for fetching in ("src=", "href=", "url(", "@import", "fetch(", "XMLHttpRequest", "<link", "<iframe"):
        assert fetching not in page
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}  # a namespace, never fetched


def test_page_data_matches_the_report():
    report = analyze_path(str(UNET))
    data = page_data(render(report))
    assert [row["name"] for row in data["table"]] == [n.name for n in report.nodes]
    assert data["totals"]["params"] == report.totals.params
    conv2 = next(row for row in data["table"] if row["name"] == "bottleneck.conv2")
    assert conv2["params"] == 1024 * 1024 * 3 * 3 + 1024
    assert [d["code"] for d in data["diagnostics"]] == [d.code for d in report.diagnostics]


def test_hostile_names_stay_text():
    name = "</script><script>alert(1)</script>"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"], name=name)], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    page = render(report_of_model(helper.make_model(graph)))
    assert page.count("</script>") == 2  # the data block and the program, nothing injected
    assert page_data(page)["boxes"][0]["name"] == name
    spec_name = '<b onclick="x">&amp;'
    page = render(report_of(spec([{"name": spec_name, "op": "conv", "out_channels": 4, "kernel_size": 3}], [3, 8, 8])))
    assert "<b onclick" not in page and page_data(page)["table"][0]["name"] == spec_name


def test_cli_writes_the_page(tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["analyze", str(UNET), "--format", "html", "--output", str(out)])
    assert result.exit_code == 1  # the broken concat is an error finding
    assert page_data(out.read_text())["model"]["name"] == "unet_bad_size"
    refused = runner.invoke(app, ["check", str(UNET), "--format", "html"])
    assert refused.exit_code == 2
    assert len(refused.output.strip().splitlines()) == 1


# -- Mermaid in Markdown -------------------------------------------------------------------------
def mermaid_blocks(text: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", text, re.S)


def test_markdown_draws_the_unet_with_the_error_marked():
    text = runner.invoke(app, ["check", str(UNET), "--format", "markdown", "--isolated"]).stdout
    (block,) = mermaid_blocks(text)
    ids = dict(re.findall(r'  (n\d+)\["([^<"]+)<br/>', block))
    by_name = {name: node for node, name in ids.items()}
    assert f"class {by_name['cat3']} error" in block
    up3, _ = unet_sizes()
    assert f'{by_name["up3"]} -->|"(256, {up3}, {up3})"| {by_name["cat3"]}' in block
    assert len(ids) == len(drawing(analyze_path(str(UNET)), collapse=True).boxes)


def test_markdown_trims_a_large_graph():
    text = runner.invoke(app, ["check", str(RESNET50), "--format", "markdown", "--isolated"]).stdout
    (block,) = mermaid_blocks(text)
    boxes = len(drawing(analyze_path(str(RESNET50)), collapse=True).boxes)
    assert boxes > MERMAID_BOXES
    drawn = re.findall(r'^  n\d+\["', block, re.M)
    assert len(drawn) == MERMAID_BOXES
    assert f"Graph: {MERMAID_BOXES} of {boxes} boxes" in text


# -- in a real browser ---------------------------------------------------------------------------
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                  "--disable-background-networking", "--disable-component-update"]


def chromium_binary() -> str:
    binary = os.environ.get("CONVLINT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Chromium is needed: `apt-get install -y chromium` (the README's test command does it)"
    return binary


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_binary(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def open_page(browser, path: Path, tmp_path: Path):
    report = analyze_path(str(path))
    page_file = tmp_path / f"{path.stem}.html"
    page_file.write_text(render(report), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith("file://") else problems.append(request.url))
    page.goto(page_file.as_uri())
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    return report, page, problems


def test_resnet50_renders_in_chromium(browser, tmp_path):
    report, page, problems = open_page(browser, RESNET50, tmp_path)
    convs = sum(n.op_type == "Conv" for n in onnx.load(RESNET50, load_external_data=False).graph.node)
    boxes = page.locator("g.box")
    assert boxes.count() == len(drawing(report).boxes)
    assert page.locator("g.box", has_text="Conv").count() == convs
    assert page.locator("path.edge").count() == len(drawing(report).edges)
    drawn_params = sum(int(re.search(r"([\d,]+) params", t).group(1).replace(",", ""))
                       for t in boxes.all_text_contents())
    assert drawn_params == report.totals.params
    assert page.locator("#nodes tbody tr").count() == len(report.nodes)

    page.locator("g.box").first.click()
    assert page.locator("#details.on h2").first.text_content() == drawing(report).boxes[0].node.name
    transform = page.locator("#viewport").get_attribute("transform")
    page.click("#zoomin")
    scale = lambda t: float(re.search(r"scale\(([\d.]+)\)", t).group(1))  # noqa: E731
    assert scale(page.locator("#viewport").get_attribute("transform")) == pytest.approx(scale(transform) * 1.3)
    shot = tmp_path / "resnet50.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert problems == []


def test_broken_unet_opens_on_its_error_in_chromium(browser, tmp_path):
    report, page, problems = open_page(browser, UNET, tmp_path)
    assert page.locator("g.box").count() == len(drawing(report).boxes)
    broken = page.locator("g.box.error")
    assert broken.count() == 1 and broken.locator("text.name").text_content() == "cat3"
    assert "selected" in broken.get_attribute("class")  # the page opens on where the shapes go wrong
    up3, down3 = unet_sizes()
    page.click("#zoomin")  # edge labels show when near enough
    labels = page.locator("text.label").all_text_contents()
    assert f"(256, {up3}, {up3})" in labels and f"(256, {down3}, {down3})" in labels

    page.locator("#summary .finding.error").click()
    details = page.locator("#details")
    assert details.locator("h2").first.text_content() == "cat3"
    assert "S103" in details.text_content()

    page.click("button[data-panel=nodes]")
    page.click("#nodes th[data-key=params]")
    page.click("#nodes th[data-key=params]")  # descending
    first = page.locator("#nodes tbody tr").first
    assert first.get_attribute("data-node") == "bottleneck.conv2"
    assert f"{1024 * 1024 * 3 * 3 + 1024:,}" in first.text_content()
    assert "error" in page.locator('#nodes tr[data-node="cat3"]').get_attribute("class")

    page.click("button[data-panel=chart]")
    assert page.locator("#chart polyline").count() == 2
    page.screenshot(path=str(tmp_path / "unet_bad_size.png"))
    assert (tmp_path / "unet_bad_size.png").stat().st_size > 10_000
    assert problems == []


def test_model_strings_never_become_elements_in_chromium(browser, tmp_path):
    """Names, a dim_param, an op type and the graph's name carry markup; the page, driven as a
    reviewer would (every box, every finding, the table sorted), shows them as text only."""
    attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    nodes = [helper.make_node(f"Op{attack}", ["x"], ["z"], domain="com.acme", name=f"custom{attack}"),
             helper.make_node("Relu", ["x"], ["r"], name=f"relu{attack}"),
             helper.make_node("Conv", ["r", "w"], ["c"], name=f"conv{attack}", pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, f"graph{attack}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [f"N{attack}", 3, f"H{attack}", 8])],
                              [helper.make_tensor_value_info(t, TensorProto.FLOAT, None) for t in ("c", "z")],
                              [helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 4 * 3 * 9)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.acme", 1)])
    path = tmp_path / "attack.onnx"
    onnx.save(model, path)
    report, page, problems = open_page(browser, path, tmp_path)
    assert page.locator("#title").text_content() == f"graph{attack}"
    for box in page.locator("g.box").all():  # the handlers run as on a click (geometry aside)
        box.dispatch_event("click")
    for finding in page.locator("#summary .finding").all():
        finding.dispatch_event("click")
    page.click("button[data-panel=nodes]")
    page.click("#nodes th[data-key=name]")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img, iframe, object, embed").count() == 0
    assert page.locator("script").count() == 2  # the data block and the program
    summary = page.locator("#summary").text_content()
    assert f"N{attack}" in summary and f"on a H{attack}x8 input" in summary  # the dim_params, as text
    assert page.locator("#nodes tbody tr").count() == len(report.nodes)
    assert problems == []
