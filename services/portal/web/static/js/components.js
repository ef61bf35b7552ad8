// components.js: Super Admin → Components. Lists managers, routers and proxies, creates
// one-time join tokens, changes a component's FQDN and installs a certificate for it.
import { get, post, put, postForm } from "./api.js";
import { byId, clearError, el, fmtTime, isZeroTime, list, show, showError, showStatus, withBusy } from "./dom.js";
import { startPage, ROLE_SUPER } from "./nav.js";

let components = [];

function daysUntil(iso) {
  return Math.floor((new Date(iso).getTime() - Date.now()) / 86400000);
}

function certCell(c) {
  if (isZeroTime(c.cert_not_after)) return el("td", { text: "—" });
  const days = daysUntil(c.cert_not_after);
  const td = el("td", { text: `${fmtTime(c.cert_not_after)} (${days} days)` });
  if (days < 30) td.className = "warn";
  return td;
}

function row(c) {
  const status = el("span", { className: `badge ${c.status === "online" ? "ok" : "bad"}`, text: c.status || "unknown" });
  const edit = el("button", { className: "secondary small", text: "Change FQDN", attrs: { type: "button", "data-id": c.id } });
  edit.addEventListener("click", () => openEdit(c));
  const tr = el("tr", { attrs: { "data-id": c.id } },
    el("td", { text: c.kind }),
    el("td", { text: c.fqdn, className: "mono" }),
    el("td", { text: c.address || "—", className: "mono" }),
    el("td", { text: c.version || "—" }),
    el("td", {}, status),
    el("td", { text: fmtTime(c.last_heartbeat) }),
    certCell(c),
    el("td", { text: list(c.warnings), className: c.warnings && c.warnings.length ? "warn" : "" }),
    el("td", {}, edit),
  );
  return tr;
}

function render() {
  const body = byId("components-body");
  body.replaceChildren(...components.map(row));
  show("components-empty", components.length === 0);
}

async function load() {
  components = (await get("/api/v1/components")) || [];
  render();
}

function openEdit(c) {
  clearError("fqdn-error");
  show("fqdn-status", false);
  byId("fqdn-id").value = c.id;
  setLabel(c);
  byId("fqdn-value").value = c.fqdn;
  show("edit-section", true);
  byId("fqdn-value").focus();
}

function setLabel(c) {
  byId("edit-component").textContent = `${c.kind} ${c.fqdn} (${c.id})`;
}

function wireToken() {
  byId("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("token-error");
    show("token-result", false);
    const req = { kind: byId("token-kind").value, fqdn: byId("token-fqdn").value.trim() };
    if (req.fqdn === "") {
      showError("token-error", new Error("Enter the FQDN the component will be reachable at."));
      return;
    }
    try {
      const res = await withBusy(byId("token-submit"), () => post("/api/v1/components/tokens", req));
      byId("token-value").value = res.token;
      byId("token-expires").textContent = fmtTime(res.expires_at);
      show("token-result", true);
      byId("token-value").select();
    } catch (err) {
      showError("token-error", err);
    }
  });
}

function wireEdit() {
  byId("fqdn-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("fqdn-error");
    const id = byId("fqdn-id").value;
    const fqdn = byId("fqdn-value").value.trim();
    try {
      await withBusy(byId("fqdn-submit"), () => put(`/api/v1/components/${encodeURIComponent(id)}/fqdn`, { fqdn }));
      await load();
      const c = components.find((x) => x.id === id);
      if (c) setLabel(c);
      showStatus("fqdn-status", `FQDN changed to ${fqdn}; the component gets a new certificate with its next heartbeat.`);
    } catch (err) {
      showError("fqdn-error", err);
    }
  });
  byId("comp-cert-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("comp-cert-error");
    show("comp-cert-status", false);
    const id = byId("fqdn-id").value;
    const cert = byId("comp-cert").files;
    if (cert.length === 0) {
      showError("comp-cert-error", new Error("Choose the certificate file first."));
      return;
    }
    const form = new FormData();
    form.append("certificate", cert[0]);
    for (const f of byId("comp-chain").files) form.append("chain", f);
    const key = byId("comp-key").files;
    if (key.length > 0) form.append("key", key[0]);
    const password = byId("comp-password").value;
    if (password !== "") form.append("password", password);
    try {
      const info = await withBusy(byId("comp-cert-submit"), () => postForm(`/api/v1/components/${encodeURIComponent(id)}/certificate`, form));
      showStatus("comp-cert-status", `Installed: serial ${info.serial}, expires ${fmtTime(info.not_after)}.`);
      await load();
    } catch (err) {
      showError("comp-cert-error", err);
    }
  });
  byId("edit-close").addEventListener("click", () => show("edit-section", false));
}

async function main() {
  if (!(await startPage([ROLE_SUPER]))) return;
  wireToken();
  wireEdit();
  byId("components-refresh").addEventListener("click", (ev) => {
    clearError("components-error");
    withBusy(ev.currentTarget, load).catch((err) => showError("components-error", err));
  });
  try {
    await load();
  } catch (err) {
    showError("components-error", err);
  }
}

main().catch((err) => showError("page-error", err));
