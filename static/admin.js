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
