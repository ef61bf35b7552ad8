// roomsupdate.js: the Rooms page's update columns (board, slot, version, update progress) and
// the "Update…" section that offers a room one of the bundles for its board.
import { get, post } from "./api.js";
import { byId, clearError, el, show, showError, showStatus, withBusy } from "./dom.js";
import { percent, updateText } from "./updatesview.js";

let target = null; // the room whose update section is open
let reload = async () => {};

// systemCells are the Board, Slot and Version cells of room r ("—" off the image).
export function systemCells(r) {
  const s = r.system;
  return [
    el("td", { text: s ? s.board : "—", className: "room-board" }),
    el("td", { text: s ? s.slot.toUpperCase() + (s.on_trial ? " (trial)" : "") : "—", className: "room-slot" }),
    el("td", { text: s ? s.version : "—", className: "room-version" }),
  ];
}

// updateCell shows r's latest update: state, progress as a bar and a percentage, the error.
export function updateCell(r) {
  const u = r.update;
  const td = el("td", { className: "room-update", attrs: u ? { "data-state": u.state } : {} });
  td.append(el("span", { text: updateText(u) }));
  if (u && u.state === "downloading") {
    const p = percent(u.bytes, u.total);
    if (p !== null) td.append(el("progress", { attrs: { max: "100", value: String(p), "aria-label": `Download of ${u.version}` } }));
  }
  return td;
}

// canUpdate: only rooms on the image report a system and can be updated.
export function canUpdate(r) {
  return Boolean(r.system);
}

// openUpdate shows the update section for room r with the bundles for its board.
export async function openUpdate(r) {
  target = r;
  clearError("update-error");
  show("update-status", false);
  byId("update-room").textContent = r.name;
  byId("update-current").textContent = `${r.name} runs ${r.system.version} on ${r.system.board} (slot ${r.system.slot.toUpperCase()}).`;
  show("update-section", true);
  const select = byId("update-version");
  select.replaceChildren();
  let bundles = [];
  try {
    bundles = ((await get("/api/v1/updates")) || []).filter((b) => b.board === r.system.board && b.version !== r.system.version);
  } catch (err) {
    showError("update-error", err);
  }
  for (const b of bundles) select.append(el("option", { text: b.version, attrs: { value: b.version } }));
  show("update-none", bundles.length === 0);
  byId("update-start").disabled = bundles.length === 0;
  show("update-cancel-offer", Boolean(r.update && ["offered", "downloading"].includes(r.update.state)));
}

async function send(version, button) {
  clearError("update-error");
  const r = target;
  if (!r) return;
  try {
    const room = await withBusy(button, () => post(`/api/v1/rooms/${encodeURIComponent(r.id)}/update`, { version }));
    showStatus("update-status", version === "" ? `The update of ${r.name} is cancelled.` : `${r.name} is offered ${version}. ${updateText(room.update)}`);
    show("update-cancel-offer", version !== "");
    await reload();
  } catch (err) {
    showError("update-error", err);
  }
}

// wireUpdate wires the section; load refreshes the rooms list afterwards.
export function wireUpdate(load) {
  reload = load;
  byId("update-close").addEventListener("click", () => {
    target = null;
    show("update-section", false);
  });
  byId("update-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = byId("update-version").value;
    if (v === "") {
      showError("update-error", new Error("Choose a version to install."));
      return;
    }
    send(v, byId("update-start"));
  });
  byId("update-cancel-offer").addEventListener("click", (ev) => send("", ev.currentTarget));
}
