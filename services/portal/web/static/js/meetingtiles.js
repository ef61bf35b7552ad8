// meetingtiles.js: the grid of participants. One tile per person (this browser's own tile
// first), each a <video> playing that person's MediaStream with a name label, "Mic off" /
// "Camera off" badges and a highlight while the router names them the active speaker.
// Everything is built with textContent, so names stay inert text.
import { el } from "./dom.js";

export const SELF = "self";

function tracksMuted(p, kind) {
  const tracks = [...p.tracks.values()].filter((t) => t.kind === kind);
  return tracks.length === 0 || tracks.every((t) => t.muted);
}

export class Grid {
  constructor(root, { name, stream, muted }) {
    this.root = root;
    this.tiles = new Map(); // participant ID (or SELF) -> { node, video, name, mic, cam, off }
    this.root.replaceChildren();
    const self = this.tile(SELF, true);
    self.name.textContent = `${name} (you)`;
    if (stream) this.play(self, stream);
    this.setSelfMuted(muted);
  }

  tile(id, self = false) {
    let t = this.tiles.get(id);
    if (t) return t;
    const video = el("video", { attrs: { autoplay: "", playsinline: "" } });
    video.muted = self; // never play one's own microphone back
    const name = el("span", { className: "tile-name" });
    const mic = el("span", { className: "badge bad mic-off", text: "Mic off" });
    const cam = el("span", { className: "badge bad cam-off", text: "Camera off" });
    const off = el("div", { className: "tile-off", text: "Camera off" });
    const sound = el("button", { className: "small tile-sound", text: "Play sound", attrs: { type: "button" } });
    mic.hidden = true;
    cam.hidden = true;
    off.hidden = true;
    sound.hidden = true;
    const node = el("div", { className: self ? "tile self" : "tile", attrs: { "data-participant": id } },
      video, off, sound, el("div", { className: "tile-label" }, name, mic, cam));
    t = { node, video, name, mic, cam, off, sound };
    sound.addEventListener("click", () => {
      video.muted = false;
      sound.hidden = true;
      video.play().catch((err) => console.warn("meeting: playback:", err.message));
    });
    this.tiles.set(id, t);
    this.root.append(node);
    this.layout();
    return t;
  }

  layout() {
    this.root.dataset.count = String(this.tiles.size);
  }

  setBadges(t, micMuted, camMuted) {
    t.mic.hidden = !micMuted;
    t.cam.hidden = !camMuted;
    t.off.hidden = !camMuted;
    t.node.dataset.micMuted = String(micMuted);
    t.node.dataset.cameraMuted = String(camMuted);
  }

  setSelfMuted(muted) {
    const t = this.tiles.get(SELF);
    if (t) this.setBadges(t, muted.audio, muted.video);
  }

  upsert(p) {
    const t = this.tile(p.id);
    t.name.textContent = p.name || "Guest";
    this.setBadges(t, tracksMuted(p, "audio"), tracksMuted(p, "video"));
  }

  remove(id) {
    const t = this.tiles.get(id);
    if (!t) return;
    t.video.srcObject = null;
    t.node.remove();
    this.tiles.delete(id);
    this.layout();
  }

  media(id, stream) {
    this.play(this.tile(id), stream);
  }

  // play attaches stream; when the browser refuses sound without a click on this page, the
  // video plays muted and a "Play sound" button waits for that click.
  play(t, stream) {
    if (t.video.srcObject === stream) return;
    t.video.srcObject = stream;
    t.video.play().catch((err) => {
      if (err.name !== "NotAllowedError" || t.video.muted) {
        if (err.name !== "AbortError") console.warn("meeting: playback:", err.message);
        return;
      }
      t.video.muted = true;
      t.sound.hidden = false;
      t.video.play().catch((e) => console.warn("meeting: playback:", e.message));
    });
  }

  speaker(id) {
    for (const [pid, t] of this.tiles) t.node.classList.toggle("speaking", pid === id);
  }

  clear() {
    for (const t of this.tiles.values()) t.video.srcObject = null;
    this.tiles.clear();
    this.root.replaceChildren();
    this.layout();
  }
}
