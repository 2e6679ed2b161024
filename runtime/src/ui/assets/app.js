// The status page: a small single-page app over the node's own HTTP API,
// served from the node's origin. Views by URL fragment: `#/` (connectors),
// `#/connector/<id>`, `#/modules`, `#/members`, `#/preview`. The data is
// polled every few seconds; throughput is computed here from the change of
// each connector's `delivered` count between polls. Text from the API is
// always set as text, never parsed as HTML.
"use strict";

const POLL_MS = 2000;
/// How much throughput history each connector keeps: five minutes.
const HISTORY_MS = 5 * 60 * 1000;
const TOKEN_KEY = "connectors-token";

/// Per connector: `[{at, delivered}]`, oldest first.
const history = new Map();
/// Per connector: the summary of the last replay of its dead letters made
/// from this page.
const replays = new Map();
let timer = null;

// ---- the API ------------------------------------------------------------

class NeedsToken extends Error {}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) throw new NeedsToken();
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message = answer && answer.message ? answer.message : response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return answer;
}

// ---- building the page --------------------------------------------------

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function show(...nodes) {
  document.getElementById("view").replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
}

function showError(message) {
  const error = document.getElementById("error");
  error.textContent = message || "";
  error.hidden = !message;
}

function number(value) {
  return value === undefined || value === null ? "" : Number(value).toLocaleString("en-US");
}

function stateCell(state) {
  return el("td", { class: `state state-${state}`, "data-field": "state" }, state || "");
}

// ---- throughput ---------------------------------------------------------

function remember(connectors) {
  const now = Date.now();
  const seen = new Set();
  for (const connector of connectors) {
    const status = connector.status || {};
    seen.add(connector.id);
    const samples = history.get(connector.id) || [];
    samples.push({ at: now, delivered: status.delivered || 0 });
    while (samples.length > 2 && now - samples[0].at > HISTORY_MS) samples.shift();
    history.set(connector.id, samples);
  }
  for (const id of [...history.keys()]) if (!seen.has(id)) history.delete(id);
}

/// Events per second between consecutive samples.
function rates(id) {
  const samples = history.get(id) || [];
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const seconds = (samples[i].at - samples[i - 1].at) / 1000;
    const delivered = Math.max(0, samples[i].delivered - samples[i - 1].delivered);
    out.push(seconds > 0 ? delivered / seconds : 0);
  }
  return out;
}

