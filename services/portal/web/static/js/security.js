// security.js: Super Admin → Security. The portal certificate in four steps (key, CSR,
// upload and validate, activate), rollback, reset to self-signed, and ACME.
import { get, post, put, postForm } from "./api.js";
import { byId, clearError, fmtTime, isZeroTime, setText, show, showError, showStatus, splitList, withBusy } from "./dom.js";
import { renderCert, expiresSoon } from "./certview.js";
import { startPage, ROLE_SUPER } from "./nav.js";
import { wireSecured } from "./secured.js";

const algNames = {
  rsa2048: "RSA 2048",
  rsa3072: "RSA 3072",
  rsa4096: "RSA 4096",
  "ecdsa-p256": "ECDSA P-256",
  "ecdsa-p384": "ECDSA P-384",
};

let fqdn = "";

function renderActive(c) {
  renderCert(byId("active-cert"), c, "active");
  const warn = byId("active-expiry-warning");
  if (expiresSoon(c)) {
    warn.textContent = c.days_left < 0
      ? "This certificate has expired. Browsers and rooms refuse it: install a new one now."
      : `This certificate expires in ${c.days_left} days. Install a new one before it expires.`;
    warn.hidden = false;
  } else {
    warn.hidden = true;
  }
}

function renderPrevious(c) {
  show("previous-section", Boolean(c));
  if (c) renderCert(byId("previous-cert"), c, "previous");
}

function renderKey(k) {
  if (!k) {
    setText("key-status", "No pending key. Generate one to start.");
    return;
  }
  const when = fmtTime(k.created_at);
  setText("key-status", `${algNames[k.algorithm] || k.algorithm} key generated ${when}${k.has_csr ? ", CSR created" : ""}.`);
}

function renderStaged(c) {
  const result = byId("upload-result");
  if (c) {
    renderCert(byId("staged-cert"), c, "staged");
    result.hidden = false;
  } else {
    result.hidden = true;
  }
  byId("activate").disabled = !c;
  setText("activate-hint", c
    ? `Ready: serial ${c.serial} will be served after activation.`
    : "Upload and validate a certificate first (step 3).");
}

function renderACME(a) {
  byId("acme-directory").value = a.directory_url || "";
  byId("acme-email").value = a.email || "";
  byId("acme-enabled").checked = Boolean(a.enabled);
  byId("acme-roots").value = a.roots_pem || "";
  setText("acme-last-issued", isZeroTime(a.last_issued) ? "never" : fmtTime(a.last_issued));
  setText("acme-next-renewal", isZeroTime(a.next_renewal) ? "not scheduled" : fmtTime(a.next_renewal));
  const last = byId("acme-last-error");
  last.textContent = a.last_error || "";
  last.hidden = !a.last_error;
}

function render(state) {
  fqdn = state.fqdn || "";
  setText("portal-fqdn", fqdn);
  const cn = byId("csr-cn");
  if (cn.value === "" || cn.dataset.defaulted === "true") {
    cn.value = fqdn;
    cn.dataset.defaulted = "true";
  }
  cn.placeholder = fqdn;
  renderActive(state.active);
  renderPrevious(state.previous);
  renderKey(state.pending_key);
  renderStaged(state.staged);
  renderACME(state.acme || {});
}

async function load() {
  render(await get("/api/v1/security/certificate"));
}

function wireKey() {
  byId("key-generate").addEventListener("click", async (ev) => {
    clearError("key-error");
    try {
      const k = await withBusy(ev.currentTarget, () => post("/api/v1/security/key", { algorithm: byId("key-alg").value }));
      renderKey(k);
      byId("csr-pem").value = "";
      show("csr-output", false);
    } catch (err) {
      showError("key-error", err);
    }
  });
}

function wireCSR() {
  byId("csr-cn").addEventListener("input", (ev) => { ev.currentTarget.dataset.defaulted = "false"; });
  byId("csr-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("csr-error");
    const v = (id) => byId(id).value.trim();
    const req = {
      country: v("csr-c"),
      state: v("csr-st"),
      locality: v("csr-l"),
      organization: v("csr-o"),
      organizational_unit: v("csr-ou"),
      common_name: v("csr-cn") || fqdn,
      dns_names: splitList(byId("csr-dns").value),
      ip_addresses: splitList(byId("csr-ip").value),
    };
    if (req.country !== "" && !/^[A-Za-z]{2}$/.test(req.country)) {
      showError("csr-error", new Error("Country must be a two-letter code such as DE or US."));
      return;
    }
    try {
      const res = await withBusy(byId("csr-submit"), () => post("/api/v1/security/csr", req));
      byId("csr-pem").value = res.csr_pem;
      show("csr-output", true);
      await load();
    } catch (err) {
      showError("csr-error", err);
    }
  });
  byId("csr-copy").addEventListener("click", async () => {
    const pem = byId("csr-pem");
    pem.select();
    try {
      await navigator.clipboard.writeText(pem.value);
      showStatus("csr-copied", "Copied.");
    } catch {
      showStatus("csr-copied", "Select the text and copy it with Ctrl+C.");
    }
  });
}

