// kaizen-lab step debugger: one pane (toolbar, SVG graph, step history, state panel, edit + fork).
// The kernel sends everything in the `view` trait; user actions go back as {cmd: ...} messages.
const SVG = "http://www.w3.org/2000/svg";
const ICONS = { pending: "○", running: "▶", done: "✓", failed: "✗", skipped: "↷" };
const REASONS = {
  start: "ready: next to run", step: "paused after a step", breakpoint: "paused at a breakpoint",
  error: "stopped by an error", fork: "forked: next to run", replay: "replay: next to run",
};

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

const present = (...items) => items.filter((x) => x);

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) if (c) node.append(c);
  return node;
}

function json(value) {
  return JSON.stringify(value, null, 2);
}

function render({ model, el }) {
  const open = new Set(["outputs"]);       // state-panel sections the user opened (kept across steps)
  let focusNode = null;                    // keep keyboard focus on a node across redraws
  let draft = null;                        // editor text typed by the user for the selected step
  let draftFor = null;
  const root = h("div", { class: "kaizen-debugger", "data-lm-suppress-shortcuts": "true" });
  el.append(root);
  const send = (msg) => model.send(msg);

  root.addEventListener("keydown", (e) => {
    const typing = ["TEXTAREA", "INPUT"].includes(e.target.tagName);
    let cmd = null;
    if (e.key === "F10") cmd = "step";
    else if (e.key === "F8" && e.shiftKey) cmd = "stop";
    else if (e.key === "F8") cmd = "continue";
    else if (e.key === "F5" && e.shiftKey) cmd = "restart";
    if (cmd && !(typing && !e.key.startsWith("F"))) {
      e.preventDefault();
      e.stopPropagation();
      if (!model.get("view").done || cmd === "restart") send({ cmd });
    }
  });

  function button(label, cmd, key, disabled, cls) {
    return h("button", {
      class: `kaizen-debug-btn kaizen-debug-${cls || cmd}`, type: "button", disabled,
      "aria-keyshortcuts": key.replace("Shift+", "Shift+"), title: `${label} (${key})`,
      onclick: () => send({ cmd }),
    }, h("span", { text: label }), h("kbd", { text: key }));
  }

  function graph(v) {
    const g = v.geometry;
    const width = Math.max(g.width, 160);
    const svg = s("svg", { class: "kz-graph", width, height: g.height, viewBox: `0 0 ${width} ${g.height}`,
      role: "group", "aria-label": `execution graph of ${v.title}` });
    const defs = s("defs", {}, s("marker", { id: "kz-arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
      markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z",
      class: "kz-arrowhead" })));
    svg.append(defs);
    for (const e of g.edges) {
      const d = e.points.map((p, i) => `${i ? "L" : "M"}${p[0]},${p[1]}`).join(" ");
      svg.append(s("path", { d, class: `kz-edge${e.cycle ? " kz-edge-loop" : ""}`, "marker-end": "url(#kz-arrow)",
        "data-src": e.src, "data-dst": e.dst }));
    }
    for (const e of g.edges) {
      if (!e.box) continue;
      const [cx, cy, w, hh] = e.box;
      const lab = s("g", { class: "kz-edge-label", "data-src": e.src, "data-dst": e.dst },
        s("title", {}, document.createTextNode(`${e.src} → ${e.dst}: ${e.title}`)),
        s("rect", { x: cx - w / 2, y: cy - hh / 2, width: w, height: hh, rx: 3 }),
        s("text", { x: cx, y: cy + 4, "text-anchor": "middle" }, document.createTextNode(e.label)));
      svg.append(lab);
    }
    for (const n of g.nodes) {
      const status = v.statuses[n.id] || "pending";
      const bp = v.breakpoints.includes(n.id);
      const cur = v.current === n.id;
      const ms = v.times[n.id];
      const x0 = n.x - n.w / 2, y0 = n.y - n.h / 2;
      const label = `${n.id}, ${status}${bp ? ", breakpoint set" : ""}${cur ? `, ${REASONS[v.reason] || v.reason}` : ""}`;
      const node = s("g", { class: `kz-node kz-status-${status}${cur ? " kz-current" : ""}${bp ? " kz-has-bp" : ""}`,
        "data-node": n.id, "data-status": status, tabindex: 0, role: "button", "aria-pressed": bp ? "true" : "false",
        "aria-label": `${label}. Enter toggles the breakpoint` },
        s("title", {}, document.createTextNode(`${n.id} · ${v.types[n.id] || ""}\n${status}${ms ? ` · ${ms} ms` : ""}`)));
      if (cur) node.append(s("rect", { class: "kz-ring", x: x0 - 5, y: y0 - 5, width: n.w + 10, height: n.h + 10, rx: 8 }));
      node.append(s("rect", { class: "kz-box", x: x0, y: y0, width: n.w, height: n.h, rx: 5 }));
      node.append(s("text", { class: "kz-node-label", x: n.x + 4, y: n.y + 4, "text-anchor": "middle" },
        document.createTextNode(`${ICONS[status] || ""} ${n.id}`)));
      if (bp) node.append(s("circle", { class: "kz-bp-mark", cx: x0, cy: n.y, r: 6 }));
      if (cur) {
        node.append(s("text", { class: "kz-stop-label", x: x0 + n.w + 12, y: n.y + 4, "data-reason": v.reason },
          document.createTextNode(`‖ ${v.reason}`)));
      }
      const toggle = () => { focusNode = n.id; send({ cmd: "toggle", node: n.id }); };
      node.addEventListener("click", toggle);
      node.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " " || e.key === "b" || e.key === "B") {
          e.preventDefault();
          e.stopPropagation();
          toggle();
        }
      });
      node.addEventListener("focus", () => { focusNode = n.id; });
      svg.append(node);
    }
    return svg;
  }

  function section(name, title, body) {
    const d = h("details", { class: `kaizen-debug-section kaizen-debug-${name}`, "data-section": name,
      open: open.has(name) }, h("summary", { text: title }), body);
    d.addEventListener("toggle", () => (d.open ? open.add(name) : open.delete(name)));
    return d;
  }

  function statePanel(v) {
    const d = v.detail;
    const box = h("div", { class: "kaizen-debug-detail", role: "region", "aria-label": "state of the selected step" });
    if (!d) {
      box.append(h("p", { class: "kaizen-empty", text: "No step has run yet — press Step (F10) or Continue (F8)." }));
      return box;
    }
    box.append(h("div", { class: "kaizen-debug-detail-head" },
      h("b", { text: `#${d.index + 1} ${d.node}` }), h("code", { text: d.type }),
      h("span", { class: `kz-pill kz-status-${d.status}`, text: `${ICONS[d.status] || ""} ${d.status}` }),
      h("span", { text: `${d.ms} ms` })));
    if (d.error) box.append(h("pre", { class: "kaizen-debug-node-error", role: "alert", text: d.error }));
    box.append(section("inputs", "inputs", h("pre", { tabindex: 0, text: json(d.inputs) })));
    box.append(section("outputs", "outputs", h("pre", { tabindex: 0, text: json(d.outputs) })));
    const rows = d.diff.map((c) => h("tr", { class: `kz-diff-${c.change}` }, h("td", { text: c.key }),
      h("td", { text: c.change }), h("td", { text: c.before === undefined ? "" : JSON.stringify(c.before) }),
      h("td", { text: c.after === undefined ? "" : JSON.stringify(c.after) })));
    box.append(section("diff", `changes vs previous step (${d.diff.length})`, d.diff.length
      ? h("table", { class: "kz-diff" }, h("tr", {}, h("th", { text: "key" }), h("th", { text: "change" }),
        h("th", { text: "before" }), h("th", { text: "after" })), ...rows)
      : h("p", { class: "kaizen-empty", text: "no change" })));
    if (d.editable) {
      const key = `${d.index}:${d.node}`;
      if (draftFor !== key) { draft = null; draftFor = key; }
      const area = h("textarea", { class: "kaizen-debug-editor", rows: 4, spellcheck: "false",
        "aria-label": `output of ${d.node} (JSON)`, "aria-describedby": "kz-edit-error" });
      area.value = draft ?? d.edit_text;
      area.addEventListener("input", () => { draft = area.value; });
      const err = h("div", { class: "kaizen-debug-edit-error", id: "kz-edit-error", role: "alert",
        text: v.edit_error || "" });
      box.append(section("edit", `edit output of ${d.node} and fork`, h("div", {}, area,
        h("button", { class: "kaizen-debug-btn kaizen-debug-fork", type: "button",
          onclick: () => send({ cmd: "fork", text: area.value }) }, h("span", { text: "Apply & fork" })), err)));
      if (v.edit_error) open.add("edit");
    }
    return box;
  }

  function historyList(v) {
    const list = h("ol", { class: "kaizen-debug-history", "aria-label": "step history" });
    if (!v.history.length) list.append(h("li", { class: "kaizen-empty", text: "no steps yet" }));
    const selected = v.detail ? v.detail.index : -1;
    for (const item of v.history) {
      const li = h("li", {},
        h("button", { type: "button", class: `kz-history-item${item.index === selected ? " kz-selected" : ""}`,
          "aria-current": item.index === selected ? "true" : false, "data-index": item.index,
          onclick: () => send({ cmd: "select", index: item.index }) },
        h("span", { class: `kz-icon kz-status-${item.status}`, "aria-hidden": "true", text: ICONS[item.status] || "" }),
        h("span", { text: `${item.node}${item.iteration ? ` #${item.iteration}` : ""}` }),
        h("span", { class: "kz-ms", text: `${item.ms} ms` })));
      list.append(li);
    }
    return list;
  }

  function draw() {
    const v = model.get("view");
    if (!v || !v.geometry) return;
    const active = document.activeElement;
    const keepFocus = active && root.contains(active) && active.classList?.contains("kz-node");
    const status = v.current
      ? `${REASONS[v.reason] || v.reason}: ${v.current}`
      : v.reason === "error" ? "stopped by an error" : v.finished ? "finished" : v.stopped ? "stopped" : "ready";
    root.replaceChildren(...present(
      h("div", { class: "kaizen-debug-toolbar", role: "toolbar", "aria-label": "debugger controls" },
        h("b", { class: "kaizen-debug-title", text: v.title }),
        button("Step", "step", v.shortcuts.step, v.done),
        button("Continue", "continue", v.shortcuts.continue, v.done),
        button("Stop", "stop", v.shortcuts.stop, v.done),
        button("Restart", "restart", v.shortcuts.restart, false),
        h("span", { class: "kaizen-debug-state", role: "status", "aria-live": "polite" },
          h("span", { "data-current": v.current || "", "data-reason": v.reason || "", text: status }),
          h("span", { class: "kz-count", text: ` · ${v.history.length} step(s)` }))),
      v.error ? h("div", { class: "kaizen-debug-error", role: "alert", text: v.error }) : null,
      h("div", { class: "kaizen-debug-body" },
        h("div", { class: "kaizen-debug-graph" }, graph(v),
          h("div", { class: "kaizen-debug-legend", "aria-hidden": "true" },
            ...Object.entries(ICONS).map(([k, i]) => h("span", { class: `kz-status-${k}`, text: `${i} ${k}` })),
            h("span", { class: "kz-legend-bp", text: "● breakpoint (click a node)" }))),
        h("div", { class: "kaizen-debug-side" }, h("div", { class: "kaizen-debug-side-title", text: "Steps" }),
          historyList(v), statePanel(v)))));
    if (keepFocus && focusNode) {
      const again = root.querySelector(`.kz-node[data-node="${CSS.escape(focusNode)}"]`);
      if (again) again.focus();
    }
  }

  model.on("change:view", draw);
  draw();
  return () => model.off("change:view", draw);
}

export default { render };
