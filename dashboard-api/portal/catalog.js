// catalog.js - the catalog of published APIs, an API's reference rendered
// from its OpenAPI document, and "try it" through POST /v1/sandbox/requests
// (the API server calls the API's sandbox_url: no cross-origin request).
import { api, listAll } from './api.js';
import { badge, field, fmtDate, fmtMs, h, notice, replace, table } from './dom.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const SANDBOX_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

// the lifecycle of an API as badges and words
function lifecycle(a) {
	const now = Date.now();
	const out = [];
	if (a.sunset_at && new Date(a.sunset_at) <= now)
		out.push(badge('bad', 'Sunset since ' + fmtDate(a.sunset_at)));
	else if (a.deprecated_at && new Date(a.deprecated_at) <= now)
		out.push(badge('warn', 'Deprecated since ' + fmtDate(a.deprecated_at)));
	else if (a.deprecated_at)
		out.push(badge('warn', 'Deprecated from ' + fmtDate(a.deprecated_at)));
	if (a.sunset_at && new Date(a.sunset_at) > now)
		out.push(badge('bad', 'Sunset on ' + fmtDate(a.sunset_at)));
	if (!out.length)
		out.push(badge('ok', 'Active'));
	return out;
}

function slaText(a) {
	const parts = [];
	if (a.sla_uptime !== null && a.sla_uptime !== undefined)
		parts.push(a.sla_uptime + ' % uptime');
	if (a.sla_p99_ms !== null && a.sla_p99_ms !== undefined)
		parts.push('p99 ≤ ' + a.sla_p99_ms + ' ms');
	return parts.length ? parts.join(', ') : 'no SLA targets';
}

export async function list(ctx) {
	const apis = await listAll('/v1/apis');
	document.title = 'Catalog · tollgate';
	const cards = apis.map((a) => h('li', { class: 'card api-card', dataset: { apiId: a.id } },
		h('h2', null, h('a', { href: '#/apis/' + a.id }, a.name),
			' ', h('span', { class: 'version' }, 'v' + a.version)),
		h('p', { class: 'badges' }, lifecycle(a)),
		h('p', { class: 'description' }, a.description || 'No description.'),
		h('dl', { class: 'facts' },
			h('dt', null, 'Base path'), h('dd', null, h('code', null, a.base_path)),
			h('dt', null, 'SLA'), h('dd', null, slaText(a)),
			a.deprecated_at ? [h('dt', null, 'Deprecated'), h('dd', null, fmtDate(a.deprecated_at))] : null,
			a.sunset_at ? [h('dt', null, 'Sunset'), h('dd', null, fmtDate(a.sunset_at))] : null),
		h('p', null, h('a', { class: 'btn btn-small', href: '#/apis/' + a.id,
			'aria-label': 'Reference of ' + a.name }, 'Reference and try it'))));
	replace(ctx.view, h('h1', null, 'API catalog'),
		h('p', { class: 'lead' }, 'Every API published here, with its version, its service ' +
			'targets and its lifecycle.'),
		apis.length ? h('ul', { class: 'cards' }, cards) :
			notice('info', 'No API is published yet.'));
}

// --- the OpenAPI document, rendered ------------------------------------------------

