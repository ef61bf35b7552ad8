// meetings.js: the Meetings page. Lists the meetings this account may open (admins see all),
// creates one (name, optional PIN), deletes one after a second click, and opens a meeting
// by its ID.
import { get, post, del } from "./api.js";
import { byId, clearError, el, fmtTime, show, showError, showStatus, withBusy } from "./dom.js";
import { startPage } from "./nav.js";
import { formatMeetingID, normalizeMeetingID } from "./meetingview.js";

let deleteTarget = null;

function meetingURL(id) {
  return `meeting.html?id=${encodeURIComponent(id)}`;
}

function row(m) {
  const del = el("button", { className: "danger secondary small", text: "Delete", attrs: { type: "button", "data-action": "delete", "aria-label": `Delete ${m.name}` } });
  del.addEventListener("click", () => askDelete(m));
  const tr = el("tr", { attrs: { "data-meeting-id": m.id } },
    el("td", { className: "meeting-name", text: m.name }),
    el("td", { className: "mono nowrap", text: formatMeetingID(m.id) }),
    el("td", { text: m.has_pin ? "Yes" : "—" }),
    el("td", { text: m.owner || "—" }),
    el("td", { text: fmtTime(m.created_at) }),
    el("td", { className: "actions-cell" }, el("div", { className: "actions tight" },
      el("a", { className: "button small", text: "Open", attrs: { href: meetingURL(m.id), "data-action": "open" } }),
      del)),
  );
  if (deleteTarget && deleteTarget.id === m.id) tr.classList.add("selected");
  return tr;
}

async function load() {
  clearError("meetings-error");
  const meetings = (await get("/api/v1/meetings")) || [];
  byId("meetings-body").replaceChildren(...meetings.map(row));
  show("meetings-empty", meetings.length === 0);
}

async function refresh() {
  try {
    await load();
  } catch (err) {
    showError("meetings-error", err);
  }
}

function askDelete(m) {
  deleteTarget = m;
  clearError("delete-error");
  byId("delete-question").textContent = `Delete the meeting ${m.name} (${formatMeetingID(m.id)})? People can no longer join it.`;
  show("delete-confirm-row", true);
  refresh();
}

async function create(ev) {
  ev.preventDefault();
  clearError("meeting-error");
  show("meeting-result", false);
  const name = byId("meeting-name").value.trim();
  const pin = byId("meeting-pin").value.trim();
  if (name === "") {
    showError("meeting-error", new Error("Enter a name for the meeting."));
    return;
  }
  try {
    const m = await withBusy(byId("meeting-submit"), () => post("/api/v1/meetings", { name, pin }));
    byId("meeting-form").reset();
    const box = byId("meeting-result");
    box.replaceChildren(`Meeting ${m.name} created with ID ${formatMeetingID(m.id)}. `,
      el("a", { text: "Open it", attrs: { href: meetingURL(m.id), id: "meeting-open" } }));
    box.hidden = false;
    await refresh();
  } catch (err) {
    showError("meeting-error", err);
  }
}

async function main() {
  const me = await startPage([]);
  if (!me) return;
  byId("meeting-form").addEventListener("submit", create);
  byId("meetings-refresh").addEventListener("click", refresh);
  byId("delete-cancel").addEventListener("click", () => {
    deleteTarget = null;
    show("delete-confirm-row", false);
    refresh();
  });
  byId("delete-confirm").addEventListener("click", async () => {
    if (!deleteTarget) return;
    const m = deleteTarget;
    try {
      await withBusy(byId("delete-confirm"), () => del(`/api/v1/meetings/${encodeURIComponent(m.id)}`));
      deleteTarget = null;
      show("delete-confirm-row", false);
      showStatus("meeting-result", `Meeting ${m.name} deleted.`);
      await refresh();
    } catch (err) {
      showError("delete-error", err);
    }
  });
  byId("joinid-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearError("joinid-error");
    const parsed = normalizeMeetingID(byId("joinid-value").value);
    if (parsed.error) {
      showError("joinid-error", new Error(parsed.error));
      return;
    }
    window.location.assign(meetingURL(parsed.id));
  });
  await refresh();
}

main().catch((err) => showError("page-error", err));
