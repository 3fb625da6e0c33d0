// The API as the browser app uses it (API.md): JSON, Bearer tokens kept in
// memory only, and a silent refresh when an access token expires.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

const TOKEN_EXPIRED = 'https://flux.dev/problems/token-expired';

export class Api {
  constructor(base) {
    this.base = base.replace(/\/+$/, '');
    this.session = null;
    this.refreshing = null;
    this.onSession = () => {};
  }

  async request(method, path, body, retried = false) {
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.session) headers.authorization = `Bearer ${this.session.access_token}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, { detail: `${this.base} cannot be reached from this page (offline, or this origin is not allowed)` });
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401 && !retried && this.session && data?.type === TOKEN_EXPIRED) {
      if (await this.refresh()) return this.request(method, path, body, true);
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body ?? {}); }
  delete(path) { return this.request('DELETE', path); }

  /// One refresh at a time, however many requests found the token expired.
  refresh() {
    if (!this.refreshing) {
      const token = this.session?.refresh_token;
      this.refreshing = this.request('POST', '/auth/refresh', { refresh_token: token }, true)
        .then((session) => { this.setSession(session); return true; })
        .catch(() => { this.setSession(null); return false; })
        .finally(() => { this.refreshing = null; });
    }
    return this.refreshing;
  }

  setSession(session) {
    this.session = session;
    // Refreshed a little before it expires, so no request meets an expired
    // token; a tab asleep past that still refreshes on token-expired.
    clearTimeout(this.timer);
    if (session) {
      const lead = Math.max(1, Math.min(60, session.expires_in * 0.2));
      this.timer = setTimeout(() => this.refresh(), (session.expires_in - lead) * 1000);
    }
    this.onSession(session);
  }

  async register(fields) { this.setSession(await this.request('POST', '/auth/register', fields, true)); }
  async login(email, password) { this.setSession(await this.request('POST', '/auth/login', { email, password }, true)); }

  async logout() {
    const token = this.session?.refresh_token;
    this.setSession(null);
    if (token) await this.request('POST', '/auth/logout', { refresh_token: token }, true).catch(() => {});
  }
}
