/* The visits phone page.

   Every visit is written to the browser's storage first, with a UUID made at the tap, and only
   then sent (POST /api/visits/visits/batch/). A visit that cannot be sent stays queued and is
   sent again when the network is back (the "online" event, and retries with a growing delay),
   always with the same UUID: the server stores each UUID once and answers a repeat as
   "duplicate", so nothing is lost and nothing is doubled. */
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

  function renderList() {
    $("list-date").textContent = today.date;
    const list = $("elders");
    // A form being filled in survives the refresh, with what was typed in it.
    const openForm = list.querySelector(".elder.open .visit-form");
    const openId = openForm ? openForm.closest(".elder").dataset.elder : null;
    list.replaceChildren();
    let owed = 0;
    for (const row of today.elders) {
      const mine = loggedToday(row.elder);
      const due = row.due && mine.length === 0;
      const last = [row.last_visit, ...mine.map((e) => e.visited_at)].filter(Boolean).sort().pop();
      if (due) owed += 1;
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
        )
      );
      list.append(item);
      if (openId === String(row.elder)) {
        item.append(openForm);
        item.classList.add("open");
        item.querySelector(".elder-head").setAttribute("aria-expanded", "true");
      }
    }
    $("owed-count").textContent = String(owed);
    if (!today.elders.length) list.append(el("li", { className: "empty" }, T.empty));
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
    for (const button of fresh.querySelectorAll("button[data-outcome]")) {
      button.addEventListener("click", () => logVisit(fresh, button.dataset.outcome));
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
      $("list-message").textContent = "";
    } catch (error) {
      $("list-message").textContent = navigator.onLine ? T.refresh_failed : T.saved_list;
    }
    renderList();
  }

  // --- logging and sending -------------------------------------------------------------------

  function logVisit(form, outcome) {
    if (outcome === "deceased" && !window.confirm(T.confirm_deceased)) return;
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
    };
    journal.push(entry);
    saveJournal(); // stored before anything is sent: a closed page loses nothing
    item.querySelector(".elder-head").click(); // close the form
    renderList();
    renderLog();
    $("queue-message").textContent = `${T.logged}：${entry.elder_name} · ${labels.outcome[outcome]}`;
    flush();
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
    const pending = journal.filter((e) => e.status === "queued").slice(0, BATCH_SIZE);
    if (!pending.length) return;
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
        entry.errors = result.errors || null;
        entry.sent_at = sentAt;
      }
      saveJournal();
      retryDelay = FIRST_RETRY_MS;
      $("queue-message").textContent = "";
      more = journal.some((e) => e.status === "queued");
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

  showNetwork();
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
