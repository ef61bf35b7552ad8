// The room's status tree as the device API sends it: a whole tree first, then changed leaves
// by dotted path ("audio.mic_muted", "call.participants.0.name"); null removes a leaf.

export function applyChanges(tree, changed) {
  for (const [path, value] of Object.entries(changed)) {
    setPath(tree, path.split('.'), value);
  }
  tidy(tree);
  return tree;
}

function setPath(obj, keys, value) {
  let cur = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i];
    if (cur[k] === null || typeof cur[k] !== 'object') {
      if (value === null) return;
      cur[k] = /^\d+$/.test(keys[i + 1]) ? [] : {};
    }
    cur = cur[k];
  }
  const last = keys[keys.length - 1];
  if (value === null && Array.isArray(cur)) {
    cur[Number(last)] = undefined;
  } else if (value === null) {
    delete cur[last];
  } else {
    cur[last] = value;
  }
}

// tidy drops list entries left empty by removed leaves (a participant who left).
function tidy(v) {
  if (Array.isArray(v)) {
    for (let i = v.length - 1; i >= 0; i--) {
      if (v[i] === undefined || v[i] === null || (typeof v[i] === 'object' && Object.keys(v[i]).length === 0)) v.splice(i, 1);
      else tidy(v[i]);
    }
  } else if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) tidy(v[k]);
  }
}
