// roomsview.js: the Rooms page's pure logic, kept apart from the DOM so it reads (and can be
// exercised from a browser test) on its own.

// normalizeCode turns what an admin typed into the 12 digits of a pairing code. Spaces and
// dashes are allowed, as the room shows the code in groups ("1234 5678 9012"). It returns
// { digits } or { error } naming the problem.
export function normalizeCode(text) {
  const compact = String(text).replace(/[\s-]/g, "");
  if (compact === "") return { error: "Enter the 12-digit pairing code the room shows." };
  if (!/^[0-9]+$/.test(compact)) return { error: "The pairing code has only digits (spaces and dashes are fine)." };
  if (compact.length !== 12) return { error: `The pairing code has 12 digits; this one has ${compact.length}.` };
  return { digits: compact };
}

// pushProgress reports how far a push of bundle version push.version got: rooms in push.ids
// that still exist, how many hold that version (or a newer one), and which still wait.
export function pushProgress(push, rooms) {
  const involved = rooms.filter((r) => push.ids.has(r.id));
  const waiting = involved.filter((r) => (r.bundle_version || 0) < push.version);
  return { total: involved.length, acked: involved.length - waiting.length, waiting };
}
