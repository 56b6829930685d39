// Sagaflow's web view: a saga list with the API's filters and paging, a saga page (its
// graph with the path and node states marked, a timeline of its history, attempts per
// node, input and context, and the operator's actions: compensate with its plan, retry,
// skip, cancel, resolve), the workflows' graphs and the workers.
// Plain JavaScript on the same /api/v1 as every other client; no build step.
// When sagad takes tokens, the first 401 asks for one; it is kept in this tab's session
// storage only (closing the tab forgets it) and sent as `Authorization: Bearer`.
"use strict";

const main = document.getElementById("main");
const STATUSES = ["", "running", "compensating", "completed", "compensated", "failed", "parked", "cancelled"];

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) el.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return el;
}

const TOKEN = "sagaflow.token";

// One sign-in prompt at a time, however many calls wait on it; resolves to whether a
// token was given.
let signingIn = null;
function askForToken(message) {
  signingIn ??= new Promise((resolve) => {
    const dialog = document.getElementById("login");
    const input = document.getElementById("login-token");
    document.getElementById("login-text").textContent = message;
    input.value = "";
    dialog.addEventListener("close", () => {
      signingIn = null;
      const token = dialog.returnValue === "ok" ? input.value.trim() : "";
      if (token) sessionStorage.setItem(TOKEN, token);
      signedIn();
      resolve(token !== "");
    }, { once: true });
    dialog.showModal();
  });
  return signingIn;
}

function signedIn() {
  document.getElementById("signout").hidden = !sessionStorage.getItem(TOKEN);
}

// The one way to sagad: JSON in and out, the token if there is one, and a prompt for one
// when sagad answers 401 (again after a token it did not take).
async function api(path, options = {}) {
  for (;;) {
    const token = sessionStorage.getItem(TOKEN);
    const headers = options.body ? { "Content-Type": "application/json" } : {};
    if (token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(`/api/v1${path}`, { ...options, headers });
    const body = await res.json().catch(() => ({ code: "internal", message: `HTTP ${res.status}` }));
    if (res.status === 401) {
      if (token === sessionStorage.getItem(TOKEN)) sessionStorage.removeItem(TOKEN);  // not one another call just set
      if (sessionStorage.getItem(TOKEN)) continue;
      if (await askForToken(token ? "sagad did not accept that token. Paste another one."
                                  : "sagad asks for an API token (sagactl token NAME ROLE makes one).")) continue;
    }
    if (!res.ok) throw new Error(`${body.code}: ${body.message}`);
    return body;
  }
}

function status(s) { return h("span", { class: `status ${s}`, "data-status": s }, s); }
function when(t) { return h("time", { datetime: t }, t.replace("T", " ").replace("Z", "")); }
function show(...nodes) { main.replaceChildren(...nodes.flat()); }
function failure(e) { return h("p", { class: "error" }, e.message); }

let vizReady = null;
async function drawDot(dot, into) {
  vizReady ??= window.Viz.instance();
  const viz = await vizReady;
  into.replaceChildren(viz.renderSVGElement(dot));
}

// Asks for a reason (and the action's own fields, `extra`); resolves to the reason, or to
// null when cancelled.
function confirmWithReason(title, text, extra = []) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-extra").replaceChildren(...extra);
  const reason = document.getElementById("confirm-reason");
  reason.value = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok" ? reason.value : null), { once: true });
    dialog.showModal();
  });
}

