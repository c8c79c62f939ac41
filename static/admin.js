// Keeps the current section's link in sight where the navigation is a row that scrolls (narrow
// screens): otherwise the page a phone opens on Logs shows a row that does not say where it is.
function showCurrentSection() {
  const current = document.querySelector('.top nav a[aria-current="page"]');
  const nav = current?.closest("nav");
  if (!current || !nav || nav.scrollWidth <= nav.clientWidth) return;
  const offset = current.getBoundingClientRect().left - nav.getBoundingClientRect().left +
    nav.scrollLeft;
  nav.scrollLeft = Math.max(0, offset - (nav.clientWidth - current.offsetWidth) / 2);
}

document.addEventListener("DOMContentLoaded", showCurrentSection);
// Boosted links, and the back button, swap the page in without loading it; each swap settles.
document.addEventListener("htmx:afterSettle", showCurrentSection);

// Answers htmx does not swap in (413, 5xx) and a server out of reach would otherwise leave a click
// doing nothing visible: the page's notice says what happened.
function sayFailure(text) {
  const notice = document.getElementById("notice");
  if (!notice) return;
  notice.className = "notice notice-error";
  notice.setAttribute("role", "alert");
  notice.textContent = text;
}

document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  sayFailure(
    status === 413
      ? "Nothing was saved: what was sent is larger than the server takes."
      : `Nothing was saved: the server answered ${status}. Try again; the server's log says more.`,
  );
});
document.addEventListener("htmx:sendError", () => {
  sayFailure("Nothing was saved: the server could not be reached.");
});

// A sign-in locked for a while is held off until the lock ends, then opens again by itself
// (without this script the button stays usable, and the server says the lock is still on).
function unlockSignInLater() {
  const button = document.querySelector("button[data-retry-after]");
  if (!button) return;
  button.disabled = true;
  setTimeout(() => {
    button.disabled = false;
    const error = document.getElementById("login-error");
    if (error) error.textContent = "You can sign in again.";
  }, Number(button.dataset.retryAfter) * 1000);
}

document.addEventListener("DOMContentLoaded", unlockSignInLater);

// A form sent back with problems: its first field in error gets the focus, so a keyboard or
// screen-reader user lands there (the field's error is read with it, by aria-describedby) instead
// of at the top of the page.
function focusFirstError(root) {
  const field = root?.querySelector?.('[aria-invalid="true"]');
  if (field && !field.contains(document.activeElement)) field.focus();
}

document.addEventListener("DOMContentLoaded", () => focusFirstError(document));
document.addEventListener("htmx:afterSettle", (event) => focusFirstError(event.detail.elt));
