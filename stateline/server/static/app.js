// stateline conversation viewer: plain JS, works offline (the graph tab: graph.js on the vendored dagre.min.js).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { token: localStorage.getItem("stateline.token") || "", me: null, thread: null, lastOffset: 0,
                busy: false, bubble: null, bubbleAgent: null, lastAgent: null, tools: {} };

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function notice(text, isError = false) {
  const n = $("#notice");
  n.textContent = text; n.hidden = !text; n.className = isError ? "error" : "";
}

async function api(path, options = {}) {
  const headers = Object.assign({ "Authorization": "Bearer " + state.token }, options.headers || {});
  if (options.body && typeof options.body !== "string") { options.body = JSON.stringify(options.body); headers["Content-Type"] = "application/json"; }
  const res = await fetch(path, Object.assign({}, options, { headers }));
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    const message = (data.error && data.error.message) || res.statusText;
    const err = new Error(message); err.status = res.status; throw err;
  }
  return data;
}

// -- SSE over fetch (so the token travels in a header) ---------------------------------
async function readSSE(path, options, onEvent) {
  const headers = Object.assign({ "Authorization": "Bearer " + state.token, "Accept": "text/event-stream" }, options.headers || {});
  if (options.body) { options.body = JSON.stringify(options.body); headers["Content-Type"] = "application/json"; }
  const res = await fetch(path, Object.assign({}, options, { headers }));
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    const err = new Error((data.error && data.error.message) || res.statusText); err.status = res.status; throw err;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
      if (data) onEvent(JSON.parse(data));
    }
  }
}

// -- chat rendering ---------------------------------------------------------------------
function scrollDown() { const m = $("#messages"); m.scrollTop = m.scrollHeight; }

function addMessage(role, text, agent) {
  const node = el("div", { class: "msg " + role });
  if (role === "assistant") node.append(el("span", { class: "who", text: agent || "assistant" }));
  const body = el("span", { class: "text", text: text });
  node.append(body);
  $("#messages").append(node); scrollDown();
  return node;
}

function addBanner(text) { $("#messages").append(el("div", { class: "banner", text })); scrollDown(); }

function setAgent(agent, live) {
  const ind = $("#active-agent");
  ind.textContent = "agent: " + (agent || "–");
  ind.classList.toggle("live", !!live);
  highlightGraph(agent);
}

function setStatus(status) {
  const b = $("#thread-status");
  b.textContent = status || ""; b.className = "badge " + (status || "");
}

function handleEvent(ev) {
  if (ev.offset) state.lastOffset = Math.max(state.lastOffset, ev.offset);
  switch (ev.type) {
    case "agent_switch":
      addBanner(ev.from_agent ? `Switched from ${ev.from_agent} to ${ev.to_agent}` : `Handed to ${ev.to_agent}`);
      break;
    case "agent_start":
      setAgent(ev.agent, true); state.bubble = null; state.bubbleAgent = ev.agent;
      break;
    case "content_chunk":
      if (!state.bubble || state.bubbleAgent !== ev.agent) {
        state.bubble = addMessage("assistant", "", ev.agent); state.bubble.classList.add("streaming"); state.bubbleAgent = ev.agent;
      }
      state.bubble.querySelector(".text").textContent += ev.text; scrollDown();
      break;
    case "tool_execution": {
      const line = el("div", { class: "tool", text: `⚙ ${ev.agent}.${ev.tool}(${JSON.stringify(ev.input)})` });
      state.tools[ev.call_id] = line; $("#messages").append(line); state.bubble = null; scrollDown();
      break;
    }
    case "tool_result": {
      const line = state.tools[ev.call_id];
      if (line) line.textContent += ev.error ? `  ✗ ${ev.error}` : `  ✓ ${Math.round(ev.duration_ms || 0)} ms`;
      break;
    }
    case "agent_complete":
      if (state.bubble) state.bubble.classList.remove("streaming");
      else if (ev.text) addMessage("assistant", ev.text, ev.agent);
      state.bubble = null; state.lastAgent = ev.agent;
      break;
    case "error":
      $("#messages").append(el("div", { class: "err", text: `Error${ev.node ? " in " + ev.node : ""}: ${ev.message}` })); scrollDown();
      break;
    case "waiting_input":
      showApproval(ev);
      break;
    case "resumed":
      addBanner(ev.reason === "decision" ? `Decision: ${ev.decision.action}`
        : ev.reason === "restart" ? "The failed turn is abandoned; starting anew" : `Recovering: ${ev.detail || "the unfinished turn"}`);
      break;
    case "conversation_end":
      setStatus(ev.status === "completed" ? "idle" : ev.status);
      setAgent(ev.agent, false);
      break;
  }
}