function sparkline(values) {
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  svg.setAttribute("preserveAspectRatio", "none");
  if (values.length > 1) {
    const top = Math.max(...values, 1);
    const step = 120 / (values.length - 1);
    const points = values.map((v, i) => `${(i * step).toFixed(1)},${(23 - (v / top) * 22).toFixed(1)}`);
    const line = document.createElementNS(svgNs, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
  }
  return svg;
}

// ---- actions ------------------------------------------------------------

/// A button that asks for a second click within five seconds before it acts.
function confirmingButton(label, action, run) {
  const button = el("button", { "data-action": action }, label);
  let armed = null;
  button.addEventListener("click", async () => {
    if (!armed) {
      button.textContent = `Confirm ${label.toLowerCase()}`;
      button.classList.add("confirm");
      armed = setTimeout(() => {
        armed = null;
        button.textContent = label;
        button.classList.remove("confirm");
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    await run();
  });
  return button;
}

function act(run) {
  return async () => {
    try {
      await run();
      showError("");
    } catch (error) {
      handle(error);
    }
    refresh();
  };
}

function connectorActions(connector) {
  const path = `/connectors/${encodeURIComponent(connector.id)}`;
  return el(
    "td",
    { class: "actions" },
    connector.enabled
      ? el("button", { "data-action": "disable", onclick: act(() => api("POST", `${path}/disable`)) }, "Disable")
      : el("button", { "data-action": "enable", onclick: act(() => api("POST", `${path}/enable`)) }, "Enable"),
    confirmingButton("Reset", "reset", act(() => api("POST", `${path}/reset`, { to: "start" }))),
    confirmingButton("Delete", "delete", act(() => api("DELETE", path))),
  );
}

// ---- views --------------------------------------------------------------

async function connectorsView() {
  const connectors = await api("GET", "/connectors");
  remember(connectors);
  const rows = connectors.map((connector) => {
    const status = connector.status || {};
    const recent = rates(connector.id);
    const now = recent.length ? recent[recent.length - 1] : 0;
    return el(
      "tr",
      { "data-connector-id": connector.id },
      el(
        "td",
        {},
        el("a", { href: `#/connector/${encodeURIComponent(connector.id)}` }, connector.id),
        connector.name ? el("div", { class: "muted", "data-field": "name" }, connector.name) : null,
      ),
      stateCell(status.state),
      el("td", { "data-field": "member" }, status.member || ""),
      el("td", { class: "num", "data-field": "lag" }, number(status.lag)),
      el("td", { class: "num", "data-field": "delivered" }, number(status.delivered)),
      el("td", { class: "num", "data-field": "rate" }, `${number(Math.round(now))}/s`),
      el("td", {}, sparkline(recent)),
      el("td", { class: "num", "data-field": "dead-lettered" }, number(status.deadLettered)),
      el("td", { class: "error", "data-field": "last-error" }, status.lastError ? status.lastError.message : ""),
      connectorActions(connector),
    );
  });
  show(
    el(
      "table",
      { id: "connectors" },
      el(
        "thead",
        {},
        el("tr", {}, ...["Connector", "State", "Member", "Lag", "Delivered", "Rate", "Last 5 minutes", "Dead letters", "Last error", ""].map((h) => el("th", {}, h))),
      ),
      el("tbody", {}, rows),
    ),
    connectors.length ? null : el("p", { class: "muted" }, "No connectors yet: create one with the API or `connectors connector create`."),
  );
}

async function connectorView(id) {
  const path = `/connectors/${encodeURIComponent(id)}`;
  const [connector, letters] = await Promise.all([
    api("GET", path),
    api("GET", `${path}/dead-letters?limit=20`).catch(() => ({ deadLetters: [] })),
  ]);
  remember([connector]);
  const status = connector.status || {};
  const details = [
    ["Name", connector.name],
    ["State", status.state],
    ["Enabled", String(connector.enabled)],
    ["Member", status.member],
    ["Position", status.position],
    ["Checkpoint", status.checkpoint],
    ["Lag", status.lag],
    ["Caught up", status.caughtUp],
    ["Delivered", status.delivered],
    ["Filtered out", status.filteredOut],
    ["Failed", status.failed],
    ["Dead-lettered", status.deadLettered],
    ["Last error", status.lastError ? `${status.lastError.message} (${status.lastError.at})` : ""],
  ];
  const deadLetters = letters.deadLetters || [];
  show(
    el("h2", {}, `Connector ${id}`),
    el("table", {}, el("tbody", {}, el("tr", { "data-connector-id": id }, stateCell(status.state), el("td", {}, sparkline(rates(id))), connectorActions(connector)))),
    el("dl", {}, details.flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value === undefined || value === null ? "" : String(value))])),
    el("h2", {}, "Definition (secrets hidden)"),
    el("pre", { id: "definition" }, JSON.stringify(connector.definition, null, 2)),
    el("h2", {}, `Recent dead letters (${deadLetters.length})`),
    deadLetters.length
      ? el(
          "p",
          {},
          confirmingButton(
            "Replay",
            "replay",
            act(async () => replays.set(id, await api("POST", `${path}/dead-letters/replay`, {}))),
          ),
          " re-delivers them through the current definition, in order; letters a replay delivered are skipped.",
        )
      : null,
    replays.has(id) ? el("p", { id: "replay-result" }, replaySummary(replays.get(id))) : null,
    deadLetters.length
      ? el("pre", { id: "dead-letters" }, JSON.stringify(deadLetters, null, 2))
      : el("p", { class: "muted" }, "None."),
  );
}

/// Which connectors use each module (by name), from their definitions.
function moduleUsers(connectors) {
  const users = new Map();
  const use = (reference, id) => {
    if (typeof reference !== "string") return;
    const name = reference.split("@")[0];
    if (!users.has(name)) users.set(name, new Set());
    users.get(name).add(id);
  };
  for (const connector of connectors) {
    const definition = connector.definition || {};
    for (const stage of definition.transforms || []) use(stage.module, connector.id);
    if (definition.sink) use(definition.sink.module, connector.id);
  }
  return users;
}

/// One line of what a replay did.
function replaySummary(answer) {
  const summary = (answer && answer.summary) || {};
  const parts = ["delivered", "dropped", "failed", "skipped"].map((k) => `${number(summary[k] || 0)} ${k}`);
  return `Last replay: ${parts.join(", ")}${answer && answer.nextFrom !== undefined ? "; more remain" : ""}.`;
}

async function modulesView() {
  const [modules, connectors] = await Promise.all([api("GET", "/modules"), api("GET", "/connectors")]);
  const users = moduleUsers(connectors);
  show(
    el(
      "table",
      { id: "modules" },
      el("thead", {}, el("tr", {}, ...["Module", "Worlds", "Size", "Digest", "Used by"].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        modules.map((module) =>
          el(
            "tr",
            { "data-module": module.name },
            el("td", {}, module.name),
            el("td", {}, (module.worlds || []).join(", ")),
            el("td", { class: "num" }, number(module.size)),
            el("td", { class: "muted" }, module.digest || ""),
            el("td", {}, [...(users.get(module.name) || [])].join(", ")),
          ),
        ),
      ),
    ),
    modules.length ? null : el("p", { class: "muted" }, "No modules uploaded."),
  );
}

async function membersView() {
  const members = await api("GET", "/members");
  show(
    el(
      "table",
      { id: "members" },
      el("thead", {}, el("tr", {}, ...["Member", "Role", "Alive", "Heartbeat age", "Connectors"].map((h) => el("th", {}, h)))),
      el(
        "tbody",
        {},
        members.map((member) =>
          el(
            "tr",
            {},
            el("td", {}, member.member),
            el("td", {}, member.role || ""),
            el("td", {}, member.alive ? "yes" : "no"),
            el("td", { class: "num" }, `${number(member.ageMs)} ms`),
            el("td", {}, (member.connectors || []).join(", ")),
          ),
        ),
      ),
    ),
  );
}

const PREVIEW_EXAMPLE = {
  filter: { streams: { prefixes: ["orders-"] } },
  transforms: [],
  last: 5,
};

function previewView() {
  const input = el("textarea", { id: "preview-input", spellcheck: "false" }, JSON.stringify(PREVIEW_EXAMPLE, null, 2));
  const output = el("pre", { id: "preview-output" }, "");
  const run = async (event) => {
    event.preventDefault();
    let body;
    try {
      body = JSON.parse(input.value);
    } catch (error) {
      output.textContent = `Not JSON: ${error.message}`;
      return;
    }
    try {
      output.textContent = JSON.stringify(await api("POST", "/preview", body), null, 2);
    } catch (error) {
      if (error instanceof NeedsToken) return handle(error);
      output.textContent = error.message;
    }
  };
  show(
    el("h2", {}, "Preview a filter and transforms over recent events"),
    el("form", { onsubmit: run }, input, el("p", {}, el("button", { type: "submit", id: "preview-run" }, "Run preview"))),
    output,
  );
}

// ---- routing and polling -----------------------------------------------

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean);
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("current", link.dataset.nav === (parts[0] === "connector" ? "connectors" : parts[0] || "connectors"));
  }
  switch (parts[0]) {
    case "connector":
      return { render: () => connectorView(decodeURIComponent(parts[1] || "")), live: true };
    case "modules":
      return { render: modulesView, live: true };
    case "members":
      return { render: membersView, live: true };
    case "preview":
      return { render: async () => previewView(), live: false };
    default:
      return { render: connectorsView, live: true };
  }
}

function handle(error) {
  if (error instanceof NeedsToken) {
    document.getElementById("token").hidden = false;
    document.getElementById("token-error").textContent = sessionStorage.getItem(TOKEN_KEY)
      ? "The node refused that token."
      : "";
    document.getElementById("view").replaceChildren();
    showError("");
    return;
  }
  showError(error.message);
}

async function refresh() {
  clearTimeout(timer);
  const { render, live } = route();
  try {
    await render();
    document.getElementById("token").hidden = true;
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    showError("");
  } catch (error) {
    handle(error);
  }
  const typing = document.activeElement && document.activeElement.tagName === "TEXTAREA";
  if (live && !typing) timer = setTimeout(refresh, POLL_MS);
}

document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token-input").value.trim());
  document.getElementById("token-input").value = "";
  refresh();
});
window.addEventListener("hashchange", refresh);
refresh();