function resolve(doc, obj, seen = new Set()) {
	if (!obj || typeof obj !== 'object' || typeof obj.$ref !== 'string')
		return obj;
	if (seen.has(obj.$ref) || !obj.$ref.startsWith('#/'))
		return obj;
	seen.add(obj.$ref);
	let cur = doc;
	for (const part of obj.$ref.slice(2).split('/'))
		cur = cur && typeof cur === 'object' ?
			cur[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
	return cur ? resolve(doc, cur, seen) : obj;
}

function refName(obj) {
	return obj && typeof obj.$ref === 'string' ? obj.$ref.split('/').pop() : null;
}

function typeText(doc, schema) {
	if (!schema || typeof schema !== 'object')
		return 'any';
	const name = refName(schema);
	const sch = resolve(doc, schema);
	let t = Array.isArray(sch.type) ? sch.type.join(' | ') : sch.type;
	if (sch.enum)
		t = 'one of ' + sch.enum.map((v) => JSON.stringify(v)).join(', ');
	if (sch.const !== undefined)
		t = JSON.stringify(sch.const);
	if (t === 'array' || (sch.items && !t))
		t = 'array of ' + typeText(doc, sch.items);
	if (!t && (sch.oneOf || sch.anyOf))
		t = (sch.oneOf || sch.anyOf).map((x) => typeText(doc, x)).join(' | ');
	if (!t && sch.allOf)
		t = sch.allOf.map((x) => typeText(doc, x)).join(' & ');
	if (!t && sch.properties)
		t = 'object';
	t = t || 'any';
	if (sch.format)
		t += ' (' + sch.format + ')';
	return name ? name + ': ' + t : t;
}

// properties of an object schema as a nested list, a few levels deep
function schemaView(doc, schema, depth = 0) {
	const sch = resolve(doc, schema);
	if (!sch || typeof sch !== 'object')
		return null;
	let props = sch.properties;
	let required = sch.required || [];
	if (!props && sch.allOf) {
		props = {};
		for (const part of sch.allOf) {
			const p = resolve(doc, part);
			Object.assign(props, p.properties || {});
			required = required.concat(p.required || []);
		}
	}
	if (!props && sch.items)
		return schemaView(doc, sch.items, depth);
	if (!props || depth > 3)
		return null;
	return h('ul', { class: 'schema' }, Object.entries(props).map(([name, p]) =>
		h('li', null, h('code', null, name),
			required.includes(name) ? h('span', { class: 'req' }, ' required') : null,
			' ', h('span', { class: 'type' }, typeText(doc, p)),
			resolve(doc, p).description ? [' — ', resolve(doc, p).description] : null,
			schemaView(doc, p, depth + 1))));
}

// an example: the document's own, else one made from the schema
function example(doc, media) {
	if (!media)
		return undefined;
	if (media.example !== undefined)
		return media.example;
	if (media.examples && typeof media.examples === 'object') {
		const first = Object.values(media.examples)[0];
		const ex = resolve(doc, first);
		if (ex && ex.value !== undefined)
			return ex.value;
	}
	return media.schema ? sample(doc, media.schema, 0) : undefined;
}

function sample(doc, schema, depth) {
	const sch = resolve(doc, schema);
	if (!sch || typeof sch !== 'object' || depth > 4)
		return null;
	if (sch.example !== undefined)
		return sch.example;
	if (sch.examples && Array.isArray(sch.examples) && sch.examples.length)
		return sch.examples[0];
	if (sch.const !== undefined)
		return sch.const;
	if (sch.enum)
		return sch.enum[0];
	if (sch.default !== undefined)
		return sch.default;
	const t = Array.isArray(sch.type) ? sch.type[0] : sch.type;
	if (t === 'object' || sch.properties) {
		const o = {};
		for (const [k, v] of Object.entries(sch.properties || {}))
			o[k] = sample(doc, v, depth + 1);
		return o;
	}
	if (t === 'array')
		return [sample(doc, sch.items, depth + 1)];
	if (t === 'integer' || t === 'number')
		return 0;
	if (t === 'boolean')
		return true;
	if (t === 'string')
		return sch.format === 'date-time' ? '2026-01-01T00:00:00Z' : 'string';
	if (sch.allOf)
		return Object.assign({}, ...sch.allOf.map((x) => sample(doc, x, depth + 1) || {}));
	return null;
}

function exampleBlock(value, media) {
	if (value === undefined || value === null)
		return null;
	const own = media && (media.example !== undefined || media.examples);
	return [h('p', { class: 'ex-label' }, own ? 'Example' : 'Example (made from the schema)'),
		h('pre', { class: 'example' }, typeof value === 'string' ? value : JSON.stringify(value, null, 2))];
}

function paramTable(doc, params) {
	if (!params.length)
		return null;
	return table('Parameters', ['Name', 'In', 'Type', 'Description'], params.map((p) =>
		h('tr', null,
			h('td', null, h('code', null, p.name), p.required ? h('span', { class: 'req' }, ' required') : null),
			h('td', null, p.in),
			h('td', null, typeText(doc, p.schema)),
			h('td', null, p.description || ''))));
}

function operationView(doc, path, method, op, pathParams, onTry) {
	const params = [...pathParams, ...(op.parameters || [])].map((p) => resolve(doc, p))
		.filter((p) => p && p.name);
	const id = 'op-' + method + '-' + path.replace(/[^A-Za-z0-9]+/g, '-');
	const body = op.requestBody ? resolve(doc, op.requestBody) : null;
	const responses = Object.entries(op.responses || {});
	const tryBody = body && body.content ? example(doc, Object.values(body.content)[0]) : undefined;
	return h('section', { class: 'card operation', id, 'aria-labelledby': id + '-h' },
		h('h3', { id: id + '-h' }, h('span', { class: 'method method-' + method }, method.toUpperCase()),
			' ', h('code', { class: 'path' }, path),
			op.deprecated ? [' ', badge('warn', 'Deprecated')] : null),
		op.summary ? h('p', { class: 'summary' }, op.summary) : null,
		op.description ? h('p', null, op.description) : null,
		paramTable(doc, params),
		body ? h('div', { class: 'request-body' }, h('h4', null, 'Request body',
			body.required ? h('span', { class: 'req' }, ' required') : null),
		body.description ? h('p', null, body.description) : null,
		Object.entries(body.content || {}).map(([type, media]) => h('div', null,
			h('p', null, h('code', null, type), ' ', h('span', { class: 'type' }, typeText(doc, media.schema))),
			schemaView(doc, media.schema),
			exampleBlock(example(doc, media), media)))) : null,
		responses.length ? h('div', { class: 'responses' }, h('h4', null, 'Responses'),
			responses.map(([code, r]) => {
				const res = resolve(doc, r);
				return h('div', { class: 'response' },
					h('p', null, h('span', { class: 'status status-' + String(code)[0] }, code), ' ',
						res.description || ''),
					Object.entries(res.content || {}).map(([type, media]) => h('div', null,
						h('p', null, h('code', null, type), ' ', h('span', { class: 'type' }, typeText(doc, media.schema))),
						schemaView(doc, media.schema),
						exampleBlock(example(doc, media), media))));
			})) : null,
		onTry ? h('p', null, h('button', { type: 'button', class: 'btn btn-small',
			onclick: () => onTry(method.toUpperCase(), path, params, tryBody) },
		'Try ', method.toUpperCase(), ' ', path)) : null);
}

// --- try it -----------------------------------------------------------------------------

const VERDICTS = {
	admitted: ['Admitted', 'The gateway let the call through: this is the API\'s own answer.'],
	missing_key: ['Refused by the gateway', 'The request carried no API key.'],
	unknown_key: ['Refused by the gateway', 'The gateway does not know this key.'],
	revoked_key: ['Refused by the gateway', 'The key is revoked.'],
	suspended: ['Refused by the gateway', 'The account is suspended (an unpaid invoice, say).'],
	forbidden_api: ['Refused by the gateway', 'Your plan does not cover this API.'],
	over_limit: ['Refused by the gateway', 'You are over your plan\'s rate limit: wait for the ' +
		'time in Retry-After and try again.'],
	quota_exhausted: ['Refused by the gateway', 'This month\'s quota of your plan is used up.'],
	no_response: ['No response', 'Nothing usable came back from the API.'],
};

function parseHeaders(text) {
	const out = {};
	for (const line of text.split('\n')) {
		const t = line.trim();
		if (!t)
			continue;
		const i = t.indexOf(':');
		if (i <= 0)
			throw new Error('Write each header as "Name: value" on its own line ("' + t + '" has no colon).');
		out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
	}
	return out;
}

function prettyBody(text, headers) {
	const type = headers['content-type'] || '';
	if (/json/.test(type)) {
		try {
			return JSON.stringify(JSON.parse(text), null, 2);
		} catch {
			return text;
		}
	}
	return text;
}

function resultView(r) {
	const refused = r.verdict !== 'admitted' && r.verdict !== 'no_response';
	const kind = r.verdict === 'admitted' ? (r.status >= 500 ? 'bad' : r.status >= 400 ? 'warn' : 'ok') :
		refused ? 'refused' : 'bad';
	const headers = Object.entries(r.headers || {});
	return h('div', { class: 'try-result result-' + kind, dataset: { verdict: r.verdict } },
		h('h3', null, 'Response'),
		h('p', { class: 'verdict verdict-' + (refused ? 'refused' : r.verdict), role: 'status' },
			h('strong', null, (VERDICTS[r.verdict] || ['Verdict'])[0], refused ? ' (' + r.verdict + ')' : '', ': '),
			(VERDICTS[r.verdict] || [null, r.verdict])[1],
			r.error ? [' ', r.error] : null),
		h('dl', { class: 'facts' },
			h('dt', null, 'Status'), h('dd', { class: 'try-status' }, r.status === null ? 'none' : String(r.status)),
			h('dt', null, 'Verdict'), h('dd', null, h('code', { class: 'try-verdict' }, r.verdict)),
			h('dt', null, 'Time'), h('dd', null, fmtMs(r.latency_ms)),
			h('dt', null, 'URL'), h('dd', null, h('code', null, r.method + ' ' + r.url))),
		headers.length ? table('Headers', ['Name', 'Value'], headers.map(([k, v]) =>
			h('tr', null, h('td', null, h('code', null, k)), h('td', null, v)))) : null,
		h('h4', null, 'Body', r.body_truncated ? ' (cut at 64 KiB)' : ''),
		h('pre', { class: 'try-body' }, r.body ? prettyBody(r.body, r.headers || {}) : '(empty)'));
}

function tryPanel(a, session) {
	const panel = h('section', { class: 'card try', id: 'try', 'aria-labelledby': 'try-h' },
		h('h2', { id: 'try-h' }, 'Try it'));
	if (!session || session.role !== 'consumer') {
		panel.appendChild(notice('info', session ?
			'"Try it" sends a request with a consumer\'s own key, and the admin token is never ' +
			'sent to an API: sign in with an API key to use it.' :
			h('span', null, h('a', { href: '#/signin?next=' + encodeURIComponent('/apis/' + a.id) }, 'Sign in'),
				' with your API key to send real requests to this API\'s sandbox.')));
		return { panel, fill: null };
	}
	if (!a.sandbox_url) {
		panel.appendChild(notice('info', 'This API has no sandbox to try requests against.'));
		return { panel, fill: null };
	}
	const method = h('select', { name: 'method' }, SANDBOX_METHODS.map((m) => h('option', { value: m }, m)));
	const path = h('input', { type: 'text', name: 'path', value: a.base_path || '/', spellcheck: 'false',
		autocomplete: 'off' });
	const headers = h('textarea', { name: 'headers', rows: '3', spellcheck: 'false',
		placeholder: 'Accept: application/json' });
	const body = h('textarea', { name: 'body', rows: '5', spellcheck: 'false' });
	const out = h('div', { class: 'try-out', 'aria-live': 'polite' });
	const send = h('button', { type: 'submit', class: 'btn' }, 'Send request');
	const form = h('form', { class: 'form try-form', novalidate: true },
		h('p', { class: 'hint' }, 'Sent by the tollgate API server to ', h('code', null, a.sandbox_url),
			' with your own key, so it counts toward your usage and limits like any call.'),
		h('div', { class: 'row' }, field('Method', method), field('Path and query', path)),
		field('Headers', headers, 'One "Name: value" per line. Your key is added for you.'),
		field('Body', body, 'Sent as it is; JSON is sent as application/json.'),
		send, out);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		let hdrs;
		try {
			hdrs = parseHeaders(headers.value);
		} catch (err) {
			replace(out, notice('error', err.message));
			return;
		}
		const p = path.value.trim();
		if (!p.startsWith('/')) {
			replace(out, notice('error', 'The path must start with "/", for example ' + (a.base_path || '/') + '.'));
			path.focus();
			return;
		}
		const req = { api_id: a.id, method: method.value, path: p };
		if (Object.keys(hdrs).length)
			req.headers = hdrs;
		if (body.value !== '' && method.value !== 'GET' && method.value !== 'HEAD') {
			const hasType = Object.keys(hdrs).some((k) => k.toLowerCase() === 'content-type');
			let value = body.value;
			if (!hasType) {
				try {
					value = JSON.parse(body.value);
				} catch {
					value = body.value;
				}
			}
			req.body = value;
		}
		send.disabled = true;
		replace(out, h('p', null, 'Sending…'));
		try {
			const r = await api('POST', '/v1/sandbox/requests', { body: req });
			replace(out, resultView(r));
		} catch (err) {
			replace(out, notice('error', err.type === 'rate_limited' ?
				'You have sent too many "try it" requests in a short time. ' + err.message :
				err.message));
		} finally {
			send.disabled = false;
		}
	});
	panel.appendChild(form);
	const fill = (m, p, params, exampleBody) => {
		method.value = SANDBOX_METHODS.includes(m) ? m : 'GET';
		let filled = p;
		const query = [];
		for (const prm of params || []) {
			const ex = prm.example !== undefined ? prm.example :
				prm.schema && prm.schema.example !== undefined ? prm.schema.example : undefined;
			if (prm.in === 'path' && ex !== undefined)
				filled = filled.replace('{' + prm.name + '}', encodeURIComponent(String(ex)));
			if (prm.in === 'query' && prm.required && ex !== undefined)
				query.push(encodeURIComponent(prm.name) + '=' + encodeURIComponent(String(ex)));
		}
		path.value = filled + (query.length ? '?' + query.join('&') : '');
		body.value = exampleBody !== undefined && m !== 'GET' && m !== 'HEAD' ?
			JSON.stringify(exampleBody, null, 2) : '';
		replace(out);
		panel.scrollIntoView({ block: 'start' });
		path.focus();
	};
	return { panel, fill };
}

