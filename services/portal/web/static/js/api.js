// api.js: the one way pages talk to the portal's JSON API. It adds the session's CSRF token
// to every state-changing call and turns error answers ({code, error}) into thrown APIError
// values whose message is the server's own text, so pages can show it as it is.

let csrfToken = "";

export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "APIError";
    this.status = status;
    this.code = code;
  }
}

export function setCSRFToken(token) {
  csrfToken = typeof token === "string" ? token : "";
}

async function readBody(res) {
  const text = await res.text();
  if (text === "") return null;
  const type = res.headers.get("Content-Type") || "";
  if (!type.includes("json")) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new APIError(res.status, "bad_response", "The portal sent an answer that is not valid JSON.");
  }
}

// request sends one call. opts.json is sent as a JSON body, opts.form (FormData) as
// multipart/form-data.
export async function request(method, path, opts = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.form !== undefined) {
    body = opts.form; // the browser sets the multipart boundary itself
  }
  if (method !== "GET" && method !== "HEAD") {
    headers["X-CSRF-Token"] = csrfToken;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    throw new APIError(0, "network", `The portal could not be reached (${err.message}).`);
  }
  const data = await readBody(res);
  if (!res.ok) {
    const message = data && typeof data === "object" && typeof data.error === "string" && data.error !== ""
      ? data.error
      : `${res.status} ${res.statusText || "request failed"}`;
    const code = data && typeof data === "object" && typeof data.code === "string" ? data.code : "";
    throw new APIError(res.status, code, message);
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, json) => request("POST", path, json === undefined ? {} : { json });
export const put = (path, json) => request("PUT", path, { json });
export const postForm = (path, form) => request("POST", path, { form });
export const del = (path) => request("DELETE", path);

// me returns the signed-in user and remembers the CSRF token; it throws APIError 401 when
// nobody is signed in.
export async function me() {
  const m = await get("/api/v1/me");
  setCSRFToken(m.csrf_token);
  return m;
}

export async function login(name, password) {
  const m = await post("/api/v1/login", { name, password });
  setCSRFToken(m.csrf_token);
  return m;
}

export async function logout() {
  await post("/api/v1/logout");
  setCSRFToken("");
}

// upload sends file as the raw body of a POST (application/octet-stream) with the CSRF token,
// reporting progress(sent, total) as the browser sends it: fetch cannot report upload
// progress, XMLHttpRequest can. It resolves with the JSON answer or rejects with APIError.
export function upload(path, file, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable && progress) progress(ev.loaded, ev.total);
    });
    xhr.addEventListener("error", () => reject(new APIError(0, "network", "The upload did not reach the portal.")));
    xhr.addEventListener("abort", () => reject(new APIError(0, "aborted", "The upload was cancelled.")));
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = xhr.responseText === "" ? null : JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(data);
        return;
      }
      const message = data && typeof data.error === "string" && data.error !== "" ? data.error : `${xhr.status} ${xhr.statusText || "upload failed"}`;
      reject(new APIError(xhr.status, data && typeof data.code === "string" ? data.code : "", message));
    });
    xhr.send(file);
  });
}