function showApproval(ev) {
  const box = $("#approval");
  if (!ev) { box.hidden = true; return; }
  $("#approval-question").textContent = ev.question || "Approve this draft?";
  const table = $("#approval-draft"); table.replaceChildren();
  for (const [k, v] of Object.entries(ev.draft || {})) {
    const input = el("input", { "data-field": k }); input.value = v;
    table.append(el("tr", {}, el("td", { text: k }), el("td", {}, input)));
  }
  box.hidden = false;
  setComposer(false);
}

function setComposer(enabled) {
  $("#message").disabled = !enabled; $("#send").disabled = !enabled;
}

// -- threads ---------------------------------------------------------------------------
async function loadThreads() {
  const data = await api("/api/threads");
  const list = $("#threads"); list.replaceChildren();
  for (const t of data.threads) {
    const li = el("li", { "data-thread": t.thread_id },
      el("span", { class: "tid", text: t.title || t.thread_id }), el("span", { class: "badge " + t.status, text: t.status }));
    if (state.thread === t.thread_id) li.classList.add("selected");
    li.onclick = () => openThread(t.thread_id);
    list.append(li);
  }
}

async function openThread(threadId) {
  state.thread = threadId; state.bubble = null; state.tools = {};
  const t = await api("/api/threads/" + encodeURIComponent(threadId));
  $("#thread-title").textContent = t.title || t.thread_id;
  setStatus(t.status);
  state.lastOffset = t.last_offset || 0;
  const box = $("#messages"); box.replaceChildren();
  let last = null;
  for (const m of t.messages || []) {
    if (m.role === "assistant" && m.agent && m.agent !== "supervisor" && m.agent !== last) {
      if (last) addBanner(`Switched from ${last} to ${m.agent}`); else addBanner(`Handed to ${m.agent}`);
      last = m.agent;
    }
    addMessage(m.role === "user" ? "user" : "assistant", m.text, m.agent);
  }
  setAgent(t.active_agent, false);
  const waiting = t.status === "waiting" && t.interrupt;
  showApproval(waiting ? t.interrupt : null);
  setComposer(!waiting && !state.busy);
  document.querySelectorAll("#threads li").forEach((li) => li.classList.toggle("selected", li.dataset.thread === threadId));
  loadTimeline();
}

async function streamTurn(path, body) {
  const threadId = state.thread;
  state.busy = true; setComposer(false); setStatus("running");
  try {
    await readSSE(path, { method: "POST", body }, handleEvent);
  } catch (err) {
    if (err.status) { notice(err.message, true); }
    else {  // the connection broke: catch up from the last offset we saw
      notice("Connection lost; catching up…");
      await readSSE(`/api/threads/${encodeURIComponent(threadId)}/events`, { headers: { "Last-Event-ID": String(state.lastOffset) } }, handleEvent);
      notice("");
    }
  } finally {
    state.busy = false;
    if (state.thread === threadId && $("#approval").hidden) setComposer(true);
    loadThreads(); loadTimeline();
  }
}

async function send(text) {
  if (!state.thread) await newThread();
  addMessage("user", text);
  await streamTurn(`/api/threads/${encodeURIComponent(state.thread)}/messages`, { message: text });
}

async function decide(action) {
  const body = { action };
  if (action === "edit") {
    body.fields = {};
    document.querySelectorAll("#approval-draft input").forEach((i) => { body.fields[i.dataset.field] = i.value; });
  }
  showApproval(null);
  await streamTurn(`/api/threads/${encodeURIComponent(state.thread)}/resume`, body);
}

