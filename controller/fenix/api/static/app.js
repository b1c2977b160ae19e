/* Fenix maintenance page: the sessions, and one session live (timeline, conversation, runs).
 *
 * Plain JavaScript, no build step and no library. Everything comes from the JSON API (the same
 * calls an admin tool makes), polled once a second while a session runs. A token pasted in the
 * form is kept in sessionStorage (this tab only) and sent as X-Auth-Token.
 * Data is put into the page with textContent and SVG attributes only, never as HTML.
 */
"use strict";

(() => {
  const API = "../v1/maintenance";
  const TOKEN_KEY = "fenix.token";
  const POLL_RUNNING_MS = 1000;
  const POLL_IDLE_MS = 5000;
  const FINAL = new Set(["MAINTENANCE_DONE", "MAINTENANCE_FAILED"]);
  const SESSION_STEPS = [
    "MAINTENANCE", "SCALE_IN", "PREPARE_MAINTENANCE", "START_MAINTENANCE",
    "PLANNED_MAINTENANCE", "MAINTENANCE_COMPLETE", "MAINTENANCE_DONE",
  ];
  const REPLY_STEPS = new Set([
    "MAINTENANCE", "SCALE_IN", "PREPARE_MAINTENANCE", "PLANNED_MAINTENANCE",
    "MAINTENANCE_COMPLETE",
  ]);
  const HOST_STATES = {
    PENDING: { colour: "#ced4da", text: "pending" },
    PREPARING: { colour: "#f59f00", text: "out of service, being emptied" },
    IN_MAINTENANCE: { colour: "#e8590c", text: "in maintenance" },
    MAINTENANCE_COMPLETE: { colour: "#2f9e44", text: "maintained, back in service" },
    FAILED: { colour: "#c92a2a", text: "failed" },
  };
  const MOVES = {
    LIVE_MIGRATE: "#1c7ed6", MIGRATE: "#7048e8", EVICTION: "#212529", OWN_ACTION: "#0c8599",
  };
  const SVG_NS = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  let generation = 0; // bumped on every view change: stale polls stop themselves
  let timer = null;
  let clockOffset = 0; // server time minus browser time, from the Date header
  let shown = null; // the session on screen, for re-rendering without a fetch

  // -- talking to the API -------------------------------------------------------------------
  // The last answer to each read with its ETag: a poll sends the tag back (If-None-Match) and
  // on 304 the controller has built nothing and the last answer is used again.
  const answers = new Map();
  const KEPT_ANSWERS = 50;

  async function put(path, body) {
    // A change, not a read: JSON body (the controller refuses any other type without tokens).
    const headers = { Accept: "application/json", "Content-Type": "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers["X-Auth-Token"] = token;
    const response = await fetch(path, { method: "PUT", headers, body: JSON.stringify(body) });
    const answer = await response.json().catch(() => null);
    if (!response.ok) {
      const message = answer && answer.error ? answer.error.message : `HTTP ${response.status}`;
      throw Object.assign(new Error(message), { status: response.status });
    }
    return answer;
  }

  async function api(path) {
    const headers = { Accept: "application/json" };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers["X-Auth-Token"] = token;
    const kept = answers.get(path);
    if (kept) headers["If-None-Match"] = kept.etag;
    let response;
    try {
      response = await fetch(path, { headers, cache: "no-store" });
    } catch (exc) {
      throw Object.assign(new Error("cannot reach the controller"), { status: 0 });
    }
    const date = Date.parse(response.headers.get("Date") || "");
    if (!Number.isNaN(date)) {
      const offset = date - Date.now();
      clockOffset = Math.abs(offset) > 1500 ? offset : 0; // the header has whole seconds
    }
    if (response.status === 304 && kept) return kept.body;
    let body = null;
    try {
      body = await response.json();
    } catch (exc) {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : `HTTP ${response.status}`;
      throw Object.assign(new Error(message), { status: response.status });
    }
    const etag = response.headers.get("ETag");
    answers.delete(path);
    if (etag) {
      answers.set(path, { etag, body });
      if (answers.size > KEPT_ANSWERS) answers.delete(answers.keys().next().value);
    }
    return body;
  }

  const sessionUrl = (id) => `${API}/${encodeURIComponent(id)}`;

  function setStatus(error) {
    const status = $("status");
    if (!error) {
      status.textContent = "";
      status.className = "";
      return;
    }
    let text = error.message;
    if (error.status === 401) text = `${text}. Paste a token above.`;
    status.textContent = text;
    status.className = "error";
  }

  // -- small helpers --------------------------------------------------------------------------
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "className") node.className = value;
      else if (name.startsWith("data-")) node.setAttribute(name, value);
      else node[name] = value;
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function tooltip(node, text) {
    node.append(svg("title", {}, text));
    return node;
  }

  const ms = (iso) => (iso ? Date.parse(iso) : NaN);
  const clock = (value) =>
    Number.isNaN(value) ? "" : new Date(value).toLocaleTimeString([], { hour12: false });

  function duration(seconds) {
    if (!Number.isFinite(seconds)) return "";
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  function badge(state) {
    return el("span", { className: `badge state-${state}` }, state);
  }

  function progress(bar, text, percent) {
    bar.style.width = `${percent}%`;
    text.textContent = `${percent}%`;
  }

  // -- the list of sessions -------------------------------------------------------------------
  async function refreshList() {
    const listed = await api(API);
    const ids = listed.sessions.slice(-100).reverse();
    const summaries = await Promise.all(ids.map((id) => api(sessionUrl(id)).catch(() => null)));
    const rows = summaries.filter(Boolean).map((s) => {
      const bar = el("div", { className: "bar" });
      const text = el("span");
      const cell = el("div", { className: "progress small" }, bar, text);
      progress(bar, text, s.percent_done);
      return el(
        "tr",
        { "data-session": s.session_id, "data-state": s.state },
        el("td", {}, el("a", { href: `#/session/${s.session_id}` }, el("code", {}, s.session_id))),
        el("td", {}, badge(s.state)),
        el("td", {}, s.workflow),
        el("td", {}, cell),
        el("td", {}, clock(ms(s.created_at))),
        el("td", {}, clock(ms(s.updated_at))),
      );
    });
    $("sessions").tBodies[0].replaceChildren(...rows);
    $("no-sessions").hidden = rows.length > 0;
    return summaries.some((s) => s && !FINAL.has(s.state));
  }

  // -- one session ----------------------------------------------------------------------------
  function newSessionView(id) {
    return { id, detail: null, events: [], lastEventId: 0 };
  }

  async function refreshSession(view) {
    // The detail first: the events read after it include every change that led to it, so the
    // timeline is never behind the states it is drawn next to.
    const detail = await api(`${sessionUrl(view.id)}/detail`);
    for (;;) {
      const page = await api(`${sessionUrl(view.id)}/events?since=${view.lastEventId}`);
      for (const event of page.events) {
        if (event.id > view.lastEventId) {
          view.events.push(event);
          view.lastEventId = event.id;
        }
      }
      if (!page.more) break;
    }
    view.detail = detail;
    renderSession(view);
    return !FINAL.has(detail.state);
  }

  function renderSession(view) {
    const { detail, events } = view;
    const running = !FINAL.has(detail.state);
    const now = Date.now() + clockOffset;
    const lastAt = events.length ? ms(events[events.length - 1].at) : ms(detail.updated_at);
    const end = running ? Math.max(now, lastAt) : lastAt;
    const start = ms(detail.created_at);

    document.body.dataset.sessionState = detail.state;
    $("session-id").textContent = detail.session_id;
    const state = $("session-state");
    state.textContent = detail.state;
    state.className = `badge state-${detail.state}`;
    $("session-workflow").textContent = `workflow ${detail.workflow}`;
    $("session-elapsed").textContent = `${running ? "running for" : "took"} ${duration(
      (end - start) / 1000,
    )}`;
    progress($("progress-bar"), $("progress-text"), detail.percent_done);
    $("current-step").textContent = currentStep(detail);
    $("session-error").hidden = !detail.error;
    $("session-error").textContent = detail.error || "";
    renderHold(detail, running);
    renderSteps(detail, events);
    renderTimeline(detail, events, start, end);
    renderConversation(detail, events);
    renderRuns(detail, events);
    renderEventLog(events);
  }

  function renderHold(detail, running) {
    const hold = $("session-hold");
    let text = "";
    if (detail.paused) {
      const why = detail.paused.reason ? `: ${detail.paused.reason}` : "";
      text = `Paused since ${clock(ms(detail.paused.at))} by ${detail.paused.by}${why}. ` +
        "No new host or move starts; what is in flight finishes.";
    } else if (detail.held && detail.held.why === "window") {
      text = detail.held.until
        ? `Waiting for a maintenance window: the next opens at ${clock(ms(detail.held.until))}.`
        : "Outside its maintenance windows, and none is left.";
    }
    hold.textContent = text;
    hold.hidden = !text;
    hold.dataset.hold = detail.paused ? "paused" : (detail.held ? detail.held.why : "");
    const windows = detail.windows || { windows: [], weekly: [] };
    const parts = [
      ...windows.windows.map((w) => `${clock(ms(w.start))} to ${clock(ms(w.end))}`),
      ...windows.weekly.map((w) => `${w.days.join(", ")} ${w.start} to ${w.end} UTC`),
    ];
    $("session-windows").textContent = parts.length ? `Windows: ${parts.join(" · ")}` : "";
    $("session-windows").hidden = !parts.length;
    const controls = $("session-controls");
    controls.hidden = !running;
    $("pause-button").hidden = Boolean(detail.paused);
    $("pause-reason").hidden = Boolean(detail.paused);
    controls.querySelector("label").hidden = Boolean(detail.paused);
    $("resume-button").hidden = !detail.paused;
  }

  async function pauseOrResume(body) {
    if (!shown) return;
    try {
      await put(sessionUrl(shown.id), body);
      setStatus(null);
      $("pause-reason").value = "";
      await refreshSession(shown);
    } catch (error) {
      setStatus(error);
    }
  }

  function pausedSpans(events, end) {
    const spans = [];
    for (const event of events) {
      if (event.kind === "session.paused") spans.push({ from: ms(event.at), to: end, event });
      if (event.kind === "session.resumed" && spans.length && spans[spans.length - 1].to === end) {
        spans[spans.length - 1].to = ms(event.at);
      }
    }
    return spans;
  }

  function currentStep(detail) {
    if (detail.state === "MAINTENANCE_DONE") return "Done: every host maintained.";
    if (detail.state === "MAINTENANCE_FAILED") return "Failed; resume with PUT, or DELETE.";
    const parts = [];
    for (const host of detail.hosts) {
      if (host.state === "PREPARING") parts.push(`${host.name}: moving its instances away`);
      if (host.state === "IN_MAINTENANCE") parts.push(`${host.name}: in maintenance`);
    }
    for (const run of detail.action_runs) {
      if (run.state === "RUNNING") parts.push(`playbook ${run.plugin} on ${run.hosts.join(", ")}`);
    }
    for (const project of detail.projects) {
      if (project.reply === null && REPLY_STEPS.has(project.step)) {
        parts.push(
          `waiting for ${project.project_id} to answer ${project.step} ` +
            `(until ${clock(ms(project.reply_at))})`,
        );
      }
    }
    return `${detail.state}${parts.length ? ": " + parts.join(" · ") : ""}`;
  }

  function renderSteps(detail, events) {
    const visited = new Set(
      events.filter((e) => e.kind === "session.state" || e.kind === "session.created")
        .map((e) => e.new),
    );
    visited.add(detail.state);
    const current = SESSION_STEPS.indexOf(detail.state);
    const reached = Math.max(current, ...[...visited].map((s) => SESSION_STEPS.indexOf(s)));
    const items = SESSION_STEPS.map((step, index) => {
      let kind = "future";
      if (step === detail.state) kind = "current";
      else if (visited.has(step)) kind = "done";
      else if (index < reached) kind = "skipped";
      return el("li", { className: kind, "data-step": step }, step.replaceAll("_", " "));
    });
    if (detail.state === "MAINTENANCE_FAILED") {
      items.push(el("li", { className: "failed" }, "MAINTENANCE FAILED"));
    }
    $("steps").replaceChildren(...items);
  }

  // -- the timeline: one row per host, coloured by state over time ---------------------------
  function hostSegments(detail, events, start, end) {
    const segments = {};
    const current = {};
    for (const host of detail.hosts) {
      segments[host.name] = [];
      current[host.name] = { state: "PENDING", from: start };
    }
    for (const event of events) {
      if (event.kind !== "host.state" || !(event.subject in current)) continue;
      const at = ms(event.at);
      const open = current[event.subject];
      segments[event.subject].push({ state: open.state, from: open.from, to: at });
      current[event.subject] = { state: event.new, from: at };
    }
    for (const [name, open] of Object.entries(current)) {
      segments[name].push({ state: open.state, from: open.from, to: end });
    }
    return segments;
  }

  function instanceMoves(events, end) {
    const moves = [];
    const open = {};
    for (const event of events) {
      if (event.kind !== "instance.action") continue;
      if (event.new === "STARTING") {
        const details = event.data.details || {};
        const move = {
          instance: event.subject,
          action: event.data.action,
          from: event.data.action_from,
          to: details.target || null,
          start: ms(event.at),
          end: null,
          outcome: "running",
        };
        open[event.subject] = move;
        moves.push(move);
      } else if ((event.new === "DONE" || event.new === "FAILED") && open[event.subject]) {
        const move = open[event.subject];
        move.end = ms(event.at);
        move.outcome = event.new;
        if (event.data.host) move.to = event.data.host;
        delete open[event.subject];
      }
    }
    for (const move of moves) if (move.end === null) move.end = end;
    return moves;
  }

  function timeTicks(span) {
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
    const seconds = span / 1000;
    const step = steps.find((s) => seconds / s <= 10) || 28800;
    const ticks = [];
    for (let t = 0; t <= seconds; t += step) ticks.push(t);
    return ticks;
  }

  function tickLabel(seconds) {
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds % 60);
    if (m >= 60) return `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
    return `${m}:${String(s).padStart(2, "0")}`;
  }

  function renderLegend() {
    const items = Object.entries(HOST_STATES).map(([state, { colour, text }]) =>
      el("span", { className: "key" }, swatch(colour), `${state} (${text})`),
    );
    for (const [action, colour] of Object.entries(MOVES)) {
      items.push(el("span", { className: "key" }, swatch(colour, true), action.replaceAll("_", " ")));
    }
    items.push(el("span", { className: "key" }, swatch("#212529", false, true), "action plug-in run"));
    $("legend").replaceChildren(...items);
  }

  function swatch(colour, line = false, thin = false) {
    const box = svg("svg", { width: 18, height: 12, "aria-hidden": "true" });
    if (line) box.append(svg("line", { x1: 1, y1: 11, x2: 17, y2: 1, stroke: colour, "stroke-width": 2 }));
    else box.append(svg("rect", { x: 1, y: thin ? 8 : 1, width: 16, height: thin ? 3 : 10, fill: colour, rx: 2 }));
    return box;
  }

  function renderTimeline(detail, events, start, end) {
    const container = $("timeline");
    const hosts = detail.hosts;
    const width = Math.max(640, container.clientWidth || 1000);
    const labelWidth = 170;
    const rowHeight = hosts.length > 40 ? 12 : 24;
    const top = 26;
    const bottom = 22;
    const height = top + rowHeight * hosts.length + bottom;
    const span = Math.max(end - start, 1000);
    const plot = width - labelWidth - 12;
    const x = (t) => labelWidth + ((t - start) / span) * plot;
    const rowY = {};
    hosts.forEach((host, i) => (rowY[host.name] = top + i * rowHeight));

    const root = svg("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": "host states over time", "data-hosts": hosts.length,
    });

    // Session states: a band along the top.
    const band = svg("g", { class: "session-band" });
    const changes = events.filter((e) => e.kind === "session.state");
    let from = start;
    let state = "MAINTENANCE";
    const bandSegments = [];
    for (const change of changes) {
      bandSegments.push({ state, from, to: ms(change.at) });
      from = ms(change.at);
      state = change.new;
    }
    bandSegments.push({ state, from, to: end });
    for (const seg of bandSegments) {
      const x0 = x(seg.from);
      const w = Math.max(x(seg.to) - x0, 1);
      const rect = svg("rect", { x: x0, y: 2, width: w, height: 18, class: `band state-${seg.state}` });
      band.append(tooltip(rect, `${seg.state}: ${clock(seg.from)} to ${clock(seg.to)}`));
      if (w > 60) {
        band.append(svg("text", { x: x0 + 4, y: 15, class: "band-label" }, seg.state.replaceAll("_", " ")));
      }
    }
    root.append(band);

    // Paused time: a hatched veil over every row, from the pause to the resume.
    const veils = svg("g", { class: "paused-spans" });
    for (const span of pausedSpans(events, end)) {
      const x0 = x(span.from);
      const rect = svg("rect", {
        x: x0, y: 2, width: Math.max(x(span.to) - x0, 2), height: top + rowHeight * hosts.length - 2,
        class: "paused-span",
      });
      const data = span.event.data || {};
      const why = data.reason ? `: ${data.reason}` : "";
      veils.append(tooltip(rect, `paused by ${data.by}${why}, ${clock(span.from)} to ${clock(span.to)}`));
    }

    // Host rows.
    const segments = hostSegments(detail, events, start, end);
    hosts.forEach((host, i) => {
      const y = rowY[host.name];
      const row = svg("g", { class: "host-row", "data-host": host.name, "data-state": host.state });
      if (i % 2) row.append(svg("rect", { x: 0, y, width, height: rowHeight, class: "stripe" }));
      const label = svg("text", { x: 6, y: y + rowHeight * 0.7, class: "host-label" }, host.name);
      row.append(tooltip(label, `${host.name}: ${host.state}${host.disabled ? " (out of service)" : ""}`));
      row.append(svg("circle", {
        cx: labelWidth - 12, cy: y + rowHeight / 2, r: Math.min(5, rowHeight / 3),
        fill: (HOST_STATES[host.state] || { colour: "#868e96" }).colour,
      }));
      for (const seg of segments[host.name]) {
        const x0 = x(seg.from);
        const rect = svg("rect", {
          x: x0, y: y + 3, width: Math.max(x(seg.to) - x0, 1), height: rowHeight - 6,
          fill: (HOST_STATES[seg.state] || { colour: "#868e96" }).colour,
          class: "segment", "data-state": seg.state,
        });
        row.append(tooltip(rect, `${host.name} ${seg.state}: ${clock(seg.from)} to ${clock(seg.to)} (${duration((seg.to - seg.from) / 1000)})`));
      }
      root.append(row);
    });

    root.append(veils);

    // Action plug-in runs: a dark stripe at the bottom of each host's row.
    for (const run of detail.action_runs) {
      const from = ms(run.started_at);
      const to = run.finished_at ? ms(run.finished_at) : end;
      for (const name of run.hosts) {
        if (!(name in rowY)) continue;
        const rect = svg("rect", {
          x: x(from), y: rowY[name] + rowHeight - 5, width: Math.max(x(to) - x(from), 2), height: 3,
          class: `run run-${run.state}`,
        });
        root.append(tooltip(rect, `${run.plugin} (${run.type}) on ${name}: ${run.state}${run.rc === null ? "" : `, rc ${run.rc}`}`));
      }
    }

    // Instance moves: a line from the source host's row to the target's, over the move's time.
    const moves = instanceMoves(events, end);
    const marks = svg("g", { class: "moves", "data-moves": moves.length });
    for (const move of moves) {
      if (!(move.from in rowY)) continue;
      const colour = MOVES[move.action] || "#495057";
      const y1 = rowY[move.from] + rowHeight / 2;
      const y2 = move.to in rowY ? rowY[move.to] + rowHeight / 2 : y1;
      const x1 = x(move.start);
      const x2 = Math.max(x(move.end), x1 + 2);
      const line = svg("line", {
        x1, y1, x2, y2, stroke: colour, "stroke-width": 1.6,
        class: `move move-${move.outcome}`,
      });
      const text = `${move.instance}: ${move.action} ${move.from} → ${move.to || "?"} ` +
        `(${move.outcome}, ${duration((move.end - move.start) / 1000)})`;
      marks.append(tooltip(line, text));
      marks.append(tooltip(svg("circle", { cx: x1, cy: y1, r: 2.5, fill: colour }), text));
      if (move.outcome === "FAILED") {
        marks.append(svg("text", { x: x2 + 2, y: y2 + 4, class: "move-failed" }, "✗"));
      }
    }
    root.append(marks);

    // Time axis and the "now" line.
    const axisY = top + rowHeight * hosts.length;
    const axis = svg("g", { class: "axis" });
    for (const t of timeTicks(span)) {
      const tx = x(start + t * 1000);
      axis.append(svg("line", { x1: tx, y1: top, x2: tx, y2: axisY + 4, class: "tick" }));
      axis.append(svg("text", { x: tx, y: axisY + 16, "text-anchor": "middle" }, tickLabel(t)));
    }
    root.append(axis);
    if (!FINAL.has(detail.state)) {
      root.append(svg("line", { x1: x(end), y1: 0, x2: x(end), y2: axisY, class: "now" }));
    }
    container.replaceChildren(root);
  }

  // -- the conversation with each project's manager ------------------------------------------
  const CONVERSATION_KINDS = new Set([
    "notification", "project.reply", "project.reply.rejected", "project.no_manager",
    "project.reply.timeout", "project.reply.undeliverable", "notification.dead",
  ]);

  function renderConversation(detail, events) {
    const byProject = new Map(detail.projects.map((p) => [p.project_id, []]));
    const notifiedAt = {};
    for (const event of events) {
      if (!CONVERSATION_KINDS.has(event.kind) || !event.subject) continue;
      if (!byProject.has(event.subject)) byProject.set(event.subject, []);
      byProject.get(event.subject).push(event);
    }
    const cards = [];
    for (const [projectId, said] of byProject) {
      const project = detail.projects.find((p) => p.project_id === projectId);
      const lines = said.map((event) => conversationLine(event, notifiedAt));
      const facts = [];
      if (project) {
        facts.push(project.has_manager ? "has a manager" : "no subscribed manager");
        if (project.reply === null && REPLY_STEPS.has(project.step)) {
          facts.push(`waiting for an answer to ${project.step} until ${clock(ms(project.reply_at))}`);
        }
      }
      cards.push(el(
        "div", { className: "card", "data-project": projectId },
        el("h4", {}, projectId, el("span", { className: "muted" }, ` ${facts.join("; ")}`)),
        el("ol", { className: "messages" }, ...lines),
      ));
    }
    if (!cards.length) cards.push(el("p", { className: "muted" }, "No project told anything yet."));
    $("conversation").replaceChildren(...cards);
  }

  function conversationLine(event, notifiedAt) {
    const at = ms(event.at);
    const key = event.subject;
    let direction = "info";
    let text;
    if (event.kind === "notification") {
      direction = "sent";
      notifiedAt[key] = at;
      const type = event.data.event_type || "";
      const count = event.data.subscribers;
      text = `→ ${event.new} (${type}${count === 0 ? ", no subscriber" : ""})`;
    } else if (event.kind === "project.reply") {
      direction = "received";
      const actions = Object.values((event.data && event.data.instance_actions) || {});
      const counts = {};
      for (const action of actions) counts[action] = (counts[action] || 0) + 1;
      const summary = Object.entries(counts).map(([a, n]) => `${n} ${a}`).join(", ");
      const latency = key in notifiedAt ? ` after ${duration((at - notifiedAt[key]) / 1000)}` : "";
      text = `← ${event.new}${summary ? ` (${summary})` : ""}${latency}`;
    } else if (event.kind === "project.no_manager") {
      text = `· no manager: default behaviour for ${event.new}`;
    } else if (event.kind === "project.reply.timeout") {
      direction = "problem";
      text = `⏱ no answer to ${event.new} in time`;
    } else if (event.kind === "project.reply.rejected") {
      direction = "problem";
      text = `✗ refused ${event.new}: ${(event.data && event.data.reason) || ""}`;
    } else if (event.kind === "project.reply.undeliverable") {
      direction = "problem";
      text = `✗ ${event.new} could not be delivered: taken as no answer`;
    } else {
      direction = "problem";
      text = `✗ delivery given up: ${(event.data && event.data.error) || ""}`;
    }
    return el("li", { className: direction, "data-kind": event.kind },
      el("time", {}, clock(at)), " ", text);
  }

  // -- action plug-in runs and their task output ----------------------------------------------
  function renderRuns(detail, events) {
    const openRuns = new Set(
      [...document.querySelectorAll("#action-runs details[open]")].map((d) => d.dataset.run),
    );
    const tasks = {};
    for (const event of events) {
      if (event.kind !== "action.task") continue;
      (tasks[event.data.run_id] = tasks[event.data.run_id] || []).push(event);
    }
    const items = detail.action_runs.map((run) => {
      const took = run.finished_at ? duration((ms(run.finished_at) - ms(run.started_at)) / 1000) : "running";
      const summary = el("summary", {},
        badge(run.state), ` ${run.plugin} (${run.type}) on ${run.hosts.join(", ")}`,
        el("span", { className: "muted" }, ` ${clock(ms(run.started_at))}, ${took}${run.rc === null ? "" : `, rc ${run.rc}`}`));
      const lines = (tasks[run.id] || []).map((event) => el(
        "li", { className: `task task-${event.new}` },
        el("span", { className: "task-status" }, event.new), ` ${event.subject} · ${event.data.task}`,
        event.data.message ? el("pre", {}, event.data.message) : null,
      ));
      const box = el("details", { "data-run": String(run.id) }, summary,
        run.message ? el("p", { className: "error" }, run.message) : null,
        el("ol", { className: "tasks" }, ...lines));
      box.open = openRuns.has(String(run.id)) || run.state === "FAILED";
      return box;
    });
    if (!items.length) items.push(el("p", { className: "muted" }, "No action plug-in run yet."));
    $("action-runs").replaceChildren(...items);
  }

  function renderEventLog(events) {
    $("event-count").textContent = String(events.length);
    if (!$("event-log-box").open) return;
    const rows = events.slice(-300).reverse().map((e) => el("tr", {},
      el("td", {}, String(e.id)), el("td", {}, clock(ms(e.at))), el("td", {}, e.kind),
      el("td", {}, e.subject || ""), el("td", {}, [e.old, e.new].filter(Boolean).join(" → "))));
    $("event-log").tBodies[0].replaceChildren(...rows);
  }

  // -- views and polling ----------------------------------------------------------------------
  function route() {
    const match = location.hash.match(/^#\/session\/([^/?#]+)/);
    return match ? { kind: "session", id: decodeURIComponent(match[1]) } : { kind: "list" };
  }

  function show() {
    generation += 1;
    clearTimeout(timer);
    const mine = generation;
    const where = route();
    document.body.dataset.view = where.kind;
    $("list-view").hidden = where.kind !== "list";
    $("session-view").hidden = where.kind !== "session";
    let refresh;
    if (where.kind === "session") {
      const view = newSessionView(where.id);
      shown = view;
      document.title = `Fenix: session ${where.id.slice(0, 8)}`;
      refresh = () => refreshSession(view);
    } else {
      document.title = "Fenix maintenance";
      shown = null;
      refresh = refreshList;
    }
    const tick = async () => {
      let running = true;
      try {
        running = await refresh();
        setStatus(null);
      } catch (error) {
        if (mine !== generation) return;
        setStatus(error);
      }
      if (mine !== generation) return;
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      timer = setTimeout(tick, running ? POLL_RUNNING_MS : POLL_IDLE_MS);
    };
    tick();
  }

  function init() {
    renderLegend();
    const input = $("token");
    input.value = sessionStorage.getItem(TOKEN_KEY) || "";
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = input.value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
      show();
    });
    $("token-forget").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      input.value = "";
      show();
    });
    $("session-controls").addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = $("pause-reason").value.trim();
      pauseOrResume(reason ? { action: "pause", reason } : { action: "pause" });
    });
    $("resume-button").addEventListener("click", () => pauseOrResume({ action: "resume" }));
    $("event-log-box").addEventListener("toggle", () => {
      if (shown) renderEventLog(shown.events);
    });
    window.addEventListener("hashchange", show);
    window.addEventListener("resize", () => {
      if (shown && shown.detail) renderSession(shown);
    });
    show();
  }

  init();
})();
