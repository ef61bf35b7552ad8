// login.js: the sign-in form. On success it goes to the page the visitor came from (only a
// page of this UI, never another site) or to the first page the role can open.
import { login } from "./api.js";
import { byId, clearError, showError, withBusy } from "./dom.js";

function landing(role) {
  const next = new URLSearchParams(window.location.search).get("next") || "";
  if (/^[a-z-]+\.html$/.test(next) && next !== "index.html") return next;
  if (role === "superadmin") return "security.html";
  if (role === "admin") return "users.html";
  return "meetings.html"; // the only section a plain user can open
}

const form = byId("login-form");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  clearError("login-error");
  const name = byId("login-name").value.trim();
  const password = byId("login-password").value;
  if (name === "" || password === "") {
    showError("login-error", new Error("Enter your user name and password."));
    return;
  }
  try {
    const user = await withBusy(byId("login-submit"), () => login(name, password));
    window.location.assign(landing(user.role));
  } catch (err) {
    showError("login-error", err);
    byId("login-password").select();
  }
});
byId("login-name").focus();
