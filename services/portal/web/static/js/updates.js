// updates.js: Super Admin → Updates. Uploads a bundle with a progress bar (the portal checks it
// as it arrives), lists the stored bundles and deletes one after a second click.
import { get, del, upload } from "./api.js";
import { byId, clearError, el, fmtTime, show, showError, showStatus, withBusy } from "./dom.js";
import { startPage, ROLE_SUPER } from "./nav.js";
import { fmtBytes, percent } from "./updatesview.js";

let deleteTarget = null;

function row(b) {
  const btn = el("button", { className: "danger secondary small", text: "Delete", attrs: { type: "button", "data-action": "delete", "aria-label": `Delete ${b.board} ${b.version}` } });
  btn.addEventListener("click", () => askDelete(b));
  return el("tr", { attrs: { "data-board": b.board, "data-version": b.version } },
    el("td", { text: b.board, className: "bundle-board" }),
    el("td", { text: b.version, className: "bundle-version" }),
    el("td", { text: fmtBytes(b.size), className: "bundle-size" }),
    el("td", { className: "mono" }, el("small", { text: b.sha256 })),
    el("td", { text: fmtTime(b.uploaded_at) }),
    el("td", { text: b.uploaded_by || "—" }),
    el("td", { className: "actions-cell" }, btn),
  );
}

async function load() {
  const bundles = (await get("/api/v1/updates")) || [];
  clearError("updates-error");
  byId("updates-body").replaceChildren(...bundles.map(row));
  show("updates-empty", bundles.length === 0);
}

function askDelete(b) {
  clearError("delete-error");
  deleteTarget = b;
  byId("delete-question").textContent = `Delete the bundle ${b.version} for ${b.board}? Rooms can no longer be updated to it from this portal.`;
  show("delete-confirm-row", true);
  byId("delete-confirm").focus();
}

function wireDelete() {
  byId("delete-cancel").addEventListener("click", () => {
    deleteTarget = null;
    show("delete-confirm-row", false);
  });
  byId("delete-confirm").addEventListener("click", async (ev) => {
    clearError("delete-error");
    const b = deleteTarget;
    if (!b) return;
    try {
      await withBusy(ev.currentTarget, () => del(`/api/v1/updates/${encodeURIComponent(b.board)}/${encodeURIComponent(b.version)}`));
      deleteTarget = null;
      show("delete-confirm-row", false);
      showStatus("updates-status", `Deleted ${b.version} for ${b.board}.`);
      await load();
    } catch (err) {
      showError("delete-error", err);
    }
  });
}

function wireUpload() {
  byId("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearError("upload-error");
    show("upload-result", false);
    const file = byId("upload-file").files[0];
    if (!file) {
      showError("upload-error", new Error("Choose a bundle file to upload."));
      return;
    }
    const bar = byId("upload-progress");
    bar.value = 0;
    byId("upload-progress-text").textContent = `0% of ${fmtBytes(file.size)}`;
    show("upload-progress-row", true);
    try {
      const b = await withBusy(byId("upload-submit"), () => upload("/api/v1/updates", file, (sent, total) => {
        const p = percent(sent, total) ?? 0;
        bar.value = p;
        byId("upload-progress-text").textContent = sent >= total
          ? `${fmtBytes(total)} sent; the portal is checking the bundle…`
          : `${p}% of ${fmtBytes(total)}`;
      }));
      bar.value = 100;
      byId("upload-progress-text").textContent = "Done.";
      byId("upload-form").reset();
      showStatus("upload-result", `Stored ${b.version} for ${b.board} (${fmtBytes(b.size)}).`);
      await load();
    } catch (err) {
      show("upload-progress-row", false);
      showError("upload-error", err);
    }
  });
}

async function main() {
  if (!(await startPage([ROLE_SUPER]))) return;
  wireUpload();
  wireDelete();
  byId("updates-refresh").addEventListener("click", (ev) => {
    clearError("updates-error");
    withBusy(ev.currentTarget, load).catch((err) => showError("updates-error", err));
  });
  await load().catch((err) => showError("updates-error", err));
}

main().catch((err) => showError("page-error", err));
