// Progressive enhancement only: every page works without this script.
// Buttons that remove or disable something ask first, unless their form is itself the
// confirmation step (class "confirmed").
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (button && button.classList.contains("danger") && !button.form.classList.contains("confirmed")) {
    if (!window.confirm(button.textContent.trim() + "?")) {
      event.preventDefault();
    }
  }
});

// Copy buttons: hidden without the script, shown here; they copy their data-copy text.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(button.dataset.copy);
        button.textContent = "Copied";
      } catch (_) {
        button.textContent = "Select and copy";
      }
      setTimeout(() => { button.textContent = "Copy"; }, 2000);
    });
  }
});
