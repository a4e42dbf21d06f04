/* 显示完整: the whole ID number or phone of a record, asked for with a reason.

   The page holds only the masked value; the whole one comes back from a POST to the field's
   reveal URL, which records the look (and its reason) in the audit trail. */
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function reveal(box) {
    const reason = box.querySelector(".reveal-reason");
    const error = box.querySelector(".reveal-error");
    const button = box.querySelector(".reveal-button");
    error.hidden = true;
    if (!reason.value.trim()) {
      error.textContent = reason.placeholder;
      error.hidden = false;
      reason.focus();
      return;
    }
    button.disabled = true;
    try {
      const response = await fetch(box.dataset.url, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "X-CSRFToken": csrfToken(),
          "Content-Type": "application/x-www-form-urlencoded",
          Accept: "application/json",
        },
        body: new URLSearchParams({ reason: reason.value.trim() }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
      box.querySelector(".reveal-value").textContent = body.value;
      reason.remove();
      button.remove();
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".reveal-button");
    if (button) reveal(button.closest(".reveal"));
  });
  // Enter in the reason field reveals; it must not submit the record's own form.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.matches(".reveal-reason")) {
      event.preventDefault();
      reveal(event.target.closest(".reveal"));
    }
  });
})();
