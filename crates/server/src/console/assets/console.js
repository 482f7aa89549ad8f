// Keyboard shortcuts of the console. Every action also works without them: they only
// choose a radio button, focus a field or press a button that is on the page.
"use strict";
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  const typing = t instanceof HTMLInputElement && t.type !== "radio" && t.type !== "checkbox"
    || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
  const act = document.getElementById("act");
  // Ctrl+Enter (or Cmd+Enter) anywhere in the action form: submit & next.
  if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && act && act.contains(t)) {
    ev.preventDefault();
    const next = act.querySelector("button[name=next]");
    if (next) act.requestSubmit(next);
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const radio = act && act.querySelector(`input[type=radio][data-key="${ev.key}"]`);
  if (radio) {
    ev.preventDefault();
    radio.checked = true;
    const reason = document.getElementById("reason");
    if (reason && radio.value !== "release") reason.focus();
    return;
  }
  const button = document.querySelector(`button[data-key="${ev.key}"]`);
  if (button) { ev.preventDefault(); button.click(); return; }
  if (ev.key === "n") {
    const next = document.querySelector("form[action$='/next'] button");
    if (next) { ev.preventDefault(); next.click(); }
  }
});
