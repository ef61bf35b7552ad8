// secured.js: Super Admin → Security → Secured option. Shows the option, whether the licence
// includes it and what is not ready; turning it on asks the portal first (409 secured.confirm
// lists what is not ready) and turns it on only after the super admin confirms.
import { get, put } from "./api.js";
import { byId, clear, clearError, el, fmtTime, isZeroTime, setText, show, showError, showStatus, withBusy } from "./dom.js";

const path = "/api/v1/security/secured";
let current = null;

function render(st) {
  current = st;
  setText("secured-state", st.enabled ? "On" : "Off");
  setText("secured-licence", st.licensed
    ? "Included in the licence"
    : (st.licence_error ? `Unknown: ${st.licence_error}` : "Not included in the licence"));
  setText("secured-changed", isZeroTime(st.changed_at) || !st.changed_by
    ? "never changed"
    : `${fmtTime(st.changed_at)} by ${st.changed_by}`);
  const items = st.not_ready || [];
  setText("secured-ready", items.length === 0
    ? "Every component and room is ready."
    : `${items.length} not ready: they will be refused while the option is on.`);
  const ul = byId("secured-not-ready");
  clear(ul);
  for (const x of items) {
    ul.append(el("li", {}, `${x.kind} ${x.name || x.id}: ${x.reason}`));
  }
  byId("secured-toggle").textContent = st.enabled ? "Turn off" : "Turn on";
  show("secured-confirm-row", false);
}

async function load() {
  render(await get(path));
}

async function change(enabled, confirm) {
  clearError("secured-error");
  show("secured-status", false);
  render(await put(path, { enabled, confirm }));
  showStatus("secured-status", enabled ? "The Secured option is on." : "The Secured option is off.");
}

export function wireSecured() {
  byId("secured-toggle").addEventListener("click", async (ev) => {
    if (!current) return;
    const enabling = !current.enabled;
    try {
      await withBusy(ev.currentTarget, () => change(enabling, false));
    } catch (err) {
      if (err.code === "secured.confirm") {
        setText("secured-confirm-text", err.message);
        show("secured-confirm-row", true);
        return;
      }
      showError("secured-error", err);
    }
  });
  byId("secured-confirm").addEventListener("click", async (ev) => {
    try {
      await withBusy(ev.currentTarget, () => change(true, true));
    } catch (err) {
      showError("secured-error", err);
    }
  });
  byId("secured-cancel").addEventListener("click", () => show("secured-confirm-row", false));
  load().catch((err) => showError("secured-error", err));
}
