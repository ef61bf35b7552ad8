// rooms.js: Admin → Rooms. Lists paired rooms (refreshed every 5 s), pairs a new room with
// the code it shows, renames and unpairs rooms, and pushes the current trust bundle to one
// room or all of them, following each room's acknowledgement (every 2 s while a push waits),
// and shows each room's image (board, slot, version) and update, starting one with "Update…".
import { get, post, put, del } from "./api.js";
import { byId, clearError, el, fmtTime, isZeroTime, show, showError, showStatus, withBusy } from "./dom.js";
import { startPage, ROLE_SUPER, ROLE_ADMIN } from "./nav.js";
import { normalizeCode, pushProgress } from "./roomsview.js";
import { renderPanels } from "./roomspanels.js";
import { canUpdate, openUpdate, systemCells, updateCell, wireUpdate } from "./roomsupdate.js";

const REFRESH_MS = 5000;
const PUSH_POLL_MS = 2000;
// Fast polling stops after this long even if an offline room has not acknowledged yet: it
// gets the bundle when it comes back, and the 5 s refresh keeps the progress current.
const PUSH_FAST_MS = 120000;
// A newly paired room connects within moments; poll every second until it shows online.
const NEW_ROOM_POLL_MS = 1000;
const NEW_ROOM_FAST_MS = 30000;

let rooms = [];
let push = null; // { version, ids: Set of room IDs, fastUntil }
let unpairTarget = null; // the room whose unpair waits for the second click
let newRoom = null; // { id, fastUntil }: a room just paired, until it first shows online
let timer = 0;

function daysUntil(iso) {
  return Math.floor((new Date(iso).getTime() - Date.now()) / 86400000);
}

function badge(kind, text) {
  return el("span", { className: `badge ${kind}`, text });
}

function certCell(r) {
  if (isZeroTime(r.cert_not_after)) return el("td", { text: "—" });
  const days = daysUntil(r.cert_not_after);
  const td = el("td", { text: `${fmtTime(r.cert_not_after)} (${days} days)`, className: "cert-expiry" });
  if (days < 30) td.classList.add("warn");
  return td;
}

function bundleCell(r) {
  const have = r.bundle_version ? `v${r.bundle_version}` : "—";
  if (!push || !push.ids.has(r.id)) return el("td", { text: have, className: "bundle" });
  const acked = (r.bundle_version || 0) >= push.version;
  return el("td", { className: "bundle", attrs: { "data-push": acked ? "acked" : "waiting" } },
    `${have} of v${push.version} `,
    badge(acked ? "ok" : "warn", acked ? "acked" : "waiting"));
}

function httpsCell(r) {
  if (isZeroTime(r.last_seen) && !r.online) return el("td", { text: "—" });
  if (r.portal_https_trusted) return el("td", {}, badge("ok", "trusted"));
  return el("td", {}, badge("bad", "not trusted"), r.portal_https_error ? el("small", { text: r.portal_https_error }) : null);
}

function actionButton(text, action, r, className = "secondary small") {
  const b = el("button", { className, text, attrs: { type: "button", "data-action": action, "aria-label": `${text}: ${r.name}` } });
  b.addEventListener("click", () => actions[action](r, b));
  return b;
}

function row(r) {
  const tr = el("tr", { attrs: { "data-room-id": r.id } },
    el("td", { text: r.name, className: "room-name" }),
    el("td", { className: "room-status" }, r.online ? badge("ok", "online") : badge("bad", "offline")),
    el("td", { text: isZeroTime(r.last_seen) ? "never" : fmtTime(r.last_seen) }),
    el("td", { text: r.firmware || "—" }),
    ...systemCells(r),
    updateCell(r),
    bundleCell(r),
    certCell(r),
    httpsCell(r),
    el("td", { className: "actions-cell" }, el("div", { className: "stack" },
      actionButton("Rename", "rename", r),
      canUpdate(r) ? actionButton("Update…", "update", r) : null,
      actionButton("Push certificates", "push", r),
      actionButton("Unpair", "unpair", r, "danger secondary small"))),
  );
  if (unpairTarget && unpairTarget.id === r.id) tr.classList.add("selected");
  return tr;
}

function renderPush() {
  if (!push) return;
  const p = pushProgress(push, rooms);
  if (p.total === 0) {
    showStatus("push-status", `Bundle version ${push.version} is current; no room is paired.`);
  } else if (p.waiting.length === 0) {
    const who = p.total === 1 ? "The room" : `All ${p.total} rooms`;
    showStatus("push-status", `${who} acknowledged bundle version ${push.version}.`);
  } else {
    const names = p.waiting.map((r) => `${r.name}${r.online ? "" : " (offline)"}`).join(", ");
    showStatus("push-status", `Pushing bundle version ${push.version}: ${p.acked} of ${p.total} acknowledged; waiting for ${names}.`);
  }
}

function render() {
  byId("rooms-body").replaceChildren(...rooms.map(row));
  show("rooms-empty", rooms.length === 0);
  if (unpairTarget && !rooms.some((r) => r.id === unpairTarget.id)) {
    unpairTarget = null;
    show("unpair-confirm-row", false);
  }
  renderPush();
  renderPanels(rooms, load);
}

