// updatesview.js: formatting shared by the Updates and Rooms pages (pure, no DOM).

// fmtBytes renders a byte count in binary units: "460.2 MiB".
export function fmtBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

// percent is bytes of total as a whole percentage, clamped to 0..100; null without a total.
export function percent(bytes, total) {
  if (!total || total <= 0) return null;
  return Math.max(0, Math.min(100, Math.floor(((bytes || 0) * 100) / total)));
}

// updateText describes a room's update (api.RoomUpdate) in one line.
export function updateText(u) {
  if (!u) return "—";
  switch (u.state) {
    case "offered":
      return `${u.version}: offered, waiting for the room`;
    case "downloading": {
      const p = percent(u.bytes, u.total);
      return p === null ? `${u.version}: downloading` : `${u.version}: downloading ${p}% (${fmtBytes(u.bytes)} of ${fmtBytes(u.total)})`;
    }
    case "rebooting":
      return `${u.version}: installed, rebooting on trial`;
    case "done":
      return `${u.version}: done`;
    case "failed":
      return `${u.version}: failed${u.error ? ` — ${u.error}` : ""}`;
    default:
      return `${u.version}: ${u.state}`;
  }
}
