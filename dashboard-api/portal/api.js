// api.js - the portal's only way out: the REST API of this same server
// (DESIGN §7), with the signed-in credential from session storage.
//
// The credential (a consumer's key or the admin token) lives in
// sessionStorage only: it is gone when the tab closes, no other tab or origin
// can read it, it is never put in a cookie, a URL or a log line, and it goes
// out only as "Authorization: Bearer" to this origin.

const STORE = 'tollgate.portal.session';

let current = null;
try {
	current = JSON.parse(sessionStorage.getItem(STORE) || 'null');
} catch {
	current = null;
}

// {credential, role: 'consumer' | 'admin', consumer: {id, name, ...} | null}
export function session() {
	return current;
}

export function setSession(s) {
	current = s;
	if (s)
		sessionStorage.setItem(STORE, JSON.stringify(s));
	else
		sessionStorage.removeItem(STORE);
}

// an error of the API, its message in plain words for the page
export class ApiError extends Error {
	constructor(status, type, message, param) {
		super(message);
		this.status = status;
		this.type = type;
		this.param = param;
	}
}

function plainMessage(status, body, retryAfter) {
	const e = body && body.error ? body.error : {};
	const detail = e.message ? ' (' + e.message + ')' : '';
	switch (e.type || '') {
	case 'authentication':
		return 'Your key or admin token was not accepted: it may be mistyped, revoked or ' +
			'expired. Sign in again with a valid one.';
	case 'not_found':
		return 'Not found: it does not exist, or it is not yours to see' + detail + '.';
	case 'rate_limited':
		return 'Too many requests for now' + (retryAfter ? ': try again in ' + retryAfter +
			' seconds' : ': wait a little and try again') + '.';
	case 'invalid_request':
		return 'The request was refused: ' + (e.message || 'a value is not valid') +
			(e.param && !(e.message || '').includes(e.param) ? ' (' + e.param + ')' : '') + '.';
	case 'conflict':
		return 'That conflicts with the current state: ' + (e.message || 'try reloading') + '.';
	default:
		if (status === 503)
			return 'A service the API depends on is unavailable right now' + detail +
				'. Try again in a moment.';
		return 'The server had a problem answering (HTTP ' + status + ')' + detail +
			'. Try again in a moment.';
	}
}

function newIdempotencyKey() {
	if (crypto.randomUUID)
		return 'portal-' + crypto.randomUUID();
	const b = crypto.getRandomValues(new Uint8Array(16));
	return 'portal-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

let onUnauthorized = null;
// what to do when a signed-in call answers 401 (the key was revoked meanwhile)
export function setUnauthorizedHandler(fn) {
	onUnauthorized = fn;
}

// api('GET', '/v1/apis', {query, body, credential}) - the decoded JSON reply
export async function api(method, path, opts = {}) {
	const headers = { Accept: 'application/json' };
	const credential = opts.credential !== undefined ? opts.credential :
		current ? current.credential : null;
	if (credential)
		headers.Authorization = 'Bearer ' + credential;
	let body;
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		body = JSON.stringify(opts.body);
	}
	if (method === 'POST')
		headers['Idempotency-Key'] = opts.idempotencyKey || newIdempotencyKey();
	let url = path;
	if (opts.query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(opts.query))
			if (v !== undefined && v !== null && v !== '')
				q.set(k, v);
		const qs = q.toString();
		if (qs)
			url += '?' + qs;
	}
	let resp;
	try {
		resp = await fetch(url, { method, headers, body, credentials: 'omit',
			cache: 'no-store', redirect: 'error' });
	} catch {
		throw new ApiError(0, 'network', 'The portal could not reach the tollgate API ' +
			'server. Check that it is running and try again.');
	}
	let data = null;
	const text = await resp.text();
	if (text) {
		try {
			data = JSON.parse(text);
		} catch {
			data = null;
		}
	}
	if (!resp.ok) {
		const err = new ApiError(resp.status, data && data.error ? data.error.type : 'http',
			plainMessage(resp.status, data, resp.headers.get('Retry-After')),
			data && data.error ? data.error.param : undefined);
		if (resp.status === 401 && credential && opts.credential === undefined && onUnauthorized)
			onUnauthorized(err);
		throw err;
	}
	return data;
}

// every page of a list route (limit 100 a page), at most @max objects
export async function listAll(path, query = {}, max = 1000) {
	const out = [];
	let after;
	for (;;) {
		const page = await api('GET', path, { query: { ...query, limit: 100, starting_after: after } });
		out.push(...page.data);
		if (!page.has_more || !page.data.length || out.length >= max)
			return out;
		after = page.data[page.data.length - 1].id;
	}
}
