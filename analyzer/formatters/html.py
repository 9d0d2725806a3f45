"""The report as one self-contained HTML page: the DAG (layered, pan and zoom, click for
details, findings coloured by severity), totals, findings linked to their nodes, a sortable
per-node table, and receptive field and feature-map size by depth. No network: everything
is inline."""

from __future__ import annotations

import html
import json

from analyzer.formatters.figures import field_text, output_text, shape_text
from analyzer.formatters.json import to_dict
from analyzer.formatters.layout import Drawing, drawing
from analyzer.report.model import Report

BOX_W, BOX_H, GAP_X, GAP_Y = 200, 70, 36, 56


def data(report: Report) -> dict:
    """Everything the page draws, as JSON-ready data (positions included)."""
    picture: Drawing = drawing(report)
    widths: dict[int, int] = {}
    for box in picture.boxes:
        widths[box.layer] = widths.get(box.layer, 0) + 1
    boxes = []
    for box in picture.boxes:
        node, last = box.node, box.last
        x = (box.order - (widths[box.layer] - 1) / 2) * (BOX_W + GAP_X)
        y = box.layer * (BOX_H + GAP_Y)
        boxes.append({
            "id": box.id, "name": node.name, "ops": box.ops, "x": round(x, 1), "y": y,
            "shape": output_text(last), "rf": field_text(last.receptive_field)[0],
            "params": sum(m.params or 0 for m in box.members), "severity": box.severity,
            "findings": box.findings, "members": [m.name for m in box.members],
        })
    table = []
    for n in report.nodes:
        size, stride = field_text(n.receptive_field)
        table.append({"name": n.name, "op": n.op, "shape": output_text(n), "rf": size, "stride": stride,
                      "params": n.params, "macs": n.macs, "memory": n.memory.bytes})
    chart = []
    for depth, n in enumerate(report.nodes):
        rf, shape = n.receptive_field, n.outputs[0].shape if n.outputs else None
        spatial = [d for d in (shape or [])[2 if report.model.format == "onnx" else 1:] if isinstance(d, int)]
        if rf is not None and not rf.global_ and spatial:
            chart.append({"depth": depth, "name": n.name, "rf": max(rf.size), "size": max(spatial)})
    return {
        "model": to_dict(report.model), "totals": to_dict(report.totals),
        "receptive_field": to_dict(report.receptive_field) if report.receptive_field else None,
        "inputs": [{"name": i.name, "shape": shape_text(i.shape)} for i in report.inputs],
        "boxes": boxes, "edges": [[a, b, label, picture.boxes[b].layer - picture.boxes[a].layer] for a, b, label in picture.edges],
        "diagnostics": [to_dict(d) for d in report.diagnostics],
        "table": table, "chart": chart, "box": {"w": BOX_W, "h": BOX_H},
        "collapsed": len(picture.boxes) < len(report.nodes), "version": report.tool.version,
    }


def render(report: Report, view: object = None) -> str:
    # No "<" in the data block: a name can then never end the script element or open a comment.
    payload = json.dumps(data(report), separators=(",", ":")).replace("<", "\\u003c")
    title = html.escape(f"convlint: {report.model.name}")
    return PAGE.replace("__TITLE__", title).replace("__DATA__", payload)


