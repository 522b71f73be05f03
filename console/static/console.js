// The few things a page needs script for; every form works without it.
document.addEventListener("DOMContentLoaded", () => {
  // "When this happens": show the condition fields of the chosen trigger only.
  for (const select of document.querySelectorAll("select[data-conditions]")) {
    const show = () => {
      for (const fieldset of document.querySelectorAll("fieldset.conditions")) {
        const chosen = fieldset.dataset.trigger === select.value;
        fieldset.classList.toggle("chosen", chosen);
        fieldset.hidden = !chosen;
        fieldset.disabled = !chosen;
      }
    };
    select.addEventListener("change", show);
    show();
  }
  // "Send to": choosing a preset reloads the form with it (the "Use" button does it without script).
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.requestSubmit());
  }
  // The template shows for the template formats only; the credentials' inputs for their kind only;
  // what an ordered webhook does on a failure, when it is ordered (a checkbox: "on" when checked).
  for (const control of document.querySelectorAll("select[data-shows], input[type=checkbox][data-shows]")) {
    const show = () => {
      const value = control.type === "checkbox" ? (control.checked ? "on" : "off") : control.value;
      for (const part of document.querySelectorAll(`[data-shown-by="${control.dataset.shows}"]`)) {
        part.hidden = !part.dataset.when.split(" ").includes(value);
      }
    };
    control.addEventListener("change", show);
    show();
  }
  // Copy buttons: the text of the element they name.
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.addEventListener("click", async () => {
      const text = document.getElementById(button.dataset.copy).textContent.trim();
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    });
  }
  // A webhook's deliveries follow those in flight: while a row is pending or throttled, the list is
  // fetched again (from this console only), every 2 s after a change, less often while nothing
  // changes (a retry may be hours away; at most every 30 s), not while the tab is hidden, and left
  // alone once no row is in flight.
  for (const live of document.querySelectorAll("[data-live]")) {
    let last = null;
    let wait = 2000;
    const follow = async () => {
      if (!live.querySelector("[data-unfinished]")) return;
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (document.hidden) return follow();
      const answer = await fetch(live.dataset.live).catch(() => null);
      if (!answer || !answer.ok || answer.redirected) return; // signed out, or gone: the page says so on reload
      const html = await answer.text();
      wait = html === last ? Math.min(wait * 1.5, 30000) : 2000;
      if (html !== last) live.innerHTML = last = html; // unchanged: an open excerpt stays open
      follow();
    };
    follow();
  }
  // Forms that delete or rotate ask first.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