function wireUpload() {
  byId("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("upload-error");
    const cert = byId("upload-cert").files;
    if (cert.length === 0) {
      show("upload-result", false);
      showError("upload-error", new Error("Choose the certificate file first."));
      return;
    }
    const form = new FormData();
    form.append("certificate", cert[0]);
    for (const f of byId("upload-chain").files) form.append("chain", f);
    const key = byId("upload-key").files;
    if (key.length > 0) form.append("key", key[0]);
    const password = byId("upload-password").value;
    if (password !== "") form.append("password", password);
    try {
      const info = await withBusy(byId("upload-submit"), () => postForm("/api/v1/security/upload", form));
      renderStaged(info);
      showStatus("upload-ok", "The certificate is valid and staged. Activate it in step 4.");
    } catch (err) {
      show("upload-ok", false);
      show("upload-result", false);
      showError("upload-error", err);
    }
  });
}

// activate posts the activation. When paired rooms do not trust the new chain yet, the portal
// first pushes them a bundle holding old and new roots and waits for their acknowledgements;
// if some do not answer it refuses with 409 "rotation.pending" naming them, and the admin may
// re-post with force.
async function activate(button, force) {
  clearError("activate-error");
  show("activate-force-row", false);
  show("activate-result", false);
  showStatus("activate-progress", "Activating: paired rooms receive the new certificate's root first, which can take up to a minute.");
  try {
    const state = await withBusy(button, () => (force ? post("/api/v1/security/activate", { force: true }) : post("/api/v1/security/activate")));
    render(state);
    byId("upload-form").reset();
    show("upload-ok", false);
    showStatus("activate-result", `Activated: the portal now serves serial ${state.active.serial}.`);
  } catch (err) {
    showError("activate-error", err);
    if (err.code === "rotation.pending") {
      show("activate-force-row", true);
      byId("activate-force").focus();
    }
    byId("activate").disabled = false;
  } finally {
    show("activate-progress", false);
  }
}

function wireActivate() {
  byId("activate").addEventListener("click", (ev) => activate(ev.currentTarget, false));
  byId("activate-force").addEventListener("click", (ev) => activate(ev.currentTarget, true));
  byId("activate-force-cancel").addEventListener("click", () => show("activate-force-row", false));
}

// wireConfirm makes a destructive action take two clicks: the first shows a confirm row.
function wireConfirm(openId, rowId, confirmId, cancelId, errorId, action, done) {
  byId(openId).addEventListener("click", () => { clearError(errorId); show(rowId, true); byId(confirmId).focus(); });
  byId(cancelId).addEventListener("click", () => show(rowId, false));
  byId(confirmId).addEventListener("click", async (ev) => {
    clearError(errorId);
    try {
      await withBusy(ev.currentTarget, action);
      show(rowId, false);
      await load();
      showStatus(done.id, done.text());
    } catch (err) {
      showError(errorId, err);
    }
  });
}

function wireACME() {
  const config = () => ({
    enabled: byId("acme-enabled").checked,
    directory_url: byId("acme-directory").value.trim(),
    email: byId("acme-email").value.trim(),
    roots_pem: byId("acme-roots").value.trim(),
  });
  byId("acme-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("acme-error");
    show("acme-status", false);
    try {
      await withBusy(byId("acme-save"), () => put("/api/v1/security/acme", config()));
      await load();
      showStatus("acme-status", "ACME settings saved.");
    } catch (err) {
      showError("acme-error", err);
    }
  });
  byId("acme-issue").addEventListener("click", async (ev) => {
    clearError("acme-error");
    show("acme-status", false);
    try {
      await withBusy(ev.currentTarget, () => post("/api/v1/security/acme/issue"));
      await load();
      showStatus("acme-status", "Certificate issued through ACME.");
    } catch (err) {
      showError("acme-error", err);
      await load().catch(() => {});
    }
  });
}

async function main() {
  const user = await startPage([ROLE_SUPER]);
  if (!user) return;
  wireKey();
  wireCSR();
  wireUpload();
  wireActivate();
  wireConfirm("rollback", "rollback-confirm-row", "rollback-confirm", "rollback-cancel", "rollback-error",
    () => post("/api/v1/security/rollback"),
    { id: "rollback-result", text: () => `Rolled back: the portal serves serial ${byId("active-serial").textContent} again.` });
  wireConfirm("reset-self-signed", "reset-confirm-row", "reset-confirm", "reset-cancel", "reset-error",
    () => post("/api/v1/security/reset-self-signed"),
    { id: "reset-result", text: () => "The portal now serves a new self-signed certificate." });
  wireACME();
  wireSecured();
  try {
    await load();
  } catch (err) {
    showError("page-error", err);
  }
}

main().catch((err) => showError("page-error", err));
