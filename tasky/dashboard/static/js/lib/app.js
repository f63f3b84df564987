// What every page does: the theme toggle, the token button, and a notice for failed loads.
import { $, notice } from "./dom.js";
import { forgetToken } from "./api.js";

const THEMES = ["auto", "light", "dark"];
const THEME_KEY = "tasky.theme";

function currentTheme() {
  return document.documentElement.dataset.theme || "auto";
}

function showTheme() {
  const button = $("#theme-toggle");
  const theme = currentTheme();
  button.textContent = `Theme: ${theme}`;
  button.title = theme === "auto" ? "Follows the system setting; click to change" : "Click to change";
}

$("#theme-toggle").addEventListener("click", () => {
  const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
  if (next === "auto") {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem(THEME_KEY);
  } else {
    document.documentElement.dataset.theme = next;
    localStorage.setItem(THEME_KEY, next);
  }
  showTheme();
});
showTheme();

$("#token-button").addEventListener("click", () => {
  forgetToken();
  location.reload();
});

/** Run the page's start function; a failure shows in the notice area, not silently. */
export async function start(main) {
  try {
    await main();
    // when the page has drawn its data: what the benchmark reads as "interactive"
    document.body.dataset.ready = String(Math.round(performance.now()));
  } catch (err) {
    notice(err.message || String(err));
    throw err;
  }
}

window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  notice((reason && reason.message) || String(reason));
});