// The operator's actions on one saga: when each applies, what it says, and the fields it
// asks for besides the reason (read back into the request body when confirmed). sagad
// decides; a refusal is shown as its error.
function select(name, options) {
  return h("select", { name }, options.map(([value, label]) => h("option", { value }, label)));
}
function field(extra, name) { return extra.querySelector(`[name=${name}]`); }
const ACTIONS = [
  { kind: "compensate", label: "Compensate…", when: ["running", "parked", "completed"],
    text: "What completed is undone, newest first; the plan below is what would run now.",
    async fields(s, d) {
      const from = d.nodes.filter((n) => n.order > 0 && n.state === "done");
      const plan = h("ol", { class: "plan", id: "plan" }, h("li", {}, "Loading the plan…"));
      const showPlan = async (node) => {
        try {
          const p = await api(`/sagas/${s.id}/compensation${node ? `?from_node=${encodeURIComponent(node)}` : ""}`);
          plan.replaceChildren(...(p.refused ? [h("li", { class: "error" }, p.refused)]
            : p.steps.length ? p.steps.map((c) => h("li", {}, `wave ${c.wave}: ${c.action} for ${c.node}`,
                c.in_flight ? h("span", { class: "note" }, " (after its step ends)") : "",
                c.uncertain ? h("span", { class: "note" }, " (its outcome is unknown)") : ""))
            : [h("li", {}, "Nothing to undo.")]),
            ...(p.kept.length ? [h("li", { class: "note" }, `kept as they are: ${p.kept.join(", ")}`)] : []));
        } catch (e) { plan.replaceChildren(h("li", { class: "error" }, e.message)); }
      };
      const pick = select("from_node", [["", "everything"], ...from.map((n) => [n.id, `${n.id} and what came before`])]);
      pick.addEventListener("change", () => showPlan(pick.value));
      await showPlan("");
      return [h("label", {}, "Undo ", pick), plan,
        h("label", {}, h("input", { type: "checkbox", name: "force" }), " force it past the pivot")];
    },
    body: (x) => ({ from_node: field(x, "from_node").value || undefined, force: field(x, "force").checked }) },
  { kind: "retry", label: "Retry…", when: ["failed", "parked"],
    text: "A failed saga runs its stuck compensation again; a parked one re-runs its parked node.",
    fields: (s, d) => s.status !== "parked" ? [] : [h("label", {}, "Node ", select("node",
      [["", "every parked node"], ...d.nodes.filter((n) => n.state === "parked").map((n) => [n.id, n.id])]))],
    body: (x) => ({ node: field(x, "node")?.value || undefined }) },
  { kind: "skip", label: "Skip a node…", when: ["running", "parked"],
    text: "The node is marked done with this output, as if it had succeeded, and the saga goes on.",
    fields: (s, d) => [h("label", {}, "Node ", select("node",
      d.nodes.filter((n) => n.state === "parked" || (n.state === "running" && n.kind !== "parallel" && n.kind !== "child"))
        .map((n) => [n.id, `${n.id} (${n.state})`]))),
      h("label", {}, "Output (a JSON object)", h("textarea", { name: "output", rows: 3 }, "{}"))],
    body: (x) => {
      let output;
      try { output = JSON.parse(field(x, "output").value); } catch { throw new Error("invalid_argument: the output is not JSON"); }
      return { node: field(x, "node").value, output };
    } },
  { kind: "cancel", label: "Cancel…", when: ["running", "parked", "compensating", "failed"],
    text: "The saga stops without compensating: nothing it did is undone.", fields: () => [], body: () => ({}) },
  { kind: "resolve", label: "Resolve…", when: ["running", "parked", "compensating", "failed"],
    text: "Close a case settled outside the system.",
    fields: () => [h("label", {}, "As ", select("status", [["completed", "completed"], ["compensated", "compensated"]])),
      h("label", {}, h("input", { type: "checkbox", name: "force" }), " force it (the saga still runs)")],
    body: (x) => ({ status: field(x, "status").value, force: field(x, "force").checked }) },
];

async function listPage(params) {
  const form = h("form", { class: "filters", id: "filters" },
    h("label", {}, "Status", h("select", { name: "status" },
      STATUSES.map((s) => h("option", { value: s, selected: params.get("status") === s }, s || "any")))),
    ["workflow", "version", "business_key", "created_after", "created_before"].map((k) =>
      h("label", {}, k.replace("_", " "), h("input", { name: k, value: params.get(k) ?? "", size: k.startsWith("created") ? 22 : 14,
        placeholder: k.startsWith("created") ? "2026-12-01T00:00:00Z" : "" }))),
    h("label", {}, "per page", h("input", { name: "limit", value: params.get("limit") ?? "50", size: 4 })),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) q.set(k, v);
    location.hash = `#/sagas?${q}`;
  });
  show(h("h2", {}, "Sagas"), form, h("p", {}, "Loading…"));
  try {
    const page = await api(`/sagas?${params}`);
    const rows = page.sagas.map((s) => h("tr", { "data-id": s.id },
      h("td", { class: "mono" }, h("a", { href: `#/sagas/${s.id}` }, s.id)),
      h("td", {}, `${s.workflow} v${s.version}`), h("td", {}, status(s.status)), h("td", {}, s.step ?? "–"),
      h("td", {}, s.business_key ?? "–"), h("td", {}, when(s.created_at)), h("td", {}, s.reason)));
    const next = new URLSearchParams(params);
    next.set("cursor", page.next_cursor ?? "");
    show(h("h2", {}, "Sagas"), form,
      h("table", { id: "sagas" }, h("tr", {}, ["id", "workflow", "status", "in flight", "key", "created", "reason"].map((c) => h("th", {}, c))), rows),
      h("p", {}, `${page.sagas.length} shown. `,
        page.next_cursor ? h("a", { href: `#/sagas?${next}`, id: "next" }, "Next page →") : "Last page."));
  } catch (e) { main.append(failure(e)); }
}