async function newThread() {
  const t = await api("/api/threads", { method: "POST", body: {} });
  await loadThreads();
  await openThread(t.thread_id);
}

// -- run timeline ------------------------------------------------------------------------
async function loadTimeline() {
  if (!state.thread) return;
  const box = $("#timeline");
  const data = await api(`/api/threads/${encodeURIComponent(state.thread)}/runs`);
  box.replaceChildren();
  box.classList.remove("muted");
  if (!data.runs.length) { box.textContent = "No runs yet."; return; }
  for (const run of data.runs.slice().reverse()) {
    const node = el("div", { class: "run", "data-run": run.run_id });
    const label = run.kind === "turn" ? `“${String(run.input || "").slice(0, 40)}”` : run.kind;
    node.append(el("div", { class: "head" }, el("b", { text: label }),
      el("span", { class: "badge " + run.status, text: `${run.status} · ${run.duration_ms == null ? "…" : Math.round(run.duration_ms) + " ms"}` })));
    const longest = Math.max(1, ...run.steps.map((s) => s.duration_ms || 0));
    for (const s of run.steps) {
      const name = (s.agent && s.namespace ? s.agent + "." : "") + s.node;
      const row = el("div", { class: "step " + s.status },
        el("span", { class: "name", text: name, title: s.namespace || name }),
        el("div", {}, el("div", { class: "bar", style: `width:${Math.max(2, 100 * (s.duration_ms || 0) / longest)}%` })),
        el("span", { class: "ms", text: s.duration_ms == null ? s.status : s.duration_ms.toFixed(1) + " ms" }));
      if (s.error) row.append(el("span", { class: "error", text: "✗ " + s.error }));
      node.append(row);
    }
    for (const e of run.effects || []) {
      node.append(e.in_doubt
        ? el("div", { class: "doubt", text: `⚠ effect in doubt: ${e.name} (started, outcome unknown)` })
        : el("div", { class: "effect " + e.status, text: `effect ${e.name}: ${e.status}${e.error ? " — " + e.error : ""}` }));
    }
    box.append(node);
  }
}

// -- graph picture ------------------------------------------------------------------------
let graphData = null;
async function loadGraph() {
  graphData = await api("/api/graph");
  $("#mermaid").textContent = graphData.mermaid;
  drawGraph();
}

function drawGraph() { stateGraph.draw($("#graph"), graphData); highlightGraph(state.graphAgent); }

function highlightGraph(agent) {
  state.graphAgent = agent;
  document.querySelectorAll("#graph .node, #graph .cluster").forEach((n) => n.classList.toggle("active", !!agent && n.dataset.agent === agent));
}

// -- start -------------------------------------------------------------------------------
async function signIn() {
  if (!state.token) { notice("Enter an API token to see your threads."); return; }
  try {
    state.me = await api("/api/me");
    $("#who").textContent = `${state.me.user_id}${state.me.role === "admin" ? " (admin)" : ""}`;
    notice("");
    setComposer(true);
    await loadThreads();
    await loadGraph();
  } catch (err) {
    notice(err.status === 401 ? "That token is not known to this server." : err.message, true);
  }
}

$("#token-form").onsubmit = (e) => {
  e.preventDefault();
  state.token = $("#token").value.trim();
  localStorage.setItem("stateline.token", state.token);
  $("#token").value = "";
  signIn();
};
$("#composer").onsubmit = (e) => {
  e.preventDefault();
  const text = $("#message").value.trim();
  if (!text || state.busy) return;
  $("#message").value = "";
  send(text).catch((err) => notice(err.message, true));
};
$("#new-thread").onclick = () => newThread().catch((err) => notice(err.message, true));
$("#approve").onclick = () => decide("approve");
$("#reject").onclick = () => decide("reject");
$("#edit").onclick = () => decide("edit");
document.querySelectorAll(".tabs button").forEach((b) => {
  b.onclick = () => {
    document.querySelectorAll(".tabs button").forEach((x) => x.classList.toggle("active", x === b));
    document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== "tab-" + b.dataset.tab; });
    $("main").classList.toggle("graph-open", b.dataset.tab === "graph");  // the picture gets a wider panel
  };
});
signIn();
