/* Runs in <head> before first paint: apply a chosen theme, report the time zone. */
(function () {
  "use strict";
  var root = document.documentElement;
  try {
    var stored = window.localStorage.getItem("theme");
    // A theme chosen in Settings (set on <html> by the server) wins over this browser's switch.
    if (!root.hasAttribute("data-theme-pref") && (stored === "dark" || stored === "light")) {
      root.setAttribute("data-theme", stored);
    }
  } catch (e) { /* storage blocked: follow the system setting */ }
  try {
    // Dates are rendered by the server in this zone (views read the "tz" cookie).
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone) && document.cookie.indexOf("tz=" + zone) === -1) {
      document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl: dates stay in UTC */ }
})();
