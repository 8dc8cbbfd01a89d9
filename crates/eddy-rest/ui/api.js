// Requests to the REST API of the server that served this page, with the
// bearer token the user gave when the server asks for one (kept for this tab
// in sessionStorage).

/** Where the token is kept. */
const TOKEN_KEY = 'eddy-rest-token';

/** Keeps token for the next requests (null forgets it). */
export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** The headers every request carries: the token, if the user gave one. */
export function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A failed request: the API's {"errors": [...]} or what went wrong on the way. */
export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/** Sends a request to path; resolves to the JSON body, rejects with an ApiError. */
export async function api(path, options = {}) {
  const init = { method: options.method || 'GET', headers: authHeaders() };
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(`The server cannot be reached (${e.message})`, 0);
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : {};
  } catch (e) {
    throw new ApiError(`${init.method} ${path}: the answer is not JSON (HTTP ${response.status})`, response.status);
  }
  if (!response.ok) {
    const errors = body && Array.isArray(body.errors) ? body.errors.join('; ') : `HTTP ${response.status}`;
    throw new ApiError(errors, response.status);
  }
  return body;
}

/** The path of a job's resource. */
export function jobPath(id, rest = '') {
  return `/jobs/${encodeURIComponent(id)}${rest}`;
}