async function sagaPage(id) {
  show(h("p", {}, "Loading…"));
  let d;
  try { d = await api(`/sagas/${id}`); } catch (e) { return show(failure(e)); }
  const s = d.saga;
  const act = async (a) => {
    const extra = await a.fields(s, d);
    const reason = await confirmWithReason(`${a.kind[0].toUpperCase()}${a.kind.slice(1)} saga ${s.id}?`, a.text, extra);
    if (reason === null) return;
    try {
      const fields = a.body(document.getElementById("confirm-extra"));
      await api(`/sagas/${s.id}/${a.kind}`, { method: "POST", body: JSON.stringify({ reason, ...fields }) });
      sagaPage(id);
    } catch (e) { main.prepend(failure(e)); }
  };
  const graph = h("div", { class: "graph", id: "graph" }, "Drawing…");
  const attempts = {};
  for (const a of d.attempts) (attempts[a.step] ??= []).push(a);
  show(
    h("h2", {}, "Saga ", h("span", { class: "mono" }, s.id), " ", status(s.status)),
    h("dl", { class: "facts" },
      h("dt", {}, "workflow"), h("dd", {}, `${s.workflow} v${s.version}`),
      h("dt", {}, "in flight"), h("dd", {}, s.step ?? "–"),
      h("dt", {}, "business key"), h("dd", {}, s.business_key ?? "–"),
      h("dt", {}, "reason"), h("dd", { id: "reason" }, s.reason || "–"),
      h("dt", {}, "trace"), h("dd", { class: "mono" }, s.trace_id),
      h("dt", {}, "created"), h("dd", {}, when(s.created_at)),
      h("dt", {}, "updated"), h("dd", {}, when(s.updated_at)),
      s.problem ? [h("dt", {}, "problem"), h("dd", {}, s.problem)] : []),
    h("div", { class: "actions" }, ACTIONS.map((a) =>
      h("button", { id: a.kind, disabled: !a.when.includes(s.status), onclick: () => act(a) }, a.label))),
    h("h3", {}, "Graph: the saga's path and node states"), graph,
    h("div", { class: "two" },
      h("section", {}, h("h3", {}, "Timeline"),
        h("ol", { class: "timeline", id: "timeline" }, d.history.map((e) => h("li", {},
          when(e.at), h("strong", {}, e.kind), " ", e.step ?? "", e.phase ? ` (${e.phase})` : "",
          e.attempt > 0 ? ` attempt ${e.attempt}` : "",
          Object.keys(e.detail).length ? h("span", { class: "mono" }, " ", JSON.stringify(e.detail)) : "")))),
      h("section", {}, h("h3", {}, "Nodes and their attempts"),
        h("table", { id: "nodes" }, h("tr", {}, ["node", "kind", "state", "attempts"].map((c) => h("th", {}, c))),
          d.nodes.map((n) => h("tr", {}, h("td", {}, n.id), h("td", {}, n.kind), h("td", {}, n.state + (n.stuck ? " (stuck)" : "")),
            h("td", {}, (attempts[n.id] ?? []).map((a) =>
              h("div", { class: "attempt" }, `${a.phase} #${a.attempt}: ${a.outcome}${a.detail ? " – " + a.detail : ""}`,
                a.worker ? h("span", { class: "mono who" }, ` by ${a.worker}${a.key ? " " + a.key : ""}`) : "")))))))),
    h("div", { class: "two" },
      h("section", {}, h("h3", {}, "Input"), h("pre", { id: "input" }, JSON.stringify(s.input, null, 2))),
      h("section", {}, h("h3", {}, "Context (step outputs)"), h("pre", { id: "context" }, JSON.stringify(s.context, null, 2)))));
  try {
    const g = await api(`/workflows/${encodeURIComponent(s.workflow)}/graph?saga=${s.id}`);
    await drawDot(g.dot, graph);
  } catch (e) { graph.replaceChildren(failure(e)); }
}

async function workflowsPage() {
  show(h("h2", {}, "Workflows"), h("p", {}, "Loading…"));
  try {
    const { workflows } = await api("/workflows");
    const sections = workflows.map((w) => {
      const graph = h("div", { class: "graph" }, "Drawing…");
      api(`/workflows/${encodeURIComponent(w.name)}/graph?version=${w.version}`).then((g) => drawDot(g.dot, graph))
        .catch((e) => graph.replaceChildren(failure(e)));
      return h("section", { class: "workflow" }, h("h3", {}, `${w.name} v${w.version}`),
        h("p", {}, w.steps.map((st) => `${st.name} → ${st.queue}${st.compensation ? ` (undo: ${st.compensation})` : ""}`).join(" · ")),
        graph);
    });
    show(h("h2", {}, "Workflows"), sections);
  } catch (e) { show(failure(e)); }
}

async function workersPage() {
  try {
    const { workers } = await api("/workers");
    show(h("h2", {}, "Workers"), h("table", {},
      h("tr", {}, ["worker", "key", "queues", "capacity", "in flight", "last heartbeat"].map((c) => h("th", {}, c))),
      workers.map((w) => h("tr", {}, h("td", {}, w.id),
        h("td", { class: "mono" }, w.key ? `${w.key_name} ${w.key}` : "–"), h("td", {}, w.queues.join(", ")),
        h("td", {}, String(w.capacity)),
        h("td", {}, String(w.in_flight)), h("td", {}, when(w.last_heartbeat))))));
  } catch (e) { show(failure(e)); }
}

function route() {
  const [path, query] = (location.hash.slice(1) || "/sagas").split("?");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "sagas" && parts[1]) return sagaPage(parts[1]);
  if (parts[0] === "workflows") return workflowsPage();
  if (parts[0] === "workers") return workersPage();
  return listPage(new URLSearchParams(query ?? ""));
}

window.addEventListener("hashchange", route);
document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN);
  signedIn();
  route();
});
signedIn();
api("/stats").then((s) => { document.getElementById("node").textContent = `sagad: ${s.node.role}`; }).catch(() => {});
route();
