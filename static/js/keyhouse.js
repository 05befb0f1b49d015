// Small progressive enhancements, hooked by data- attributes (our CSP forbids inline script).
"use strict";

document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

function hideAutosubmitButtons(root) {
  root.querySelectorAll("[data-autosubmit-button]").forEach((button) => { button.hidden = true; });
}

document.addEventListener("DOMContentLoaded", () => hideAutosubmitButtons(document));
document.addEventListener("htmx:load", (event) => hideAutosubmitButtons(event.target));
