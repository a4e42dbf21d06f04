/* The visits phone page.

   Every visit is written to the browser's storage first, with a UUID made at the tap, and only
   then sent (POST /api/visits/visits/batch/). A visit that cannot be sent stays queued and is
   sent again when the network is back (the "online" event, and retries with a growing delay),
   always with the same UUID: the server stores each UUID once and answers a repeat as
   "duplicate", so nothing is lost and nothing is doubled.

   A tapped outcome waits a few seconds (config.undoSeconds) with an undo button before it is
   sent; an elder already logged today asks before a second visit is logged. */
(function () {
  "use strict";

  const config = JSON.parse(document.getElementById("phone-config").textContent);
  const T = config.text;
  const labels = config.labels;
  const BATCH_SIZE = 200; // the API takes up to 500 visits per request
  const FIRST_RETRY_MS = 5000;
  const LAST_RETRY_MS = 60000;
  const SEND_TIMEOUT_MS = 30000; // a request that hangs (a dead connection) is given up and retried
  const KEEP_SENT = 100; // sent visits shown in the log; queued and returned ones are all kept
  const UNDO_MS = (config.undoSeconds || 5) * 1000;
  const contacts = config.contacts || {};

  const $ = (id) => document.getElementById(id);

  // --- storage, one set of keys per signed-in user ------------------------------------------

  const key = (name) => `eldercare.visits.${config.user}.${name}`;

  function load(name, fallback) {
    try {
      const value = JSON.parse(localStorage.getItem(key(name)));
      return value === null ? fallback : value;
    } catch (error) {
      return fallback;
    }
  }

  function store(name, value) {
    localStorage.setItem(key(name), JSON.stringify(value));
  }

  let journal = load("journal", []);
  let today = chooseList(JSON.parse($("today-data").textContent));

  function saveJournal() {
    const sent = journal.filter((e) => e.status === "accepted" || e.status === "duplicate");
    const old = new Set(sent.slice(0, Math.max(0, sent.length - KEEP_SENT)));
    journal = journal.filter((e) => !old.has(e));
    store("journal", journal);
  }

  // The list the page was served with, or the one fetched later and kept, whichever is newer
  // (a page opened offline comes from the service worker's copy and may be older).
  function chooseList(served) {
    served.fetched_at = config.renderedAt;
    const kept = load("today", null);
    const newer = kept && Date.parse(kept.fetched_at) > Date.parse(served.fetched_at);
    if (newer && kept.date === served.date) return kept;
    return served;
  }

  // --- helpers -------------------------------------------------------------------------------

  function newUuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)]
      .join("-");
  }

  function csrfToken() {
    const name = config.csrfCookieName;
    for (const part of document.cookie.split(";")) {
      const [k, ...v] = part.trim().split("=");
      if (k === name) return decodeURIComponent(v.join("="));
    }
    return document.querySelector("meta[name=csrf-token]").content;
  }

  function localDate(iso) {
    return new Date(iso).toLocaleDateString("sv-SE", { timeZone: config.timeZone });
  }

  function shortTime(iso) {
    return new Date(iso).toLocaleString(document.documentElement.lang || "zh-CN", {
      timeZone: config.timeZone,
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  function format(text, values) {
    return text.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? values[name] : match));
  }

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "className") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // --- the list ------------------------------------------------------------------------------

  // What this phone logged today counts at once, before the server has seen it.
  function loggedToday(elderId) {
    return journal.filter(
      (e) => e.elder === elderId && e.status !== "rejected" && localDate(e.visited_at) === today.date
    );
  }

  // What the search box and the community menu keep: the rows that match both.
  function matches(row) {
    const community = $("community").value;
    if (community && row.residence_region !== community) return false;
    const words = $("search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return true;
    const contact = contacts[String(row.elder)] || {};
    const text = [row.name, row.residence_region_name, contact.address].join(" ").toLowerCase();
    return words.every((word) => text.includes(word));
  }

  function fillCommunities() {
    const menu = $("community");
    const chosen = menu.value;
    const names = new Map();
    for (const row of today.elders) names.set(row.residence_region, row.residence_region_name);
    const sorted = Array.from(names).sort((a, b) => a[1].localeCompare(b[1], "zh-CN"));
    menu.replaceChildren(menu.options[0]);
    for (const [code, name] of sorted) menu.append(el("option", { value: code }, name));
    menu.value = names.has(chosen) ? chosen : "";
  }

  function contactLine(row) {
    const contact = contacts[String(row.elder)];
    if (!contact) return null;
    return el(
      "div",
      { className: "contact" },
      contact.address
        ? el("span", { className: "address" }, `${T.address}：${contact.address}`)
        : null,
      contact.phone
        ? el(
            "a",
            { className: "tel", href: `tel:${contact.phone}` },
            `${T.call} ${contact.phone}`
          )
        : null
    );
  }

  function renderList() {
    $("list-date").textContent = today.date;
    const list = $("elders");
    const rest = $("elders-not-due");
    // A form being filled in survives the refresh, with what was typed in it.
    const openForm = document.querySelector(".elder.open .visit-form");
    const openId = openForm ? openForm.closest(".elder").dataset.elder : null;
    list.replaceChildren();
    rest.replaceChildren();
    let owed = 0;
    let shown = 0;
    let notDue = 0;
    for (const row of today.elders) {
      const mine = loggedToday(row.elder);
      const due = row.due && mine.length === 0;
      const last = [row.last_visit, ...mine.map((e) => e.visited_at)].filter(Boolean).sort().pop();
      if (due) owed += 1;
      if (!matches(row)) continue;
      shown += 1;
      const state = due ? "owed" : row.due || mine.length ? "visited" : "not_due";
      const groups = row.groups.map((g) => labels.group[g] || g).join("、");
      const item = el(
        "li",
        { className: `elder ${state}`, "data-elder": String(row.elder), "data-state": state },
        el(
          "button",
          { type: "button", className: "elder-head", "aria-expanded": "false", onclick: toggle },
          el("span", { className: "name" }, row.name),
          el("span", { className: `badge ${state}` }, T[state]),
          el(
            "span",
            { className: "details" },
            [row.residence_region_name, labels.frequency[row.frequency] || row.frequency, groups]
              .filter(Boolean)
              .join(" · ")
          ),
          el("span", { className: "details" }, row.id_number),
          el(
            "span",
            { className: "details last" },
            last ? `${T.last_visit}：${shortTime(last)}` : T.never_visited
          )
        ),
        contactLine(row)
      );
      if (state === "not_due") {
        notDue += 1;
        rest.append(item);
      } else {
        list.append(item);
      }
      if (openId === String(row.elder)) {
        item.append(openForm);
        item.classList.add("open");
        item.querySelector(".elder-head").setAttribute("aria-expanded", "true");
      }
    }
    $("owed-count").textContent = String(owed);
    $("not-due-count").textContent = String(notDue);
    $("not-due").hidden = notDue === 0;
    $("shown-count").textContent =
      shown === today.elders.length ? "" : format(T.shown, { shown, total: today.elders.length });
    if (!today.elders.length) list.append(el("li", { className: "empty" }, T.empty));
    else if (!shown) list.append(el("li", { className: "empty" }, T.no_match));
  }

  // Today's latest visit of an elder, from this phone or (before it) from the server's list.
  function visitedTodayAt(elderId) {
    const row = today.elders.find((r) => r.elder === elderId);
    const times = loggedToday(elderId).map((e) => e.visited_at);
    if (row && row.last_visit && localDate(row.last_visit) === today.date) times.push(row.last_visit);
    return times.sort().pop() || null;
  }

  function toggle() {
    const item = this.closest(".elder");
    const form = item.querySelector(".visit-form");
    if (form) {
      form.remove();
      item.classList.remove("open");
      this.setAttribute("aria-expanded", "false");
      return;
    }
    for (const other of document.querySelectorAll(".elder.open")) {
      other.querySelector(".visit-form").remove();
      other.classList.remove("open");
      other.querySelector(".elder-head").setAttribute("aria-expanded", "false");
    }
    const fresh = $("visit-form-template").content.firstElementChild.cloneNode(true);
    const outcomes = fresh.querySelectorAll("button[data-outcome]");
    for (const button of outcomes) {
      button.addEventListener("click", () => logVisit(fresh, button.dataset.outcome));
    }
    // A second visit of the same day is a mistake more often than not: asked, not assumed.
    const visitedAt = visitedTodayAt(Number(item.dataset.elder));
    if (visitedAt) {
      for (const button of outcomes) button.disabled = true;
      const again = el("button", { type: "button", className: "secondary log-again" }, T.log_again);
      again.addEventListener("click", () => {
        for (const button of outcomes) button.disabled = false;
        warning.remove();
      });
      const warning = el(
        "div",
        { className: "already", role: "alert" },
        el("p", {}, format(T.already_logged, { time: shortTime(visitedAt) })),
        again
      );
      fresh.querySelector(".hint").before(warning);
    }
    item.append(fresh);
    item.classList.add("open");
    this.setAttribute("aria-expanded", "true");
  }

  async function refreshList() {
    try {
      const response = await fetch(`${config.todayUrl}?date=${today.date}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (response.status === 401 || response.status === 403) {
        showSignIn();
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      body.fetched_at = new Date().toISOString();
      today = body;
      store("today", today);
      fillCommunities();
      $("list-message").textContent = "";
    } catch (error) {
      $("list-message").textContent = navigator.onLine ? T.refresh_failed : T.saved_list;
    }
    renderList();
  }

  // --- logging and sending -------------------------------------------------------------------

  let undoTimer = null;

  function logVisit(form, outcome) {
    // One tap, one visit: the buttons go quiet at once, before a second tap lands.
    for (const button of form.querySelectorAll("button[data-outcome]")) button.disabled = true;
    if (outcome === "deceased" && !window.confirm(T.confirm_deceased)) {
      for (const button of form.querySelectorAll("button[data-outcome]")) button.disabled = false;
      return;
    }
    const item = form.closest(".elder");
    const elderId = Number(item.dataset.elder);
    const row = today.elders.find((r) => r.elder === elderId);
    const entry = {
      uuid: newUuid(),
      elder: elderId,
      elder_name: row ? row.name : String(elderId),
      visited_at: new Date().toISOString(),
      mode: form.querySelector("input[name=mode]:checked").value,
      outcome: outcome,
      needs: Array.from(form.querySelectorAll("input[name=needs]:checked"), (i) => i.value),
      notes: form.querySelector("textarea[name=notes]").value.trim(),
      status: "queued",
      // Sent once this time has passed (or at once with 立即发送): until then it can be undone.
      hold_until: Date.now() + UNDO_MS,
    };
    journal.push(entry);
    saveJournal(); // stored before anything is sent: a closed page loses nothing
    item.querySelector(".elder-head").click(); // close the form
    renderList();
    renderLog();
    const undo = el("button", { type: "button", className: "secondary undo" }, T.undo);
    undo.addEventListener("click", () => undoVisit(entry.uuid));
    $("queue-message").replaceChildren(
      `${T.logged}：${entry.elder_name} · ${labels.outcome[outcome]} `,
      undo
    );
    if (undoTimer !== null) window.clearTimeout(undoTimer);
    undoTimer = window.setTimeout(() => {
      undoTimer = null;
      if (undo.isConnected) undo.remove();
      flush();
    }, UNDO_MS);
  }

  function undoVisit(uuid) {
    const entry = journal.find((e) => e.uuid === uuid && e.status === "queued" && e.hold_until);
    if (!entry) return; // already on its way: too late to undo
    journal = journal.filter((e) => e !== entry);
    saveJournal();
    $("queue-message").textContent = `${T.undone}：${entry.elder_name}`;
    renderList();
    renderLog();
  }

  // Queued visits whose undo time is over (all of them when the worker asks to send now).
  function sendable(entry, everything) {
    return entry.status === "queued" && (everything || !entry.hold_until || entry.hold_until <= Date.now());
  }

  function payload(entry) {
    const { uuid, elder, visited_at, mode, outcome, needs, notes } = entry;
    return { uuid, elder, visited_at, mode, outcome, needs, notes };
  }

  let flushing = false;
  let retryTimer = null;
  let retryDelay = FIRST_RETRY_MS;

  function scheduleRetry() {
    if (retryTimer !== null) return;
    retryTimer = window.setTimeout(() => {
      retryTimer = null;
      flush();
    }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, LAST_RETRY_MS);
  }

  // The network is back, or the worker asked: send now, and retry soon if that fails too.
  function sendNow() {
    if (retryTimer !== null) window.clearTimeout(retryTimer);
    retryTimer = null;
    retryDelay = FIRST_RETRY_MS;
    for (const entry of journal) if (entry.status === "queued") delete entry.hold_until;
    for (const undo of document.querySelectorAll("#queue-message .undo")) undo.remove();
    saveJournal();
    flush();
  }

  function showSignIn() {
    const message = $("queue-message");
    message.replaceChildren(
      el("a", { href: config.loginUrl, className: "sign-in" }, T.sign_in_again)
    );
  }

  async function flush() {
    if (flushing) return;
    const pending = journal.filter((e) => sendable(e, false)).slice(0, BATCH_SIZE);
    if (!pending.length) {
      // Visits still within their undo time go out when it ends.
      const held = journal.filter((e) => e.status === "queued" && e.hold_until);
      if (held.length) {
        const wait = Math.max(...held.map((e) => e.hold_until)) - Date.now();
        window.setTimeout(flush, Math.max(wait, 0) + 50);
      }
      return;
    }
    flushing = true;
    document.body.classList.add("sending");
    let more = false;
    const abort = new AbortController();
    const timeout = window.setTimeout(() => abort.abort(), SEND_TIMEOUT_MS);
    try {
      const response = await fetch(config.batchUrl, {
        signal: abort.signal,
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify({ visits: pending.map(payload) }),
      });
      if (response.status === 401 || response.status === 403) {
        showSignIn(); // kept queued: sent once the worker has signed in again
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      const sentAt = new Date().toISOString();
      for (const result of body.results) {
        const entry = pending[result.index];
        entry.status = result.status;
        delete entry.hold_until;
        entry.errors = result.errors || null;
        entry.sent_at = sentAt;
      }
      saveJournal();
      retryDelay = FIRST_RETRY_MS;
      if (!document.querySelector("#queue-message .undo")) $("queue-message").textContent = "";
      more = journal.some((e) => sendable(e, false));
    } catch (error) {
      scheduleRetry(); // offline, or the server is unreachable: the visits stay queued
    } finally {
      window.clearTimeout(timeout);
      flushing = false;
      document.body.classList.remove("sending");
      renderLog();
      renderList();
    }
    if (more) flush();
  }

  function renderLog() {
    const counts = { queued: 0, sent: 0, rejected: 0 };
    const list = $("log-list");
    list.replaceChildren();
    for (const entry of journal.slice().reverse()) {
      if (entry.status === "queued") counts.queued += 1;
      else if (entry.status === "rejected") counts.rejected += 1;
      else counts.sent += 1;
      const reasons = entry.errors
        ? Object.values(entry.errors)
            .flat()
            .join(" ")
        : "";
      list.append(
        el(
          "li",
          { className: `log-entry ${entry.status}`, "data-uuid": entry.uuid, "data-status": entry.status },
          el("span", { className: "name" }, entry.elder_name),
          el("span", { className: "outcome" }, labels.outcome[entry.outcome] || entry.outcome),
          el("span", { className: "time" }, shortTime(entry.visited_at)),
          el("span", { className: `badge ${entry.status}` }, T[entry.status] || entry.status),
          reasons ? el("span", { className: "reasons" }, reasons) : null
        )
      );
    }
    if (!journal.length) list.append(el("li", { className: "empty" }, T.nothing_queued));
    $("queued-count").textContent = String(counts.queued);
    $("sent-count").textContent = String(counts.sent);
    $("rejected-count").textContent = String(counts.rejected);
    $("log-count").textContent = String(journal.length);
    if (counts.rejected) $("log").open = true; // a returned visit needs the worker's eye
    $("send-now").disabled = counts.queued === 0;
  }

  // --- network state -------------------------------------------------------------------------

  function showNetwork() {
    const online = navigator.onLine;
    const badge = $("network");
    badge.dataset.state = online ? "online" : "offline";
    badge.textContent = online ? T.online : T.offline;
  }

  window.addEventListener("online", () => {
    showNetwork();
    sendNow();
    refreshList();
  });
  window.addEventListener("offline", showNetwork);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") flush();
  });
  // Another tab of this page sent or queued visits: show the same journal.
  window.addEventListener("storage", (event) => {
    if (event.key === key("journal")) {
      journal = load("journal", []);
      renderLog();
      renderList();
    }
  });
  $("send-now").addEventListener("click", sendNow);
  $("search").addEventListener("input", renderList);
  $("community").addEventListener("change", renderList);
  document.querySelector("form.filters").addEventListener("submit", (event) => {
    event.preventDefault();
    $("search").blur(); // the phone's keyboard closes on its search key
  });

  showNetwork();
  fillCommunities();
  renderList();
  renderLog();
  flush();
  if (navigator.onLine) refreshList();
  else $("list-message").textContent = T.saved_list;

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(config.serviceWorkerUrl).catch(() => {
      /* the page still works online without it */
    });
  }
  document.body.dataset.ready = "true";
})();
