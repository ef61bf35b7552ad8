// nav.js: shared page start. It checks the session (sending the visitor to the login page
// when there is none), shows who is signed in, wires the logout button and hides the
// sections the user's role cannot open.
import { me, logout, APIError } from "./api.js";
import { byId, showError } from "./dom.js";

export const ROLE_SUPER = "superadmin";
export const ROLE_ADMIN = "admin";

const roleNames = { superadmin: "Super admin", admin: "Admin", user: "User" };

function pageName() {
  const last = window.location.pathname.split("/").pop();
  return last === "" ? "index.html" : last;
}

export function loginURL() {
  return `index.html?next=${encodeURIComponent(pageName())}`;
}

// allowed reports whether role may open a page that needs one of roles.
export function allowed(role, roles) {
  return roles.length === 0 || roles.includes(role);
}

// startPage returns the signed-in user, or null when the page must not go on (redirected to
// login, or the role is not enough: then #page-error says so).
export async function startPage(roles = []) {
  let user;
  try {
    user = await me();
  } catch (err) {
    if (err instanceof APIError && err.status === 401) {
      window.location.replace(loginURL());
      return null;
    }
    showError("page-error", err);
    return null;
  }
  byId("nav-user").textContent = `${user.name} (${roleNames[user.role] || user.role})`;
  for (const link of document.querySelectorAll("[data-roles]")) {
    link.hidden = !allowed(user.role, link.dataset.roles.split(" "));
  }
  byId("logout").addEventListener("click", async () => {
    try {
      await logout();
    } catch (err) {
      // The session is useless either way; still leave the page.
      console.warn("logout:", err.message);
    }
    window.location.assign("index.html");
  });
  byId("app-header").hidden = false;
  if (!allowed(user.role, roles)) {
    showError("page-error", new Error("Your account cannot open this page. Ask a super admin for access."));
    return null;
  }
  byId("main").hidden = false;
  return user;
}