PAGE = r"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<style>
  :root { --error: #c62828; --warning: #e08a00; --info: #1565c0; --line: #9aa5b1; --ink: #1f2933; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); display: grid;
         grid-template-columns: 1fr 430px; grid-template-rows: auto 1fr; height: 100vh; }
  header { grid-column: 1 / 3; padding: 8px 14px; border-bottom: 1px solid #ddd; display: flex; gap: 18px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0; }
  header .muted, .muted { color: #616e7c; }
  #graph { position: relative; overflow: hidden; background: #fafbfc; cursor: grab; }
  #graph.dragging { cursor: grabbing; }
  #graph svg { width: 100%; height: 100%; display: block; }
  .box rect { fill: #fff; stroke: #7b8794; stroke-width: 1.2; rx: 6; }
  .box.error rect { fill: #fdecea; stroke: var(--error); stroke-width: 2.2; }
  .box.warning rect { fill: #fff4e0; stroke: var(--warning); stroke-width: 2; }
  .box.info rect { fill: #e8f1fb; stroke: var(--info); }
  .box.selected rect { stroke: #111; stroke-width: 3; }
  .box text { font-size: 11px; pointer-events: none; }
  .box .name { font-weight: 600; }
  .box { cursor: pointer; }
  .edge { fill: none; stroke: var(--line); stroke-width: 1.2; }
  .label { font-size: 10px; fill: #52606d; display: none; }
  svg.near .label { display: block; }
  aside { border-left: 1px solid #ddd; overflow: auto; padding: 0 12px 20px; }
  aside h2 { font-size: 14px; margin: 16px 0 6px; }
  .tabs { display: flex; gap: 4px; position: sticky; top: 0; background: #fff; padding: 8px 0; border-bottom: 1px solid #eee; }
  .tabs button { border: 1px solid #ccd; background: #f5f7fa; padding: 4px 10px; border-radius: 4px; cursor: pointer; }
  .tabs button.on { background: #1f2933; color: #fff; }
  .panel { display: none; } .panel.on { display: block; }
  .finding { padding: 6px 8px; border-left: 4px solid; margin: 6px 0; background: #f8f9fb; cursor: pointer; }
  .finding.error { border-color: var(--error); } .finding.warning { border-color: var(--warning); } .finding.info { border-color: var(--info); }
  .finding code { font-weight: 600; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { border-bottom: 1px solid #eee; padding: 3px 5px; text-align: left; white-space: nowrap; }
  th { cursor: pointer; position: sticky; top: 44px; background: #fff; }
  td.num, th.num { text-align: right; }
  tr.error td { background: #fdecea; } tr.warning td { background: #fff4e0; }
  dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; }
  dt { color: #616e7c; } dd { margin: 0; word-break: break-all; }
  #zoom { position: absolute; right: 10px; bottom: 10px; display: flex; gap: 4px; }
  #zoom button { width: 30px; height: 30px; border: 1px solid #ccd; background: #fff; border-radius: 4px; cursor: pointer; }
</style>
</head>
<body>
<header>
  <h1 id="title"></h1><span class="muted" id="subtitle"></span><span id="status"></span>
</header>
<div id="graph"><svg id="svg"><g id="viewport"></g></svg>
  <div id="zoom"><button id="zoomin" title="zoom in">+</button><button id="zoomout" title="zoom out">&minus;</button><button id="fit" title="fit">&#9634;</button></div>
</div>
<aside>
  <div class="tabs"><button data-panel="summary" class="on">Summary</button><button data-panel="details">Node</button><button data-panel="nodes">Nodes</button><button data-panel="chart">Chart</button></div>
  <div class="panel on" id="summary"></div>
  <div class="panel" id="details"><p class="muted">Click a node in the graph.</p></div>
  <div class="panel" id="nodes"></div>
  <div class="panel" id="chart"></div>
</aside>
<script type="application/json" id="data">__DATA__</script>
<script>
"use strict";
const D = JSON.parse(document.getElementById("data").textContent);
const NS = "http://www.w3.org/2000/svg";
const svg = document.getElementById("svg"), view = document.getElementById("viewport");
const fmt = v => v === null || v === undefined ? "?" : Number(v).toLocaleString("en-US");
// Every string from the model reaches the page as text (text nodes, attributes): never markup.
const h = (tag, props, ...children) => {
  const e = document.createElement(tag);
  for (const k in props || {}) { if (k === "class") e.className = props[k]; else if (k === "style") e.style.cssText = props[k]; else e.setAttribute(k, props[k]); }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
};
const fill = (id, ...children) => document.getElementById(id).replaceChildren(...children.flat(Infinity).filter(c => c !== null && c !== undefined));
const pairs = list => h("dl", {}, list.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
const total = (v, unknown) => unknown ? `at least ${fmt(v)} (${unknown} node${unknown === 1 ? "" : "s"} unknown)` : fmt(v);
const el = (name, attrs, parent) => { const e = document.createElementNS(NS, name); for (const k in attrs) e.setAttribute(k, attrs[k]); if (parent) parent.appendChild(e); return e; };
const W = D.box.w, H = D.box.h;
const boxes = new Map(D.boxes.map(b => [b.id, b]));
const boxOfNode = new Map(); D.boxes.forEach(b => b.members.forEach(m => boxOfNode.set(m, b.id)));

document.getElementById("title").textContent = D.model.name;
document.getElementById("subtitle").textContent = `${D.model.format}: ${D.model.path} · ${D.table.length} nodes` + (D.collapsed ? ` (element-wise ops folded into ${D.boxes.length} boxes)` : "");
const counts = {error: 0, warning: 0, info: 0}; D.diagnostics.forEach(d => counts[d.severity]++);
fill("status", h("b", {style: "color:var(--error)"}, `${counts.error} error(s)`), " · ", h("b", {style: "color:var(--warning)"}, `${counts.warning} warning(s)`), ` · ${counts.info} info`);

// -- graph -------------------------------------------------------------------------------------
const edgeLayer = el("g", {}, view), boxLayer = el("g", {}, view);
let side = 1;
for (const [a, b, label, span] of D.edges) {
  const s = boxes.get(a), t = boxes.get(b);
  const x1 = s.x, y1 = s.y + H, x2 = t.x, y2 = t.y, my = (y1 + y2) / 2;
  let d = `M${x1},${y1} C${x1},${my} ${x2},${my} ${x2},${y2}`, lx = (x1 + x2) / 2 + 4;
  if (span > 1 && Math.abs(x1 - x2) < W) {  // a long edge (a skip connection): arc beside the boxes
    side = -side; const bend = side * (W / 2 + 24 + Math.min(span, 12) * 8);
    d = `M${x1},${y1} C${x1 + bend},${y1 + 40} ${x2 + bend},${y2 - 40} ${x2},${y2}`; lx = (x1 + x2) / 2 + bend * 0.75;
  }
  el("path", {class: "edge", d}, edgeLayer);
  const text = el("text", {class: "label", x: lx, y: my}, edgeLayer); text.textContent = label;
}
const fit = (s, n) => s.length > n ? s.slice(0, n - 1) + "…" : s;
for (const b of D.boxes) {
  const g = el("g", {class: "box" + (b.severity ? " " + b.severity : ""), transform: `translate(${b.x - W / 2},${b.y})`, "data-id": b.id}, boxLayer);
  el("rect", {width: W, height: H}, g);
  const lines = [[fit(b.name, 30), "name"], [fit(b.ops, 32), ""], [b.shape, ""], [`RF ${b.rf} · ${fmt(b.params)} params`, "muted"]];
  lines.forEach(([text, cls], i) => { const t = el("text", {x: 8, y: 16 + i * 15, class: cls}, g); t.textContent = text; });
  const title = el("title", {}, g); title.textContent = `${b.members.join(" → ")}\n${b.shape}`;
  g.addEventListener("click", ev => { ev.stopPropagation(); select(b.id, false); });
}

let scale = 1, tx = 0, ty = 0;
const apply = () => { view.setAttribute("transform", `translate(${tx},${ty}) scale(${scale})`); svg.classList.toggle("near", scale >= 0.75); };
function fitAll() {
  const xs = D.boxes.map(b => b.x), ys = D.boxes.map(b => b.y);
  const minX = Math.min(...xs) - W, maxX = Math.max(...xs) + W, minY = Math.min(...ys) - 20, maxY = Math.max(...ys) + H + 20;
  const r = svg.getBoundingClientRect();
  scale = Math.max(Math.min(r.width / (maxX - minX), r.height / (maxY - minY), 1.2), 0.5);  // readable, scroll for more
  tx = r.width / 2 - ((minX + maxX) / 2) * scale; ty = 20 - minY * scale; apply();
}
function zoomAt(factor, cx, cy) { const ns = Math.min(4, Math.max(0.05, scale * factor)); tx = cx - (cx - tx) * ns / scale; ty = cy - (cy - ty) * ns / scale; scale = ns; apply(); }
svg.addEventListener("wheel", ev => { ev.preventDefault(); const r = svg.getBoundingClientRect(); zoomAt(ev.deltaY < 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top); }, {passive: false});
let drag = null;
svg.addEventListener("mousedown", ev => { drag = {x: ev.clientX - tx, y: ev.clientY - ty}; document.getElementById("graph").classList.add("dragging"); });
window.addEventListener("mousemove", ev => { if (drag) { tx = ev.clientX - drag.x; ty = ev.clientY - drag.y; apply(); } });
window.addEventListener("mouseup", () => { drag = null; document.getElementById("graph").classList.remove("dragging"); });
const center = () => { const r = svg.getBoundingClientRect(); return [r.width / 2, r.height / 2]; };
document.getElementById("zoomin").onclick = () => zoomAt(1.3, ...center());
document.getElementById("zoomout").onclick = () => zoomAt(1 / 1.3, ...center());
document.getElementById("fit").onclick = fitAll;

function select(id, focus) {
  document.querySelectorAll(".box.selected").forEach(e => e.classList.remove("selected"));
  const g = boxLayer.querySelector(`[data-id="${id}"]`); if (g) g.classList.add("selected");
  const b = boxes.get(id);
  if (focus) { const r = svg.getBoundingClientRect(); scale = Math.max(scale, 0.9); tx = r.width / 2 - b.x * scale; ty = r.height / 3 - b.y * scale; apply(); }
  const rows = D.table.filter(n => b.members.includes(n.name));
  fill("details", rows.map(n => [
    h("h2", {}, n.name),
    pairs([["op", n.op], ["output", n.shape], ["receptive field", `${n.rf} (stride ${n.stride})`], ["params", fmt(n.params)],
           ["MACs", fmt(n.macs)], ["activations", `${fmt(n.memory)} bytes`]]),
    D.diagnostics.filter(d => d.node === n.name).map(d => h("div", {class: `finding ${d.severity}`}, h("code", {}, d.code), " ", d.message)),
  ]));
  show("details");
}
svg.addEventListener("click", () => document.querySelectorAll(".box.selected").forEach(e => e.classList.remove("selected")));

// -- side panels -------------------------------------------------------------------------------
function show(panel) {
  document.querySelectorAll(".tabs button").forEach(b => b.classList.toggle("on", b.dataset.panel === panel));
  document.querySelectorAll(".panel").forEach(p => p.classList.toggle("on", p.id === panel));
}
document.querySelectorAll(".tabs button").forEach(b => b.onclick = () => show(b.dataset.panel));

const t = D.totals, rf = D.receptive_field;
const totals = [["inputs", D.inputs.map(i => i.name + " " + i.shape).join(", ")], ["params", total(t.params, t.unknown.params)],
                ["buffers", total(t.buffers, t.unknown.buffers)], ["MACs", `${total(t.macs, t.unknown.macs)} per sample`],
                ["activations", `${total(t.memory.bytes, t.unknown.memory)} bytes per sample`]];
if (t.per_batch) totals.push([`per batch of ${t.per_batch.size}`, `${total(t.per_batch.macs, t.unknown.macs)} MACs, ${total(t.per_batch.memory.bytes, t.unknown.memory)} bytes`]);
if (rf) totals.push(["receptive field", `${rf.size.join("x")} at ${rf.node} (stride ${rf.stride.join("x")}) on a ${rf.input.join("x")} input`]);
fill("summary", h("h2", {}, "Totals"), pairs(totals), h("h2", {}, `Findings (${D.diagnostics.length})`),
     D.diagnostics.map(d => h("div", {class: `finding ${d.severity}`, "data-node": d.node || ""}, h("code", {}, d.code), " ", h("b", {}, d.node || ""), " ", d.message)),
     D.diagnostics.length ? null : h("p", {class: "muted"}, "No findings."), h("p", {class: "muted"}, `convlint ${D.version}`));
document.querySelectorAll("#summary .finding").forEach(f => f.onclick = () => { const id = boxOfNode.get(f.dataset.node); if (id !== undefined) select(id, true); });

const columns = [["name", "name"], ["op", "op"], ["shape", "output"], ["rf", "RF"], ["stride", "stride"], ["params", "params", 1], ["macs", "MACs", 1]];
const severityOf = new Map(); D.diagnostics.forEach(d => { if (d.node && (severityOf.get(d.node) !== "error")) severityOf.set(d.node, d.severity); });
let sortKey = null, sortDir = 1;
function table() {
  const rows = D.table.slice();
  if (sortKey) rows.sort((a, b) => { const x = a[sortKey], y = b[sortKey]; return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * sortDir; });
  const head = h("tr", {}, columns.map(([k, label, num]) => h("th", {"data-key": k, class: num ? "num" : ""}, label + (sortKey === k ? (sortDir > 0 ? " ▲" : " ▼") : ""))));
  const body = rows.map(r => h("tr", {class: severityOf.get(r.name) || "", "data-node": r.name}, columns.map(([k, , num]) => h("td", {class: num ? "num" : ""}, num ? fmt(r[k]) : r[k]))));
  fill("nodes", h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
  document.querySelectorAll("#nodes th").forEach(th => th.onclick = () => { sortDir = sortKey === th.dataset.key ? -sortDir : 1; sortKey = th.dataset.key; table(); });
  document.querySelectorAll("#nodes tbody tr").forEach(tr => tr.onclick = () => select(boxOfNode.get(tr.dataset.node), true));
}
table();

function chart() {
  const c = document.getElementById("chart");
  if (!D.chart.length) { fill("chart", h("p", {class: "muted"}, "No spatial feature maps.")); return; }
  fill("chart", h("h2", {}, "Receptive field and feature-map size by depth"),
       h("p", {class: "muted"}, "log scale; ", h("span", {style: "color:#c62828"}, "receptive field"), ", ", h("span", {style: "color:#1565c0"}, "feature-map size")));
  const w = 400, ht = 260, pad = 34, s = el("svg", {width: w, height: ht, viewBox: `0 0 ${w} ${ht}`}, c);
  const values = D.chart.flatMap(p => [p.rf, p.size]).filter(v => v > 0);
  const lo = Math.log2(Math.min(...values)), hi = Math.log2(Math.max(...values)) || 1;
  const X = i => pad + i * (w - pad - 8) / Math.max(1, D.chart.length - 1);
  const Y = v => ht - pad - (Math.log2(Math.max(v, 1)) - lo) * (ht - 2 * pad) / Math.max(hi - lo, 1);
  el("line", {x1: pad, y1: ht - pad, x2: w - 8, y2: ht - pad, stroke: "#9aa5b1"}, s);
  el("line", {x1: pad, y1: 8, x2: pad, y2: ht - pad, stroke: "#9aa5b1"}, s);
  for (const [key, colour] of [["rf", "#c62828"], ["size", "#1565c0"]]) {
    el("polyline", {fill: "none", stroke: colour, "stroke-width": 2, points: D.chart.map((p, i) => `${X(i)},${Y(p[key])}`).join(" ")}, s);
  }
  for (const v of [Math.min(...values), Math.max(...values)]) { const tx = el("text", {x: 2, y: Y(v) + 4, "font-size": 10}, s); tx.textContent = v; }
  const caption = el("text", {x: pad, y: ht - 10, "font-size": 10}, s); caption.textContent = `depth (${D.chart.length} spatial nodes)`;
}
chart();
fitAll();
// Open where the shapes go wrong: the first error (else warning) in the graph.
const worst = D.diagnostics.find(d => d.severity === "error" && boxOfNode.has(d.node)) || D.diagnostics.find(d => d.severity === "warning" && boxOfNode.has(d.node));
if (worst) { select(boxOfNode.get(worst.node), true); show("summary"); }
window.addEventListener("resize", fitAll);
document.body.dataset.ready = "true";
</script>
</body>
</html>
"""
