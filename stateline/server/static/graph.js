// The graph tab's picture: LangGraph's nodes and edges, laid out by the vendored dagre (dagre.min.js).
//
// Two levels, so nothing can overlap: every expanded agent subgraph is laid out on its own first,
// then placed as one box (its size, plus room for its label) in the layout of the supervisor
// graph; dagre never overlaps the boxes of one layout. Node boxes are as wide as their measured
// labels. Edges entering or leaving a subgraph follow the outer layout to the subgraph's border,
// then go straight to the inner node.
"use strict";

const stateGraph = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const NODE_H = 28, PAD_X = 14, CLUSTER_PAD = 12, CLUSTER_HEAD = 22, MIN_SCALE = 0.8;
  const LOOP_W = 18, MARGIN = 6;
  const LAYOUT = { rankdir: "TB", nodesep: 22, ranksep: 34, edgesep: 12, marginx: 0, marginy: 0 };
  const groupKey = (g) => "#group:" + g;
  const labelOf = (n) => n.name.replace(/^__|__$/g, "");
  const isTerminal = (n) => n.name.startsWith("__");

  function mk(tag, attrs, parent) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.append(node);
    return node;
  }

  // widths of the texts as the page draws them (an off-screen SVG with the same classes)
  function measure(items) {
    const svg = mk("svg", { class: "graph-svg", style: "position:absolute;left:-9999px;top:0;visibility:hidden" }, document.body);
    const widths = items.map(([cls, text]) => {
      const t = mk("text", { class: cls }, svg);
      t.textContent = text;
      return t.getComputedTextLength();
    });
    svg.remove();
    return widths;
  }

  // one dagre layout: boxes {id: {x, y, width, height}} (top-left corner), edge points by index
  function layoutLevel(boxes, edges) {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph(Object.assign({}, LAYOUT));
    for (const [id, b] of Object.entries(boxes)) g.setNode(id, { width: b.width, height: b.height });
    // a self-loop gets room beside its node (dagre reserves a label's width there); drawn by loopPath
    edges.forEach(([v, w], i) => g.setEdge(v, w, v === w ? { width: LOOP_W, height: 1 } : {}, String(i)));
    dagre.layout(g);
    const placed = {};
    for (const id of Object.keys(boxes)) {
      const n = g.node(id);
      placed[id] = { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height };
    }
    // a self-loop's points: where loopPath will reach (dagre's own points for it are not drawn)
    const points = edges.map(([v, w], i) => (v === w ? [{ x: placed[v].x + placed[v].width + LOOP_W, y: placed[v].y }]
      : g.edge(v, w, String(i)).points.map((p) => ({ x: p.x, y: p.y }))));
    const all = bounds(Object.values(placed), points, 0);  // edges' bends included: dagre's own width leaves them out
    for (const b of Object.values(placed)) { b.x -= all.x; b.y -= all.y; }
    for (const q of points.flat()) { q.x -= all.x; q.y -= all.y; }
    return { boxes: placed, points, width: all.width, height: all.height };
  }

  // where the line from the centre of box b towards point p leaves b
  function border(b, p) {
    const cx = b.x + b.width / 2, cy = b.y + b.height / 2, dx = p.x - cx, dy = p.y - cy;
    if (!dx && !dy) return { x: cx, y: cy };
    const s = Math.min(dx ? (b.width / 2) / Math.abs(dx) : Infinity, dy ? (b.height / 2) / Math.abs(dy) : Infinity);
    return { x: cx + dx * s, y: cy + dy * s };
  }

  // each expanded subgraph laid out on its own: {group: {layout, edges, box: its size in the outer layout}}
  function layoutGroups(data, size, labelWidth, known) {
    const inner = {};
    for (const g of Object.keys(labelWidth)) {
      const members = Object.fromEntries(data.nodes.filter((n) => n.group === g).map((n) => [n.id, size[n.id]]));
      const edges = known.filter((e) => members[e.source] && members[e.target]);
      const l = layoutLevel(members, edges.map((e) => [e.source, e.target]));
      const width = Math.max(l.width, Math.ceil(labelWidth[g]) + CLUSTER_PAD) + 2 * CLUSTER_PAD;
      inner[g] = { layout: l, edges, box: { width, height: l.height + CLUSTER_HEAD + CLUSTER_PAD } };
    }
    return inner;
  }

  function layout(data) {
    const groups = [...new Set(data.nodes.map((n) => n.group).filter(Boolean))];
    const widths = measure([...data.nodes.map((n) => ["node-label", labelOf(n)]), ...groups.map((g) => ["cluster-label", g])]);
    const size = {};
    data.nodes.forEach((n, i) => { size[n.id] = { width: Math.ceil(widths[i]) + 2 * PAD_X, height: NODE_H }; });
    const groupOf = Object.fromEntries(data.nodes.map((n) => [n.id, n.group || null]));
    const known = data.edges.filter((e) => e.source in groupOf && e.target in groupOf);
    const inner = layoutGroups(data, size, Object.fromEntries(groups.map((g, i) => [g, widths[data.nodes.length + i]])), known);
    // the outer layout: the supervisor's own nodes, and one box per expanded subgraph
    const outerBoxes = Object.fromEntries(groups.map((g) => [groupKey(g), inner[g].box]));
    data.nodes.filter((n) => !n.group).forEach((n) => { outerBoxes[n.id] = size[n.id]; });
    const owner = (id) => (groupOf[id] ? groupKey(groupOf[id]) : id);
    const crossing = known.filter((e) => !groupOf[e.source] || groupOf[e.source] !== groupOf[e.target]);
    const outer = layoutLevel(outerBoxes, crossing.map((e) => [owner(e.source), owner(e.target)]));
    const boxes = {}, clusters = [], paths = [];
    data.nodes.filter((n) => !n.group).forEach((n) => { boxes[n.id] = outer.boxes[n.id]; });
    for (const g of groups) {  // move each subgraph's nodes and edges into its box
      const c = outer.boxes[groupKey(g)], l = inner[g].layout;
      const dx = c.x + (c.width - l.width) / 2, dy = c.y + CLUSTER_HEAD;
      clusters.push({ group: g, box: c });
      for (const [id, b] of Object.entries(l.boxes)) boxes[id] = { x: b.x + dx, y: b.y + dy, width: b.width, height: b.height };
      inner[g].edges.forEach((e, i) => paths.push({ edge: e, points: l.points[i].map((p) => ({ x: p.x + dx, y: p.y + dy })) }));
    }
    crossing.forEach((e, i) => {  // from the subgraph's border on to the node inside
      const pts = outer.points[i];
      if (groupOf[e.source]) pts.unshift(border(boxes[e.source], pts[0]));
      if (groupOf[e.target]) pts.push(border(boxes[e.target], pts[pts.length - 1]));
      paths.push({ edge: e, points: pts });
    });
    for (const p of paths) p.d = p.edge.source === p.edge.target ? loopPath(boxes[p.edge.source]) : pathOf(p.points);
    const extent = bounds([...Object.values(boxes), ...clusters.map((c) => c.box)], paths.map((p) => p.points), MARGIN);
    return { boxes, clusters, paths, view: extent };
  }

  // the extent of a list of boxes and of edge points (lists of points), plus a margin
  function bounds(boxes, points, margin) {
    const xs = [], ys = [];
    for (const b of boxes) { xs.push(b.x, b.x + b.width); ys.push(b.y, b.y + b.height); }
    for (const q of points.flat()) { xs.push(q.x); ys.push(q.y); }
    const x = Math.min(...xs) - margin, y = Math.min(...ys) - margin;
    return { x, y, width: Math.max(...xs) + margin - x, height: Math.max(...ys) + margin - y };
  }

  // a self-loop on the right side of box b, in the room dagre kept there
  function loopPath(b) {
    const x = b.x + b.width, y = b.y + b.height / 2;
    return `M${x},${y - 7}C${x + LOOP_W},${y - 16} ${x + LOOP_W},${y + 16} ${x},${y + 7}`;
  }

  // a B-spline through the points (as d3's curveBasis), ending exactly on the last point
  function pathOf(pts) {
    let d = `M${pts[0].x},${pts[0].y}`;
    if (pts.length === 2) return d + `L${pts[1].x},${pts[1].y}`;
    const f = (v) => v.toFixed(1);
    let [x0, y0] = [pts[0].x, pts[0].y], [x1, y1] = [pts[1].x, pts[1].y];
    const bezier = (x, y) => { d += `C${f((2 * x0 + x1) / 3)},${f((2 * y0 + y1) / 3)} ${f((x0 + 2 * x1) / 3)},${f((y0 + 2 * y1) / 3)} ${f((x0 + 4 * x1 + x) / 6)},${f((y0 + 4 * y1 + y) / 6)}`; };
    d += `L${f((5 * x0 + x1) / 6)},${f((5 * y0 + y1) / 6)}`;
    for (const p of pts.slice(2)) { bezier(p.x, p.y); [x0, y0, x1, y1] = [x1, y1, p.x, p.y]; }
    bezier(x1, y1);
    return d + `L${x1},${y1}`;
  }

  function draw(container, data) {
    const { boxes, clusters, paths, view } = layout(data);
    const { width, height } = view;
    const svg = mk("svg", { class: "graph-svg", viewBox: `${view.x} ${view.y} ${width} ${height}`, role: "img", "aria-label": "agent graph" });
    // natural size; shrunk to the panel's width but never below MIN_SCALE (the panel scrolls then)
    svg.style.width = `${width}px`; svg.style.maxWidth = "100%"; svg.style.minWidth = `${Math.round(width * MIN_SCALE)}px`;
    const marker = mk("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, mk("defs", {}, svg));
    mk("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow-head" }, marker);
    for (const { group, box } of clusters) {
      const g = mk("g", { class: "cluster", "data-agent": group }, svg);
      mk("rect", { x: box.x, y: box.y, width: box.width, height: box.height, rx: 8 }, g);
    }
    for (const { edge, d } of paths) {
      mk("path", { class: "edge" + (edge.conditional ? " conditional" : ""), d, "marker-end": "url(#arrow)",
                   "data-source": edge.source, "data-target": edge.target }, svg);
    }
    for (const { group, box } of clusters) {  // above the edges, on a halo: an edge passing under stays readable
      mk("text", { class: "cluster-label", "data-agent": group, x: box.x + CLUSTER_PAD, y: box.y + CLUSTER_HEAD / 2,
                   "dominant-baseline": "central" }, svg).textContent = group;
    }
    for (const n of data.nodes) {
      const b = boxes[n.id];
      const g = mk("g", { class: "node" + (isTerminal(n) ? " terminal" : ""), "data-node": n.id, "data-agent": n.group || n.id }, svg);
      mk("rect", { x: b.x, y: b.y, width: b.width, height: b.height, rx: isTerminal(n) ? NODE_H / 2 : 5 }, g);
      mk("text", { class: "node-label", x: b.x + b.width / 2, y: b.y + b.height / 2, "text-anchor": "middle", "dominant-baseline": "central" }, g)
        .textContent = labelOf(n);
    }
    container.replaceChildren(svg);
  }

  return { draw, layout };
})();
