// roomspanels.js: the Rooms page's list of touch panels paired with each room, with a Revoke
// button: the room refuses the panel's token from its next poll on and closes its connection.
import { post } from "./api.js";
import { byId, clearError, el, fmtTime, isZeroTime, show, showError, showStatus, withBusy } from "./dom.js";

export function renderPanels(rooms, reload) {
  const rows = [];
  for (const r of rooms) {
    for (const p of r.panels || []) rows.push(panelRow(r, p, reload));
  }
  byId("panels-body").replaceChildren(...rows);
  show("panels-empty", rows.length === 0);
}

function panelRow(r, p, reload) {
  const b = el("button", { className: "danger secondary small", text: "Revoke",
    attrs: { type: "button", "data-action": "revoke-panel", "data-panel-id": p.id, "aria-label": `Revoke panel ${p.name} of ${r.name}` } });
  b.addEventListener("click", async () => {
    clearError("panels-error");
    try {
      await withBusy(b, () => post(`/api/v1/rooms/${encodeURIComponent(r.id)}/panels/${encodeURIComponent(p.id)}/revoke`));
      showStatus("panels-status", `Panel ${p.name} of ${r.name} is revoked; the room refuses it from now on.`);
      await reload();
    } catch (err) {
      showError("panels-error", err);
    }
  });
  return el("tr", { attrs: { "data-panel-id": p.id } },
    el("td", { text: r.name }),
    el("td", { text: p.name }),
    el("td", { text: fmtTime(p.paired_at) }),
    el("td", { text: isZeroTime(p.last_seen) ? "never" : fmtTime(p.last_seen) }),
    el("td", { className: "actions-cell" }, b));
}
