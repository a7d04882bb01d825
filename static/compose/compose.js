// The compose page: autosave, plain-text mode, attachments (picker and drop, sizes
// checked before upload), recipient autocomplete. No inline code: the CSP is
// script-src 'self'. Everything is reached through the form's data-* attributes.
(function () {
  "use strict";
  // Django's JavaScript catalog (jsi18n/) defines gettext; English without it.
  var gettext = window.gettext || function (text) { return text; };
  var interpolate = window.interpolate || function (text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_m, key) { return values[key]; });
  };

  var AUTOSAVE_MS = 3000;
  var form = document.getElementById("compose-form");
  if (!form) return;

  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var status = document.getElementById("save-status");
  var maxBytes = parseInt(form.dataset.maxBytes, 10) || 0;
  var dirty = false;
  var saving = false;
  var sending = false;

  function post(url, body) {
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: {"X-CSRFToken": csrf, "X-Requested-With": "fetch"}
    });
  }

  // -- autosave --------------------------------------------------------------------
  function save() {
    if (!dirty || saving || sending) return Promise.resolve();
    saving = true;
    dirty = false;
    status.textContent = gettext("Saving…");
    return post(form.dataset.saveUrl, new FormData(form)).then(function (response) {
      saving = false;
      if (!response.ok) throw new Error(String(response.status));
      status.textContent = gettext("Saved");
    }).catch(function () {
      saving = false;
      dirty = true;
      status.textContent = gettext("Not saved yet (will retry)");
    });
  }

  function markDirty() { dirty = true; status.textContent = ""; }
  form.addEventListener("input", markDirty);
  form.addEventListener("change", markDirty);
  document.addEventListener("trix-change", markDirty);
  setInterval(save, AUTOSAVE_MS);

  function saveOnLeave() {
    if (!dirty || sending) return;
    // sendBeacon survives the page going away; the token travels in the form data.
    if (navigator.sendBeacon(form.dataset.saveUrl, new FormData(form))) dirty = false;
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") saveOnLeave();
  });
  window.addEventListener("pagehide", saveOnLeave);
  form.addEventListener("submit", function () { sending = true; });

  // -- plain text mode -------------------------------------------------------------
  var plain = document.getElementById("id_plain_text");
  var rich = document.getElementById("rich-editor");
  var plainEditor = document.getElementById("plain-editor");
  var text = document.getElementById("id_body_text");
  var trix = form.querySelector("trix-editor");
  plain.addEventListener("change", function () {
    if (plain.checked) {
      if (trix && trix.editor) text.value = trix.editor.getDocument().toString();
      rich.hidden = true;
      plainEditor.hidden = false;
    } else {
      rich.hidden = false;
      plainEditor.hidden = true;
    }
  });
  // Files go through our own picker (size checks, stored with the draft), not Trix's.
  document.addEventListener("trix-file-accept", function (event) { event.preventDefault(); });

  // -- attachments -----------------------------------------------------------------
  var list = document.getElementById("attachments");
  function usedBytes() {
    var total = 0;
    list.querySelectorAll("[data-size]").forEach(function (item) {
      total += parseInt(item.dataset.size, 10) || 0;
    });
    return total;
  }
  function megabytes(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }
  function showError(message) {
    var box = document.createElement("p");
    box.className = "errors";
    box.setAttribute("role", "alert");
    box.textContent = message;
    list.prepend(box);
  }
  function upload(files) {
    var body = new FormData();
    var total = usedBytes();
    var count = 0;
    Array.prototype.forEach.call(files, function (file) {
      if (maxBytes && total + file.size > maxBytes) {
        showError(interpolate(gettext(
          "“%(name)s” (%(size)s) would take the attachments past the %(limit)s limit."),
          {name: file.name, size: megabytes(file.size), limit: megabytes(maxBytes)}, true));
        return;
      }
      total += file.size;
      body.append("files", file, file.name);
      count += 1;
    });
    if (!count) return;
    status.textContent = gettext("Uploading…");
    post(form.dataset.uploadUrl, body).then(function (response) {
      return response.text().then(function (html) {
        list.innerHTML = html;  // our own template fragment
        status.textContent = response.ok ? gettext("Attached") : gettext("Some files were refused");
      });
    }).catch(function () { status.textContent = gettext("Upload failed"); });
  }
  document.getElementById("file-picker").addEventListener("change", function (event) {
    upload(event.target.files);
    event.target.value = "";
  });
  var zone = document.getElementById("drop-zone");
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
  });
  zone.addEventListener("drop", function (event) {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) upload(event.dataTransfer.files);
  });
  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-delete-url]");
    if (!button) return;
    post(button.dataset.deleteUrl, new FormData()).then(function (response) {
      return response.text().then(function (html) { list.innerHTML = html; });
    });
  });

  // -- recipient autocomplete ------------------------------------------------------
  var menu = document.createElement("ul");
  menu.className = "autocomplete";
  menu.setAttribute("role", "listbox");
  menu.hidden = true;
  document.body.appendChild(menu);
  var target = null;
  var timer = null;

  function lastToken(value) {
    var parts = value.split(/[,;]/);
    return parts[parts.length - 1].trim();
  }
  function choose(label) {
    var parts = target.value.split(/[,;]/);
    parts[parts.length - 1] = " " + label;
    target.value = parts.join(",").replace(/^\s+/, "") + ", ";
    menu.hidden = true;
    target.focus();
    markDirty();
  }
  function show(input, results) {
    menu.textContent = "";
    results.forEach(function (result) {
      var item = document.createElement("li");
      item.setAttribute("role", "option");
      item.textContent = result.label;
      item.addEventListener("mousedown", function (event) {
        event.preventDefault();
        choose(result.label);
      });
      menu.appendChild(item);
    });
    var box = input.getBoundingClientRect();
    menu.style.left = (box.left + window.scrollX) + "px";
    menu.style.top = (box.bottom + window.scrollY) + "px";
    menu.style.minWidth = box.width + "px";
    menu.hidden = results.length === 0;
  }
  form.querySelectorAll("[data-autocomplete]").forEach(function (input) {
    input.addEventListener("input", function () {
      target = input;
      clearTimeout(timer);
      var query = lastToken(input.value);
      if (query.length < 2) { menu.hidden = true; return; }
      timer = setTimeout(function () {
        fetch(form.dataset.contactsUrl + "?q=" + encodeURIComponent(query),
              {credentials: "same-origin"})
          .then(function (response) { return response.json(); })
          .then(function (data) { if (target === input) show(input, data.results); });
      }, 150);
    });
    input.addEventListener("blur", function () { menu.hidden = true; });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") menu.hidden = true;
      if (event.key === "Enter" && !menu.hidden && menu.firstChild) {
        event.preventDefault();
        choose(menu.firstChild.textContent);
      }
    });
  });
  // -- signature follows the sending identity ----------------------------------------
  // Only the signature block ("-- " line and the old identity's signature, as the new
  // draft put it) is replaced; text the person wrote, before or after, stays as it is.
  // A signature the person edited no longer matches and is left alone.
  var identity = document.getElementById("id_identity");
  var signatureData = document.getElementById("identity-signatures");
  var signatures = signatureData ? JSON.parse(signatureData.textContent) : {};
  var currentIdentity = identity ? identity.value : "";

  function signatureOf(id) { return signatures[id] || {html: "", text: ""}; }

  function htmlAsText(html) {
    // DOMParser documents are inert: nothing in the signature loads or runs.
    var doc = new DOMParser().parseFromString(html, "text/html");
    return doc.body ? doc.body.textContent : "";
  }

  // The end of `wanted` in `text` from `start`, comparing everything but whitespace
  // (Trix turns <br> and block ends into newlines); -1 when the text differs.
  function matchEnd(text, start, wanted) {
    var want = wanted.replace(/\s+/g, "");
    var i = start;
    var j = 0;
    while (j < want.length && i < text.length) {
      if (/\s/.test(text[i])) { i += 1; continue; }
      if (text[i] !== want[j]) return -1;
      i += 1;
      j += 1;
    }
    if (j < want.length) return -1;
    // The signature's last line must end there: words added to it make it the person's.
    return /^[ \t\u00a0]*(\n|$)/.test(text.slice(i)) ? i : -1;
  }

  function signatureStart(text) {
    var at = text.lastIndexOf("-- \n");
    return at >= 0 && (at === 0 || text[at - 1] === "\n") ? at : -1;
  }

  function swapRich(oldHtml, newHtml) {
    if (!trix || !trix.editor) return;
    var editor = trix.editor;
    var content = editor.getDocument().toString();
    var start = signatureStart(content);
    var end = start >= 0 && oldHtml ? matchEnd(content, start + 4, htmlAsText(oldHtml)) : -1;
    var kept = editor.getSelectedRange();
    if (end >= 0) {
      editor.setSelectedRange([start, end]);
      editor.deleteInDirection("backward");
      if (newHtml) editor.insertHTML("-- <br>" + newHtml);
    } else if (start < 0 && newHtml) {
      var last = editor.getDocument().getLength() - 1;
      editor.setSelectedRange([last, last]);
      if (content.trim()) editor.insertLineBreak();
      editor.insertHTML("-- <br>" + newHtml);
    } else {
      return;
    }
    if (kept && kept[1] <= Math.max(start, 0)) editor.setSelectedRange(kept);
  }

  function swapPlain(oldText, newText) {
    var value = text.value;
    var start = signatureStart(value);
    var block = "-- \n" + oldText;
    var after = value.charAt(start + block.length);
    if (start >= 0 && oldText && value.slice(start, start + block.length) === block &&
        (after === "" || after === "\n" || after === "\r")) {
      text.value = value.slice(0, start) + (newText ? "-- \n" + newText : "") +
        value.slice(start + block.length);
    } else if (start < 0 && newText) {
      text.value = value + "\n\n-- \n" + newText;
    }
  }

  if (identity) {
    identity.addEventListener("change", function () {
      var before = signatureOf(currentIdentity);
      var after = signatureOf(identity.value);
      currentIdentity = identity.value;
      swapRich(before.html, after.html);
      swapPlain(before.text, after.text);
      markDirty();
    });
  }
})();
