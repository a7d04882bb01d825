/* Provider presets for the mail account form: fill hosts, ports and security, show the
 * note about app passwords. Static file (CSP script-src 'self'); the form still works,
 * and is checked by the server, without it. */
(function () {
  "use strict";
  // Django's JavaScript catalog (jsi18n/) defines gettext; English without it.
  var gettext = window.gettext || function (text) { return text; };

  var PRESETS = {
    gmail: {
      label: "Gmail", imap: ["imap.gmail.com", 993, "tls"], smtp: ["smtp.gmail.com", 465, "tls"],
      note: gettext("Gmail refuses your normal password here: turn on 2-Step Verification, then create an app password (Google Account → Security → App passwords) and paste it as the password. IMAP must be on (Gmail settings → Forwarding and POP/IMAP).")
    },
    outlook: {
      label: "Outlook.com", imap: ["outlook.office365.com", 993, "tls"], smtp: ["smtp-mail.outlook.com", 587, "starttls"],
      note: gettext("Microsoft asks third-party programs to sign in with OAuth2 for Outlook.com and Hotmail. A password or app password may be refused; if the test below fails with a login error, this account cannot be connected with a password.")
    },
    yahoo: {
      label: "Yahoo", imap: ["imap.mail.yahoo.com", 993, "tls"], smtp: ["smtp.mail.yahoo.com", 465, "tls"],
      note: gettext("Yahoo needs an app password: Yahoo Account → Account security → Generate app password, then paste it as the password.")
    },
    icloud: {
      label: "iCloud", imap: ["imap.mail.me.com", 993, "tls"], smtp: ["smtp.mail.me.com", 587, "starttls"],
      note: gettext("iCloud needs an app-specific password: appleid.apple.com → Sign-In and Security → App-Specific Passwords. The username is your iCloud address.")
    },
    fastmail: {
      label: "Fastmail", imap: ["imap.fastmail.com", 993, "tls"], smtp: ["smtp.fastmail.com", 465, "tls"],
      note: gettext("Fastmail needs an app password with IMAP and SMTP access: Settings → Privacy & Security → Manage app passwords.")
    }
  };

  function field(name) { return document.getElementById("id_" + name); }
  function set(name, value) {
    var input = field(name);
    if (!input) { return; }
    input.value = String(value);
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function apply(key) {
    var preset = PRESETS[key];
    if (!preset) { return; }
    set("protocol", "imap");
    set("incoming_host", preset.imap[0]);
    set("incoming_port", preset.imap[1]);
    set("incoming_security", preset.imap[2]);
    set("smtp_host", preset.smtp[0]);
    set("smtp_port", preset.smtp[1]);
    set("smtp_security", preset.smtp[2]);
    var email = field("email"), username = field("incoming_username");
    if (email && username && !username.value && email.value) { username.value = email.value; }
    var note = document.getElementById("preset-note");
    if (note) {
      note.textContent = preset.label + ": " + preset.note;
      note.hidden = false;
    }
    document.querySelectorAll("[data-preset]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-preset") === key ? "true" : "false");
    });
  }

  function init() {
    document.addEventListener("click", function (event) {
      var button = event.target.closest && event.target.closest("[data-preset]");
      if (button) { event.preventDefault(); apply(button.getAttribute("data-preset")); }
    });
    // The username usually is the address: follow it while the username is untouched.
    var email = field("email"), username = field("incoming_username");
    if (email && username) {
      var following = !username.value;
      username.addEventListener("input", function () { following = false; });
      email.addEventListener("input", function () { if (following) { username.value = email.value; } });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
