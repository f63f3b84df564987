// Applies the stored theme before the first paint (a classic script in <head>, so no flash).
// "auto" (no stored value) follows the system setting through the stylesheet's media query.
(function () {
  try {
    var theme = localStorage.getItem("tasky.theme");
    if (theme === "light" || theme === "dark") {
      document.documentElement.dataset.theme = theme;
    }
  } catch (e) {
    /* storage disabled: follow the system */
  }
})();
