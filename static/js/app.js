/* Webmail page behaviour: theme switch, selection, keyboard, drag and drop, live title.
 * Loaded with <script src defer>; no inline scripts or handlers (CSP script-src 'self').
 * Every change to mail goes through the same htmx endpoints the buttons use. */
(function () {
  "use strict";

  var root = document.documentElement;
  var lastChecked = null;   // anchor of a shift-click range
  var pendingG = false;     // "g" was pressed, waiting for "i"
  var currentId = null;     // the keyboard cursor, kept by id: rows are re-rendered by swaps

  function $(selector, scope) { return (scope || document).querySelector(selector); }
  function $all(selector, scope) { return Array.prototype.slice.call((scope || document).querySelectorAll(selector)); }

  /* ---- theme -------------------------------------------------------------------- */
  function effectiveTheme() {
    var chosen = root.getAttribute("data-theme");
    if (chosen) { return chosen; }
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  function showTheme() {
    var button = $("#theme-toggle");
    if (!button) { return; }
    var theme = effectiveTheme();
    // Labels come translated from the page (data-label-*), English if missing.
    button.textContent = theme === "dark"
      ? (button.getAttribute("data-label-light") || "Light theme")
      : (button.getAttribute("data-label-dark") || "Dark theme");
    button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
  }
  function toggleTheme() {
    var next = effectiveTheme() === "dark" ? "light" : "dark";
    root.setAttribute("data-theme", next);
    try { window.localStorage.setItem("theme", next); } catch (e) { /* not kept */ }
    showTheme();
  }

  /* ---- rows, current row, selection ---------------------------------------------- */
  function rows() { return $all("#message-rows > .row"); }
  function currentRow() {
    var row = currentId ? document.getElementById("msg-" + currentId) : null;
    return row && row.parentElement && row.parentElement.id === "message-rows" ? row : null;
  }
  function setCurrent(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("current"); r.removeAttribute("aria-current"); });
    if (!row) { currentId = null; return; }
    currentId = row.getAttribute("data-id");
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    if (scroll !== false) { row.scrollIntoView({ block: "nearest" }); }
  }
  function selectedIds() {
    return $all("#message-rows .select:checked").map(function (box) { return box.value; });
  }
  function syncSelectedClass(box) {
    var row = box.closest(".row");
    if (row) { row.classList.toggle("selected", box.checked); }
  }
  function onCheckboxClick(event) {
    var box = event.target;
    var boxes = $all("#message-rows .select");
    if (event.shiftKey && lastChecked && lastChecked !== box) {
      var a = boxes.indexOf(lastChecked), b = boxes.indexOf(box);
      if (a >= 0 && b >= 0) {
        boxes.slice(Math.min(a, b), Math.max(a, b) + 1).forEach(function (other) {
          other.checked = box.checked;
          syncSelectedClass(other);
        });
      }
    }
    lastChecked = box;
    syncSelectedClass(box);
  }
  function selectAll(checked) {
    $all("#message-rows .select").forEach(function (box) { box.checked = checked; syncSelectedClass(box); });
  }

  /* ---- actions ---------------------------------------------------------------------- */
  function csrfHeaders() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}"); } catch (e) { return {}; }
  }
  function openMessageId() {
    var article = $("#reader .message-view");
    return article ? article.getAttribute("data-id") : null;
  }
  function targetIds() {
    var ids = selectedIds();
    if (ids.length) { return ids; }
    var reading = $("#mailbox.reading") ? openMessageId() : null;
    if (reading) { return [reading]; }
    var row = currentRow();
    if (row) { return [row.getAttribute("data-id")]; }
    var open = openMessageId();
    return open ? [open] : [];
  }
  function act(action, ids, extra) {
    var url = $("#mailbox") && $("#mailbox").getAttribute("data-action-url");
    if (!url || !ids.length || !window.htmx) { return; }
    var values = { action: action, ids: ids.join(",") };
    if (extra) { Object.keys(extra).forEach(function (k) { values[k] = extra[k]; }); }
    // A quiet action (the open message marked read) has no toast: it must not wipe
    // the one showing, with its Undo. Its rows and counts still swap out of band.
    var quiet = extra && extra.quiet;
    window.htmx.ajax("POST", url, {
      source: document.body, target: "#toast", swap: quiet ? "none" : "innerHTML",
      values: values, headers: csrfHeaders()
    });
  }
  function undo() {
    var button = $("#toast [data-shortcut='undo']");
    if (!button) { return; }
    var form = button.closest("form");
    // Posted through htmx here: a click while the toast is still settling (htmx has
    // not bound the new form yet) would submit the form natively and reload the page.
    if (form && window.htmx) {
      window.htmx.ajax("POST", form.getAttribute("hx-post"), {
        source: document.body, target: "#toast", swap: "innerHTML", headers: csrfHeaders()
      });
    } else {
      button.click();
    }
  }

  /* ---- reading pane --------------------------------------------------------------- */
  function openRow(row) {
    if (!row) { return; }
    setCurrent(row);
    var link = $(".open", row);
    if (link) { link.click(); }
  }
  function backToList() {
    var mailbox = $("#mailbox");
    if (!mailbox) { return; }
    mailbox.classList.remove("reading");
    var listInner = $(".list-inner");
    if (listInner && window.location.pathname.indexOf("/mail/message/") === 0) {
      window.history.pushState({}, "", listInner.getAttribute("data-list-url"));
    }
    var row = currentRow() || rows()[0];
    if (row) { setCurrent(row); var link = $(".open", row); if (link) { link.focus(); } }
  }
  function markOpenMessageRead() {
    // Sent from <body>, not from the reader: a fast j/k may replace the reader before
    // the answer comes, and htmx drops out-of-band swaps of a detached source.
    var article = $("#reader .message-view[data-unseen]");
    if (!article) { return; }
    article.removeAttribute("data-unseen");
    act("read", [article.getAttribute("data-id")], { quiet: "1" });
  }
  function clearReader() {
    var reader = $("#reader");
    if (reader) {
      reader.innerHTML = '<div class="empty-state"><p>Select a message to read it.</p></div>';
    }
  }

  /* ---- keyboard ------------------------------------------------------------------- */
  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    if (tag === "input") {
      // Shortcuts still work from a checkbox (after select-all or a row's box).
      var type = (target.getAttribute("type") || "text").toLowerCase();
      return ["checkbox", "radio", "button", "submit", "reset"].indexOf(type) === -1;
    }
    return tag === "textarea" || tag === "select" || target.isContentEditable;
  }
  function move(step) {
    var all = rows();
    if (!all.length) { return; }
    var index = all.indexOf(currentRow());
    var next = all[Math.max(0, Math.min(all.length - 1, index + step))] || all[0];
    setCurrent(next);
    var link = $(".open", next);
    if (link) { link.focus({ preventScroll: true }); }
    if ($("#mailbox.reading") || (openMessageId() && window.innerWidth > 900)) { openRow(next); }
  }
  function follow(name) {
    var link = $("[data-shortcut='" + name + "']");
    if (link) { link.click(); return true; }
    return false;
  }
  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var dialog = $("#shortcuts");
    if (dialog && dialog.open) { return; }
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "i") { event.preventDefault(); follow("inbox"); return; }
    }
    var handled = true;
    var open = openMessageId();
    switch (key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "o": case "Enter":
        if (event.target && event.target.tagName && event.target.tagName.toLowerCase() === "button") { handled = false; break; }
        openRow(currentRow() || rows()[0]); break;
      case "u": backToList(); break;
      case "U": act("unread", targetIds()); break;
      case "x": {
        var row = currentRow();
        var box = row && $(".select", row);
        if (box) { box.checked = !box.checked; syncSelectedClass(box); lastChecked = box; }
        break;
      }
      case "e": act("archive", targetIds()); break;
      case "#": act("delete", targetIds()); break;
      case "!": act("spam", targetIds()); break;
      case "s": {
        var ids = targetIds();
        var first = ids.length ? $("#msg-" + ids[0]) : null;
        var starred = first ? first.classList.contains("flagged") : false;
        act(starred ? "unstar" : "star", ids);
        break;
      }
      case "z": undo(); break;
      case "r": if (!open || !follow("reply")) { handled = false; } break;
      case "a": if (!open || !follow("reply-all")) { handled = false; } break;
      case "f": if (!open || !follow("forward")) { handled = false; } break;
      case "c": window.location.href = "/compose/"; break;
      case "/": { var search = $("#search-box"); if (search) { search.focus(); } break; }
      case "g": pendingG = true; window.setTimeout(function () { pendingG = false; }, 1500); break;
      case "?": if (dialog && dialog.showModal) { dialog.showModal(); } break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  }

  /* ---- drag and drop to folders ------------------------------------------------------- */
  function onDragStart(event) {
    var row = event.target.closest && event.target.closest(".row");
    if (!row) { return; }
    var ids = selectedIds();
    if (ids.indexOf(row.getAttribute("data-id")) === -1) { ids = [row.getAttribute("data-id")]; }
    event.dataTransfer.setData("application/x-webmail-ids", ids.join(","));
    event.dataTransfer.setData("text/plain", ids.join(","));
    event.dataTransfer.effectAllowed = "move";
    row.classList.add("dragging");
  }
  function folderFrom(event) {
    return event.target.closest && event.target.closest(".folder-link[data-folder-id]");
  }
  function onDragOver(event) {
    var folder = folderFrom(event);
    if (!folder) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    folder.classList.add("drop-target");
  }
  function onDragLeave(event) {
    var folder = folderFrom(event);
    if (folder) { folder.classList.remove("drop-target"); }
  }
  function onDrop(event) {
    var folder = folderFrom(event);
    if (!folder) { return; }
    event.preventDefault();
    folder.classList.remove("drop-target");
    var raw = event.dataTransfer.getData("application/x-webmail-ids") || event.dataTransfer.getData("text/plain");
    var ids = (raw || "").split(",").filter(function (id) { return /^\d+$/.test(id); });
    act("move", ids, { folder: folder.getAttribute("data-folder-id") });
  }
  function onDragEnd() { $all(".row.dragging").forEach(function (r) { r.classList.remove("dragging"); }); }

  /* ---- browser notifications (optional, asked for by a click) ---------------------- */
  var newestSeen = null;
  function notificationButton() {
    var button = $("#enable-notifications");
    if (button && "Notification" in window && window.Notification.permission === "default") {
      button.hidden = false;
    }
  }
  function askNotifications() {
    if (!("Notification" in window)) { return; }
    window.Notification.requestPermission().then(function () {
      var button = $("#enable-notifications");
      if (button) { button.hidden = true; }
    });
  }
  function notifyNewMail(detail) {
    var newest = detail && typeof detail.newest === "number" ? detail.newest : null;
    if (newest === null) { return; }
    var isNew = newestSeen !== null && newest > newestSeen;
    newestSeen = Math.max(newestSeen || 0, newest);
    if (!isNew || !document.hidden || !("Notification" in window) ||
        window.Notification.permission !== "granted") { return; }
    var button = $("#enable-notifications");
    new window.Notification(button ? button.getAttribute("data-title") : "New mail", { tag: "webmail-new-mail" });
  }

  /* ---- server events ----------------------------------------------------------------- */
  function setTitleCount(count) {
    var bare = document.title.replace(/^\(\d+\)\s*/, "");
    document.title = count > 0 ? "(" + count + ") " + bare : bare;
  }
  function onMessagesRemoved(event) {
    var ids = (event.detail && event.detail.ids || []).map(String);
    if (!ids.length) { return; }
    var all = rows();
    var current = currentRow();
    var after = null;
    if (current && ids.indexOf(current.getAttribute("data-id")) !== -1) {
      var index = all.indexOf(current);
      after = all.slice(index + 1).concat(all.slice(0, index).reverse()).filter(function (r) {
        return ids.indexOf(r.getAttribute("data-id")) === -1;
      })[0] || null;
    }
    var open = openMessageId();
    window.setTimeout(function () {   // after htmx removed the rows
      if (after) { setCurrent(after); }
      if (open && ids.indexOf(open) !== -1) {
        if (after && $("#mailbox.reading")) { openRow(after); } else { clearReader(); backToList(); }
      }
    }, 0);
  }
  function onAfterSwap(event) {
    var target = event.detail && event.detail.target;
    if (!target) { return; }
    if (target.id === "reader") {
      markOpenMessageRead();
      var id = openMessageId();
      var mailbox = $("#mailbox");
      if (id && mailbox) {
        mailbox.classList.add("reading");
        var row = $("#msg-" + id);
        if (row) { setCurrent(row); }
      }
    } else if (target.id === "list-pane") {
      lastChecked = null;
      if (!currentRow()) { setCurrent(rows()[0], false); }
    } else if (target.id === "toast") {
      window.clearTimeout(onAfterSwap.timer);
      onAfterSwap.timer = window.setTimeout(function () { target.innerHTML = ""; }, 8000);
    }
  }

  function onClick(event) {
    var t = event.target;
    if (t.id === "theme-toggle") { toggleTheme(); return; }
    if (t.id === "enable-notifications") { askNotifications(); return; }
    if (t.classList && t.classList.contains("select")) { onCheckboxClick(event); return; }
    if (t.id === "select-all") { selectAll(t.checked); return; }
    if (t.closest && t.closest("[data-shortcut='back']") && $("#mailbox")) {
      event.preventDefault(); backToList(); return;
    }
    var folderLink = t.closest && t.closest(".folder-link");
    if (folderLink) {
      $all(".folder-link.current").forEach(function (l) { l.classList.remove("current"); l.removeAttribute("aria-current"); });
      folderLink.classList.add("current");
      folderLink.setAttribute("aria-current", "page");
      var mailbox = $("#mailbox");
      if (mailbox) { mailbox.classList.remove("reading"); }
    }
    var row = t.closest && t.closest("#message-rows > .row");
    if (row && !(t.classList && t.classList.contains("select"))) { setCurrent(row, false); }
  }

  // The heartbeat (#live polls /mail/changes/ every 5 s) is most of a busy site's
  // requests; a hidden tab needs it only for the title and notifications, so it asks
  // once a minute, and again at once when the tab is shown. (htmx's trigger filters
  // need eval, which the CSP forbids: hence these two listeners.)
  var HIDDEN_POLL_MS = 60000;
  var lastPoll = 0;
  function throttleHiddenPoll(e) {
    if (!e.detail || !e.detail.elt || e.detail.elt.id !== "live") { return; }
    var now = Date.now();
    if (document.hidden && now - lastPoll < HIDDEN_POLL_MS) { e.preventDefault(); return; }
    lastPoll = now;
  }
  // A list reload (after the heartbeat saw a change) asked for before an action had
  // finished may be rendered before that action's commit and answer after it, with
  // the rows as they were: such an answer is dropped and the list asked for again.
  var requestCount = 0;
  var lastPostDone = 0;
  function noteRequest(e) {
    if (e.detail && e.detail.xhr) { e.detail.xhr.webmailOrder = ++requestCount; }
  }
  function notePostDone(e) {
    var config = e.detail && e.detail.requestConfig;
    if (config && String(config.verb).toLowerCase() === "post") { lastPostDone = requestCount; }
  }
  function dropStaleList(e) {
    var d = e.detail;
    var inner = d && d.requestConfig && d.requestConfig.elt;
    // Only the reload itself: a folder or sort link the person clicked is their choice.
    if (!inner || !inner.classList || !inner.classList.contains("list-inner")) { return; }
    if (!d.xhr || d.xhr.webmailOrder > lastPostDone) { return; }
    d.shouldSwap = false;
    if (window.htmx && document.body.contains(inner)) {
      window.htmx.ajax("GET", inner.getAttribute("hx-get"),
                       { source: inner, target: "#list-pane", swap: "innerHTML" });
    }
  }
  function pollWhenShown() {
    var live = $("#live");
    if (!document.hidden && live && window.htmx) { window.htmx.trigger(live, "shown"); }
  }

  function init() {
    showTheme();
    if (window.matchMedia) {
      var query = window.matchMedia("(prefers-color-scheme: dark)");
      if (query.addEventListener) { query.addEventListener("change", showTheme); }
    }
    document.addEventListener("click", onClick);
    document.addEventListener("keydown", onKey);
    document.addEventListener("dragstart", onDragStart);
    document.addEventListener("dragover", onDragOver);
    document.addEventListener("dragleave", onDragLeave);
    document.addEventListener("drop", onDrop);
    document.body.addEventListener("htmx:beforeRequest", throttleHiddenPoll);
    document.body.addEventListener("htmx:beforeRequest", noteRequest);
    document.body.addEventListener("htmx:beforeOnLoad", notePostDone);
    document.body.addEventListener("htmx:beforeSwap", dropStaleList);
    document.addEventListener("visibilitychange", pollWhenShown);
    document.addEventListener("dragend", onDragEnd);
    document.body.addEventListener("unreadChanged", function (e) {
      if (e.detail && typeof e.detail.unread === "number") { setTitleCount(e.detail.unread); }
    });
    document.body.addEventListener("messagesRemoved", onMessagesRemoved);
    document.body.addEventListener("mailChanged", function (e) { notifyNewMail(e.detail); });
    var mailbox = $("#mailbox");
    if (mailbox && mailbox.getAttribute("data-newest")) {
      newestSeen = parseInt(mailbox.getAttribute("data-newest"), 10) || null;
    }
    notificationButton();
    document.body.addEventListener("htmx:afterSwap", onAfterSwap);
    // Out-of-band swaps replace rows: put the cursor back on the re-rendered one.
    document.body.addEventListener("htmx:afterSettle", function () {
      var row = currentRow();
      if (row && !row.classList.contains("current")) { setCurrent(row, false); }
      notificationButton();
    });
    markOpenMessageRead();
    var reading = openMessageId();
    if (reading && $("#msg-" + reading)) { setCurrent($("#msg-" + reading)); }
    else if (rows().length) { setCurrent(rows()[0], false); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
