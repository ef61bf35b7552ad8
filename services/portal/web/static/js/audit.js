// audit.js: Super Admin → Audit. Every field is set with textContent: details hold
// user-controlled text (names, certificate subjects, error messages) and must stay inert.
import { get } from "./api.js";
import { byId, clearError, el, fmtTime, show, showError, withBusy } from "./dom.js";
import { startPage, ROLE_SUPER } from "./nav.js";

let entries = [];

function render() {
  const filter = byId("audit-filter").value.trim().toLowerCase();
  const rows = entries
    .filter((e) => filter === "" || [e.actor, e.action, e.detail, e.remote].some((v) => String(v || "").toLowerCase().includes(filter)))
    .map((e) => el("tr", {},
      el("td", { text: fmtTime(e.at), className: "nowrap" }),
      el("td", { text: e.actor }),
      el("td", { text: e.action, className: "mono" }),
      el("td", { text: e.detail, className: "detail" }),
      el("td", { text: e.remote, className: "mono" }),
    ));
  byId("audit-body").replaceChildren(...rows);
  show("audit-empty", rows.length === 0);
  byId("audit-count").textContent = `${rows.length} of ${entries.length} entries`;
}

async function load() {
  const limit = byId("audit-limit").value;
  entries = (await get(`/api/v1/audit?limit=${encodeURIComponent(limit)}`)) || [];
  render();
}

async function main() {
  if (!(await startPage([ROLE_SUPER]))) return;
  byId("audit-filter").addEventListener("input", render);
  const reload = (button) => {
    clearError("audit-error");
    withBusy(button, load).catch((err) => showError("audit-error", err));
  };
  byId("audit-limit").addEventListener("change", (ev) => reload(ev.currentTarget));
  byId("audit-refresh").addEventListener("click", (ev) => reload(ev.currentTarget));
  try {
    await load();
  } catch (err) {
    showError("audit-error", err);
  }
}

main().catch((err) => showError("page-error", err));