export async function reference(ctx) {
	const id = ctx.params[0];
	const a = await api('GET', '/v1/apis/' + id);
	let doc = null, docError = null;
	if (a.has_openapi) {
		try {
			doc = await api('GET', '/v1/apis/' + id + '/openapi');
		} catch (err) {
			docError = err.message;
		}
	}
	document.title = a.name + ' · tollgate';
	const { panel, fill } = tryPanel(a, ctx.session);
	const ops = [];
	if (doc && doc.paths && typeof doc.paths === 'object') {
		for (const [path, item0] of Object.entries(doc.paths)) {
			const item = resolve(doc, item0) || {};
			for (const m of METHODS)
				if (item[m])
					ops.push(operationView(doc, path, m, item[m], item.parameters || [], fill));
		}
	}
	const info = doc && doc.info ? doc.info : {};
	const toc = ops.length ? h('nav', { class: 'toc card', 'aria-label': 'Operations' },
		h('h2', null, 'Operations'),
		h('ul', null, ops.map((op) => h('li', null, h('a', { href: '#/apis/' + id, dataset: { target: op.id },
			onclick: (ev) => {
				ev.preventDefault();
				op.scrollIntoView({ block: 'start' });
				op.querySelector('h3').setAttribute('tabindex', '-1');
				op.querySelector('h3').focus({ preventScroll: true });
			} }, op.querySelector('h3').textContent))))) : null;
	const deprecation = a.sunset_at || a.deprecated_at ? notice('warn',
		a.deprecated_at ? 'Deprecated' + (new Date(a.deprecated_at) > Date.now() ? ' from ' : ' since ') +
			fmtDate(a.deprecated_at) + '. ' : '',
		a.sunset_at ? 'Sunset' + (new Date(a.sunset_at) > Date.now() ? ' on ' : ' since ') +
			fmtDate(a.sunset_at) + ': calls stop working then.' : '') : null;
	replace(ctx.view,
		h('p', { class: 'crumbs' }, h('a', { href: '#/catalog' }, 'Catalog'), ' / ', a.name),
		h('h1', null, a.name, ' ', h('span', { class: 'version' }, 'v' + a.version)),
		h('p', { class: 'badges' }, lifecycle(a)),
		deprecation,
		h('p', { class: 'description' }, a.description || info.description || ''),
		h('dl', { class: 'facts' },
			h('dt', null, 'Base path'), h('dd', null, h('code', null, a.base_path)),
			h('dt', null, 'SLA'), h('dd', null, slaText(a)),
			info.version ? [h('dt', null, 'Document version'), h('dd', null, String(info.version))] : null),
		panel,
		h('h2', null, 'Reference'),
		docError ? notice('error', docError) : null,
		!a.has_openapi ? notice('info', 'This API has not published an OpenAPI document yet.') : null,
		doc && !ops.length ? notice('info', 'The OpenAPI document describes no operation.') : null,
		toc, ops);
}
