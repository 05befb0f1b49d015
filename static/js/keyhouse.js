// Small progressive enhancements, hooked by data- attributes (our CSP forbids inline script).
// Every page works without this file; it only makes things quicker to use.
"use strict";

// Elements that only make sense with (or without) JavaScript.
function enhance(root) {
  root.querySelectorAll("[data-autosubmit-button]").forEach((el) => { el.hidden = true; });
  root.querySelectorAll("[data-needs-js]").forEach((el) => { el.hidden = false; });
  root.querySelectorAll("form").forEach(showExpiryDate);
}

// The token dialog's date field only matters with "Set expiration date".
function showExpiryDate(form) {
  const field = form.querySelector("[data-expiry-date]");
  const choice = form.querySelector("input[name=expiration]:checked");
  if (field && choice) field.hidden = choice.value !== "date";
}
document.addEventListener("change", (event) => {
  if (event.target.name === "expiration" && event.target.form) showExpiryDate(event.target.form);
});
document.addEventListener("DOMContentLoaded", () => enhance(document));
document.addEventListener("htmx:load", (event) => enhance(event.detail.elt));

document.addEventListener("change", (event) => {
  const select = event.target.closest("[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});

// Dialogs: htmx swaps a <dialog data-modal> into #dialog-host and we open it modally, which
// makes the page behind it inert (focus stays in the dialog) and lets Escape close it.
// The first visible field (a radio group by its chosen option), else the first button.
function focusInDialog(dialog) {
  const candidates = dialog.querySelectorAll(
    "[aria-invalid=true], .field-invalid input, [data-select-on-focus], input:not([type=hidden]):not([type=radio]), input[type=radio]:checked, button:not([hidden])"
  );
  const visible = (element) =>
    element.checkVisibility ? element.checkVisibility() : element.offsetParent !== null;
  const target = Array.from(candidates).find(visible);
  if (target) target.focus();
}
document.addEventListener("htmx:load", (event) => {
  const elt = event.detail.elt;
  const dialog = elt.matches("dialog[data-modal]") ? elt : elt.querySelector("dialog[data-modal]");
  if (dialog && !dialog.open) {
    dialog.showModal();
    focusInDialog(dialog);
    return;
  }
  // New content inside an open dialog (an error or the reveal): keep focus inside it.
  const open = elt.closest("dialog[data-modal][open]");
  if (open) focusInDialog(open);
});
// A closed dialog is gone for good: its secret must not linger in the DOM.
document.addEventListener("close", (event) => {
  if (event.target.matches("dialog[data-modal]")) event.target.remove();
}, true);
// A finished action answers with this event (accounts.ui.action_done): close its dialog.
document.addEventListener("closeDialog", () => {
  document.querySelectorAll("dialog[data-modal][open]").forEach((dialog) => dialog.close());
});

async function copyText(input) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(input.value);
      return true;
    } catch (error) {
      // Fall through to the selection-based copy below (e.g. permission denied).
    }
  }
  // Plain http has no Clipboard API: select the text and use the legacy copy command.
  input.focus();
  input.select();
  return document.execCommand("copy");
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy], [data-close-dialog]");
  if (!button) return;
  if (button.dataset.copy) {
    const copied = await copyText(document.querySelector(button.dataset.copy));
    if (copied) {
      button.textContent = "Copied";
    }
  }
  if (button.hasAttribute("data-close-dialog")) {
    const dialog = button.closest("dialog");
    if (dialog) dialog.close();
  }
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches("[data-select-on-focus]")) event.target.select();
});

// A failed htmx request swaps nothing: say so where the person is looking (the open dialog, or
// the top of the page) instead of leaving the click without an answer.
function showRequestError(text) {
  const host = document.querySelector("dialog[data-modal][open]") || document.getElementById("main");
  if (!host) return;
  let box = host.querySelector(":scope > [data-request-error]");
  if (!box) {
    box = document.createElement("p");
    box.className = "alert alert-error";
    box.setAttribute("role", "alert");
    box.dataset.requestError = "";
    host.prepend(box);
  }
  box.textContent = text;
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  showRequestError(status === 503
    ? "Keyhouse is busy: the database was busy with other changes. Try again in a few seconds."
    : `Something went wrong (error ${status}). Try again, or reload the page.`);
});
document.addEventListener("htmx:sendError", () => {
  showRequestError("Keyhouse could not be reached. Check your connection and try again.");
});
document.addEventListener("htmx:beforeRequest", () => {
  document.querySelectorAll("[data-request-error]").forEach((box) => box.remove());
});

// A region that replaces itself (a members table, the picker's results) can take the focused
// control with it (a removed row's button, an Add button): then focus goes where the keyboard
// user can carry on, the element its data-refocus names.
document.addEventListener("htmx:load", (event) => {
  const region = event.detail.elt;
  if (!(region instanceof Element) || !region.matches("[data-refocus]")) return;
  if (document.activeElement && document.activeElement !== document.body) return;
  const target = document.querySelector(region.dataset.refocus);
  if (target) target.focus();
});
