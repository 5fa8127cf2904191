// Progressive enhancement only: every page works without this script.
// Buttons that remove or disable something ask first.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (button && button.classList.contains("danger")) {
    if (!window.confirm(button.textContent.trim() + "?")) {
      event.preventDefault();
    }
  }
});