function pushWaiting() {
  return push !== null && pushProgress(push, rooms).waiting.length > 0 && Date.now() < push.fastUntil;
}

function newRoomWaiting() {
  if (newRoom === null || Date.now() >= newRoom.fastUntil) return false;
  const r = rooms.find((x) => x.id === newRoom.id);
  return r !== undefined && !r.online;
}

function schedule() {
  clearTimeout(timer);
  let delay = REFRESH_MS;
  if (newRoomWaiting()) delay = NEW_ROOM_POLL_MS;
  else if (pushWaiting()) delay = PUSH_POLL_MS;
  timer = setTimeout(tick, delay);
}

async function load() {
  rooms = (await get("/api/v1/rooms")) || [];
  clearError("rooms-error");
  render();
  schedule();
}

async function tick() {
  try {
    await load();
  } catch (err) {
    showError("rooms-error", err);
    schedule();
  }
}

async function startPush(roomId, button) {
  clearError("push-error");
  try {
    const res = await withBusy(button, () => post("/api/v1/rooms/push", { room_id: roomId }));
    const ids = new Set((res.rooms || []).map((r) => r.id));
    push = { version: res.version, ids, fastUntil: Date.now() + PUSH_FAST_MS };
    await load();
  } catch (err) {
    showError("push-error", err);
  }
}

const actions = {
  rename(r) {
    clearError("rename-error");
    byId("rename-id").value = r.id;
    byId("rename-room").textContent = r.name;
    byId("rename-name").value = r.name;
    show("rename-section", true);
    byId("rename-name").select();
  },
  push(r, button) {
    return startPush(r.id, button);
  },
  update(r) {
    return openUpdate(r);
  },
  unpair(r) {
    clearError("unpair-error");
    unpairTarget = r;
    byId("unpair-question").textContent =
      `Unpair ${r.name}? Its client certificate is revoked at once; the room forgets this portal and shows a new pairing code.`;
    show("unpair-confirm-row", true);
    render();
    byId("unpair-confirm").focus();
  },
};

function wireUnpair() {
  byId("unpair-cancel").addEventListener("click", () => {
    unpairTarget = null;
    show("unpair-confirm-row", false);
    render();
  });
  byId("unpair-confirm").addEventListener("click", async (ev) => {
    clearError("unpair-error");
    const r = unpairTarget;
    if (!r) return;
    try {
      await withBusy(ev.currentTarget, () => del(`/api/v1/rooms/${encodeURIComponent(r.id)}`));
      unpairTarget = null;
      show("unpair-confirm-row", false);
      showStatus("rooms-status", `${r.name} is unpaired; its certificate is revoked.`);
      await load();
    } catch (err) {
      showError("unpair-error", err);
    }
  });
}

function wireRename() {
  byId("rename-close").addEventListener("click", () => show("rename-section", false));
  byId("rename-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("rename-error");
    const id = byId("rename-id").value;
    const name = byId("rename-name").value.trim();
    if (name === "") {
      showError("rename-error", new Error("Enter a name for the room."));
      return;
    }
    try {
      await withBusy(byId("rename-submit"), () => put(`/api/v1/rooms/${encodeURIComponent(id)}`, { name }));
      show("rename-section", false);
      showStatus("rooms-status", `Renamed to ${name}.`);
      await load();
    } catch (err) {
      showError("rename-error", err);
    }
  });
}

function wirePair() {
  byId("pair-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("pair-error");
    show("pair-result", false);
    const code = normalizeCode(byId("pair-code").value);
    const name = byId("pair-name").value.trim();
    if (code.error) {
      showError("pair-error", new Error(code.error));
      return;
    }
    if (name === "") {
      showError("pair-error", new Error("Enter a name for the room."));
      return;
    }
    showStatus("pair-progress", "Pairing with the room…");
    try {
      const room = await withBusy(byId("pair-submit"), () => post("/api/v1/rooms/pair", { code: code.digits, name }));
      byId("pair-form").reset();
      showStatus("pair-result", `${room.name} is paired.`);
      newRoom = { id: room.id, fastUntil: Date.now() + NEW_ROOM_FAST_MS };
      if (!rooms.some((r) => r.id === room.id)) {
        rooms.push(room);
        render();
      }
      await load();
    } catch (err) {
      showError("pair-error", err);
    } finally {
      show("pair-progress", false);
    }
  });
}

async function main() {
  if (!(await startPage([ROLE_SUPER, ROLE_ADMIN]))) return;
  wirePair();
  wireRename();
  wireUnpair();
  wireUpdate(load);
  byId("push-all").addEventListener("click", (ev) => startPush("", ev.currentTarget));
  byId("rooms-refresh").addEventListener("click", (ev) => {
    clearError("rooms-error");
    withBusy(ev.currentTarget, load).catch((err) => showError("rooms-error", err));
  });
  await tick();
}

main().catch((err) => showError("page-error", err));
