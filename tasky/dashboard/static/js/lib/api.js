// The API client of the pages: JSON in and out, the token from sessionStorage, ETag/304.
import { $ } from "./dom.js";
import { url } from "./dom.js";

const TOKEN_KEY = "tasky.token";
const etags = new Map(); // path -> [etag, body]: answers kept for If-None-Match

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.errors = this.body.errors || {};
  }
}

export const getToken = () => sessionStorage.getItem(TOKEN_KEY);

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  tokenButton();
}

function tokenButton() {
  const button = $("#token-button");
  if (button) button.hidden = !getToken();
}

let asking = null; // one prompt at a time, whatever the number of requests waiting for it

function askToken(wrong) {
  if (asking) return asking;
  const dialog = $("#token-dialog");
  const input = $("#token-input");
  const error = $("#token-error");
  error.hidden = !wrong;
  error.textContent = wrong ? "That token was refused. Try again." : "";
  input.value = "";
  asking = new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        asking = null;
        const token = input.value.trim();
        if (token) sessionStorage.setItem(TOKEN_KEY, token);
        tokenButton();
        resolve(Boolean(token));
      },
      { once: true },
    );
  });
  dialog.showModal();
  input.focus();
  return asking;
}

/**
 * Call the API. Answers {status, data, headers}; a 4xx/5xx raises ApiError (with `errors`
 * per field for a 422). With `etag: true` the last answer's ETag is sent as If-None-Match
 * and a 304 answers the kept body with `notModified: true`.
 */
export async function api(path, { method = "GET", body, etag = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: "application/json" };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const kept = etag && etags.get(path);
    if (kept) headers["If-None-Match"] = kept[0];
    const resp = await fetch(url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    if (resp.status === 401 && attempt < 5) {
      sessionStorage.removeItem(TOKEN_KEY);
      if (await askToken(Boolean(token))) continue;
    }
    if (resp.status === 304 && kept) {
      return { status: 304, data: kept[1], headers: resp.headers, notModified: true };
    }
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { message: text };
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    const tag = resp.headers.get("ETag");
    if (etag && tag) etags.set(path, [tag, data]);
    return { status: resp.status, data, headers: resp.headers, notModified: false };
  }
}

/**
 * The first `count` pages of a list route answering `{<key>: [...], next_cursor}`, read one
 * after the other: what a list page shows again at each poll. Answers {items, cursor}.
 */
export async function listPages(path, key, count) {
  let cursor = null;
  const items = [];
  for (let i = 0; i < count; i++) {
    const params = new URLSearchParams({ limit: "100" });
    if (cursor) params.set("cursor", cursor);
    const { data } = await api(`${path}?${params}`);
    items.push(...data[key]);
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return { items, cursor };
}

tokenButton();
