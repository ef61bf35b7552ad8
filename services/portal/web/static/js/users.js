// users.js: the accounts list and the form that creates one.
import { get, post } from "./api.js";
import { byId, clearError, el, show, showError, showStatus, withBusy } from "./dom.js";
import { startPage, ROLE_SUPER, ROLE_ADMIN } from "./nav.js";

const roleNames = { superadmin: "Super admin", admin: "Admin", user: "User" };

async function load() {
  const users = (await get("/api/v1/users")) || [];
  byId("users-body").replaceChildren(...users.map((u) => el("tr", {},
    el("td", { text: u.name }),
    el("td", { text: roleNames[u.role] || u.role }),
  )));
  show("users-empty", users.length === 0);
}

async function main() {
  const me = await startPage([ROLE_SUPER, ROLE_ADMIN]);
  if (!me) return;
  // Only a super admin may hand out the super admin role.
  if (me.role !== ROLE_SUPER) {
    byId("user-role").querySelector('option[value="superadmin"]').remove();
  }
  byId("user-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("user-error");
    show("user-result", false);
    const req = {
      name: byId("user-name").value.trim(),
      role: byId("user-role").value,
      password: byId("user-password").value,
    };
    if (req.name === "" || req.password === "") {
      showError("user-error", new Error("Enter a name and a password."));
      return;
    }
    try {
      await withBusy(byId("user-submit"), () => post("/api/v1/users", req));
      byId("user-form").reset();
      showStatus("user-result", `Account ${req.name} created.`);
      await load();
    } catch (err) {
      showError("user-error", err);
    }
  });
  try {
    await load();
  } catch (err) {
    showError("users-error", err);
  }
}

main().catch((err) => showError("page-error", err));
