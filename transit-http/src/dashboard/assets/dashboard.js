// Live updates: the server pushes a `status` event (the JSON of /api/status, each next train
// with the instant it is due rather than a countdown) and then what changed; this script
// moves the trains, counts down to the next trains against the board's clock and updates the
// numbers in place. Text from events only ever goes into textContent, never into markup.
(() => {
  "use strict";
  const SVG = "http://www.w3.org/2000/svg";
  const numbers = new Intl.NumberFormat("en-US");
  const live = document.getElementById("live");
  let refetching = false;

  const setText = (element, text) => {
    if (element && element.textContent !== text) element.textContent = text;
  };

  const setLive = (on, text) => {
    live.className = on ? "live on" : "live off";
    setText(live, text);
  };

  // The board's shape changed (stations added): fetch the page and swap the board in place.
  const refetch = async () => {
    if (refetching) return;
    refetching = true;
    try {
      const response = await fetch("/", { cache: "no-store" });
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const board = page.getElementById("board");
      if (board) document.getElementById("board").replaceWith(document.adoptNode(board));
    } catch (error) {
      setLive(false, "reconnecting…");
    } finally {
      refetching = false;
    }
  };

  const trainMarker = (id) => {
    const group = document.createElementNS(SVG, "g");
    group.dataset.train = id;
    const rect = document.createElementNS(SVG, "rect");
    for (const [name, value] of [["x", -17], ["y", -8], ["width", 34], ["height", 16], ["rx", 4]]) {
      rect.setAttribute(name, value);
    }
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("y", 4);
    label.textContent = id;
    group.append(rect, label);
    return group;
  };

  // Trains go where the read model places them: at a platform, or part of the way from the
  // station they left to the next one.
  const updateTrains = (svg, line) => {
    const xs = new Map();
    for (const station of svg.querySelectorAll(".station")) {
      xs.set(station.dataset.id, Number(station.dataset.x));
    }
    const yA = Number(svg.dataset.trainAY);
    const yB = Number(svg.dataset.trainBY);
    const wanted = new Map();
    for (const train of line.trains) {
      const from = xs.get(String(train.from));
      if (from === undefined) continue;
      const to = train.to === null || train.to === undefined ? undefined : xs.get(String(train.to));
      const x = to === undefined ? from : from + (to - from) * train.progress;
      wanted.set(train.id, [x, train.direction === "a" ? yA : yB, train]);
    }
    const layer = svg.querySelector(".trains");
    const present = new Map();
    for (const marker of [...layer.children]) {
      if (wanted.has(marker.dataset.train)) present.set(marker.dataset.train, marker);
      else marker.remove();
    }
    for (const [id, [x, y, train]] of wanted) {
      let marker = present.get(id);
      if (!marker) {
        marker = trainMarker(id);
        layer.append(marker);
      }
      marker.setAttribute("class", `train ${train.status} hw-${train.headway}`);
      marker.style.transform = `translate(${x.toFixed(1)}px, ${y}px)`;
    }
  };

  const clock = (seconds) => {
    const s = Math.round(seconds);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  };

  // The board's times, "YYYY-MM-DD HH:MM:SS" in simulated local time, as milliseconds on one
  // scale (read as UTC: the simulated clock has no time zone), or NaN.
  const simulatedMs = (text) => {
    const parts = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec(text || "");
    if (!parts) return NaN;
    const [year, month, day, hour, minute, second] = parts.slice(1).map(Number);
    return Date.UTC(year, month - 1, day, hour, minute, second);
  };

  // Whole minutes from the board's clock to when the next train is due (0: "Due"), as
  // Train Tracker counts them: the stream sends the instant, which changes only when the
  // estimate does, and the count follows the clock here.
  const minutesTo = (next, now) => {
    const left = simulatedMs(next.due_at) - simulatedMs(now);
    if (Number.isFinite(left)) return Math.floor(Math.max(0, left) / 60000);
    return typeof next.minutes === "number" ? next.minutes : 0;
  };

  const platformCell = (cell, train, next, now) => {
    if (!cell) return;
    let content = cell.firstElementChild;
    if (train) {
      if (!content || !content.classList.contains("chip")) {
        cell.replaceChildren();
        content = cell.appendChild(document.createElement("span"));
      }
      content.className = `chip ${train.status} hw-${train.headway}`;
      setText(content, train.id);
    } else if (next) {
      if (!content || !content.classList.contains("next")) {
        cell.replaceChildren();
        content = cell.appendChild(document.createElement("span"));
        content.className = "next";
      }
      const minutes = minutesTo(next, now);
      setText(content, minutes === 0 ? `Due · ${next.id}` : `${minutes} min · ${next.id}`);
    } else if (content) {
      content.remove();
    }
  };

  // As the server renders them (diagram.rs's headway_label).
  const HEADWAY_LABELS = { on_time: "on time", bunched: "bunched", gapped: "gapped", unknown: "no headway yet" };

  const headwayCell = (cell, headway) => {
    if (!cell) return;
    if (!headway || headway.headway_s === null || headway.headway_s === undefined) {
      cell.replaceChildren();
      return;
    }
    const span = cell.firstElementChild || cell.appendChild(document.createElement("span"));
    span.className = `hw hw-${headway.state}`;
    // The state in words as well as in colour, kept in step with the class.
    span.title = HEADWAY_LABELS[headway.state] || HEADWAY_LABELS.unknown;
    setText(span, clock(headway.headway_s));
  };

  const orDash = (value, format) => (value === null || value === undefined ? "–" : format(value));

  const updatePanel = (line) => {
    const panel = document.getElementById("headways-" + line.line);
    if (!panel) return;
    const h = line.headways;
    setText(panel.querySelector(".hw-mean"), orDash(h.mean_headway_s, clock));
    setText(panel.querySelector(".hw-scheduled"), orDash(h.scheduled_headway_s, clock));
    setText(panel.querySelector(".hw-cv"), orDash(h.cv, (cv) => cv.toFixed(2)));
    setText(panel.querySelector(".hw-wait"), orDash(h.expected_wait_s, clock));
    setText(panel.querySelector(".fig .hw-bunched"), String(h.bunched));
    setText(panel.querySelector(".fig .hw-gapped"), String(h.gapped));
  };

  const update = (status) => {
    setText(document.getElementById("sim-time"), status.simulated_time || "waiting for the first train");
    if (status.weather) {
      setText(document.getElementById("weather-temp"), status.weather.temperature.toFixed(1) + " °F");
      setText(document.getElementById("weather-status"), status.weather.status.replace("_", " "));
    }
    setText(document.getElementById("total-entries"), numbers.format(status.totals.entries));
    setText(document.getElementById("total-trains"), String(status.totals.in_service));
    setText(document.getElementById("total-irregular"), `${status.totals.bunched} · ${status.totals.gapped}`);
    for (const line of status.lines) {
      const section = document.getElementById("line-" + line.line);
      const ids = line.stations.map((s) => s.station_id).join(",");
      if (!section || section.dataset.stations !== ids) {
        refetch();
        return;
      }
      let entries = 0;
      for (const station of line.stations) {
        entries += station.entries;
        const row = document.getElementById(`st-${line.line}-${station.station_id}`);
        if (!row) continue;
        platformCell(row.querySelector(".ta"), station.train_a, station.next_a, status.simulated_time);
        platformCell(row.querySelector(".tb"), station.train_b, station.next_b, status.simulated_time);
        headwayCell(row.querySelector(".ha"), station.headway_a);
        headwayCell(row.querySelector(".hb"), station.headway_b);
        setText(row.querySelector(".entries"), numbers.format(station.entries));
      }
      setText(document.getElementById("entries-" + line.line), numbers.format(entries));
      updatePanel(line);
      updateTrains(section.querySelector("svg.diagram"), line);
    }
    document.getElementById("board").dataset.version = String(status.version);
  };

  // The server sends the whole board (`status`) on connect and after a gap, and otherwise
  // what changed (`delta`: a patch against the version we hold, named by the event's id).
  // We keep the board, patch it, and hand the whole of it to update().
  let board = null;
  let held = null;

  // A patch has the board's shape, holding only what changed: [value] sets a node, [] removes
  // an object's member, and an object patches a node member by member (an array's by index).
  const applyPatch = (node, patch) => {
    if (Array.isArray(patch)) return patch[0];
    for (const [key, change] of Object.entries(patch)) {
      if (Array.isArray(change) && change.length === 0) delete node[key];
      else if (Array.isArray(change)) node[key] = change[0];
      else applyPatch(node[key], change);
    }
    return node;
  };

  let events;
  const connect = () => {
    events = new EventSource("/events");
    events.addEventListener("status", (event) => {
      board = JSON.parse(event.data);
      held = event.lastEventId;
      setLive(true, "live");
      update(board);
    });
    events.addEventListener("delta", (event) => {
      // The server sends a delta only from the version we hold; should one ever not fit,
      // never show a wrongly patched board: start over with the whole one.
      const restart = () => {
        events.close();
        board = null;
        connect();
      };
      const delta = JSON.parse(event.data);
      if (board === null || String(delta.from) !== held) return restart();
      try {
        board = applyPatch(board, delta.patch);
      } catch (error) {
        return restart();
      }
      held = event.lastEventId;
      setLive(true, "live");
      update(board);
    });
    events.addEventListener("error", () => setLive(false, "reconnecting…"));
  };
  connect();
})();
