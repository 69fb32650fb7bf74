// usage.js - the usage dashboard: requests per minute, hour or day, 4xx/5xx
// rates and p50/p99 latency as charts, top endpoints, countries and today's
// realtime counts, over a chosen time range. Every figure is the API's
// (GET /v1/consumers/{id}/usage, .../endpoints, .../geo, .../realtime):
// totals are sums of its points, never estimates.
import { api } from './api.js';
import { timeChart, shareBar } from './charts.js';
import { field, fmtInt, fmtMs, fmtPct, fmtTime, h, notice, replace, table } from './dom.js';
import { consumerQuery, heading, targetConsumer } from './consumer.js';

const PRESETS = [
	['1h', 'Last hour, per minute', 3600, 'minute'],
	['24h', 'Last 24 hours, per hour', 86400, 'hour'],
	['7d', 'Last 7 days, per hour', 7 * 86400, 'hour'],
	['30d', 'Last 30 days, per day', 30 * 86400, 'day'],
];
const STEP_WORD = { minute: 'minute', hour: 'hour', day: 'day' };

function isoSeconds(d) {
	return d.toISOString().slice(0, 19) + 'Z';
}

// the range asked for in the hash: a preset, or from/to/granularity
function readRange(q) {
	const g = q.get('granularity');
	if (q.get('from') && q.get('to')) {
		return { preset: 'custom', from: q.get('from'), to: q.get('to'),
			granularity: STEP_WORD[g] ? g : 'hour' };
	}
	const p = PRESETS.find((x) => x[0] === q.get('range')) || PRESETS[1];
	const to = new Date(Math.floor(Date.now() / 1000) * 1000);
	return { preset: p[0], from: isoSeconds(new Date(to - p[2] * 1000)), to: isoSeconds(to), granularity: p[3] };
}

// "2026-11-28T10:05:00Z" <-> the value of an <input type="datetime-local"> read as UTC
function toLocalInput(iso) {
	const d = new Date(iso);
	return isNaN(d) ? '' : d.toISOString().slice(0, 16);
}

function fromLocalInput(v) {
	return v ? v + (v.length === 16 ? ':00' : '') + 'Z' : '';
}

function rangeForm(range, c) {
	const preset = h('select', { name: 'range' },
		PRESETS.map(([v, t]) => h('option', { value: v, selected: range.preset === v }, t)),
		h('option', { value: 'custom', selected: range.preset === 'custom' }, 'Custom range…'));
	const from = h('input', { type: 'datetime-local', name: 'from', value: toLocalInput(range.from) });
	const to = h('input', { type: 'datetime-local', name: 'to', value: toLocalInput(range.to) });
	const gran = h('select', { name: 'granularity' }, Object.keys(STEP_WORD).map((g) =>
		h('option', { value: g, selected: range.granularity === g }, 'per ' + g)));
	const custom = h('fieldset', { class: 'custom-range', hidden: range.preset !== 'custom' },
		h('legend', null, 'Custom range (UTC)'),
		field('From (UTC)', from), field('To (UTC)', to), field('Step', gran));
	preset.addEventListener('change', () => { custom.hidden = preset.value !== 'custom'; });
	const form = h('form', { class: 'card form range-form', novalidate: true },
		h('div', { class: 'row' }, field('Time range', preset), custom,
			h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'btn' }, 'Show'))));
	form.addEventListener('submit', (ev) => {
		ev.preventDefault();
		const q = new URLSearchParams(consumerQuery(c).slice(1));
		if (preset.value === 'custom') {
			q.set('from', fromLocalInput(from.value));
			q.set('to', fromLocalInput(to.value));
			q.set('granularity', gran.value);
		} else {
			q.set('range', preset.value);
		}
		const hash = '#/usage?' + q.toString();
		if (location.hash === hash)
			window.dispatchEvent(new HashChangeEvent('hashchange'));
		else
			location.hash = hash;
	});
	return form;
}

function sum(points, k) {
	return points.reduce((a, p) => a + (p[k] || 0), 0);
}

function tile(label, value, stat, sub) {
	return h('div', { class: 'tile', dataset: { stat } },
		h('p', { class: 'tile-label' }, label),
		h('p', { class: 'tile-value' }, value),
		sub ? h('p', { class: 'tile-sub' }, sub) : null);
}

const regionNames = typeof Intl.DisplayNames === 'function' ?
	new Intl.DisplayNames(['en'], { type: 'region' }) : null;
function countryName(code) {
	if (!code || code === '--')
		return 'Unknown';
	try {
		return regionNames ? regionNames.of(code) : code;
	} catch {
		return code;
	}
}

async function settle(p) {
	try {
		return { ok: true, value: await p };
	} catch (err) {
		return { ok: false, error: err };
	}
}

export async function render(ctx) {
	const c = await targetConsumer(ctx, 'usage', 'Usage');
	if (!c || !ctx.current())
		return;
	const range = readRange(ctx.query);
	const base = '/v1/consumers/' + c.id + '/usage';
	const q = { from: range.from, to: range.to };
	const [series, endpoints, geo, realtime] = await Promise.all([
		settle(api('GET', base, { query: { ...q, granularity: range.granularity } })),
		settle(api('GET', base + '/endpoints', { query: { ...q, limit: 10 } })),
		settle(api('GET', base + '/geo', { query: q })),
		settle(api('GET', base + '/realtime')),
	]);
	if (!ctx.current())
		return;
	document.title = 'Usage · tollgate';
	const parts = [heading('Usage', c), rangeForm(range, c)];
	parts.push(h('p', { class: 'range-shown', dataset: { from: range.from, to: range.to, granularity: range.granularity } },
		'From ', h('time', { datetime: range.from }, fmtTime(range.from)), ' to ',
		h('time', { datetime: range.to }, fmtTime(range.to)), ', per ', range.granularity, '.'));

	// today's realtime counts come first: they are ahead of the rollups
	let today = null;
	if (realtime.ok)
		today = realtime.value;

	if (!series.ok) {
		parts.push(notice('error', series.error.message));
	} else {
		const pts = series.value.data;
		const requests = sum(pts, 'requests'), refused = sum(pts, 'refused');
		const e4 = sum(pts, 'errors_4xx'), e5 = sum(pts, 'errors_5xx'), unanswered = sum(pts, 'unanswered');
		const admitted = requests - refused;
		parts.push(h('section', { class: 'tiles', 'aria-label': 'Totals' },
			tile('Requests', fmtInt(requests), 'requests', 'in the range'),
			tile('Refused by the gateway', fmtInt(refused), 'refused', fmtPct(requests ? refused / requests : null) + ' of requests'),
			tile('4xx rate', fmtPct(admitted ? e4 / admitted : null), 'rate4xx', fmtInt(e4) + ' client errors'),
			tile('5xx rate', fmtPct(admitted ? e5 / admitted : null), 'rate5xx', fmtInt(e5) + ' server errors, ' + fmtInt(unanswered) + ' unanswered'),
			tile('Today so far', today ? fmtInt(today.requests) : '–', 'today',
				today ? 'admitted, live from the gateway' : 'realtime counters unavailable')));
		parts.push(h('p', { class: 'hint' }, 'Rates are shares of the admitted requests (those the ' +
			'gateway let through). Refused requests are never billed.'));
		const times = pts.map((p) => new Date(p.ts));
		// each chart drawn at the width it gets: two side by side on a laptop, one on a phone
		const mainW = document.getElementById('main').clientWidth - 32;
		const width = (mainW >= 976 ? (mainW - 16) / 2 : mainW) - 26;
		const rate = (k) => pts.map((p) => {
			const a = p.requests - p.refused;
			return a > 0 ? p[k] / a : null;
		});
		parts.push(h('div', { class: 'charts' },
			timeChart({ label: 'Requests per ' + range.granularity, times, width, kind: 'bar', granularity: range.granularity,
				format: (v) => fmtInt(v), series: [
					{ name: 'requests', values: pts.map((p) => p.requests), cls: 's-requests' },
					{ name: 'refused', values: pts.map((p) => p.refused), cls: 's-refused' }] }),
			timeChart({ label: 'Error rates (share of admitted requests)', times, width, kind: 'line',
				granularity: range.granularity, format: (v) => (v * 100).toFixed(v && v < 0.1 ? 1 : 0) + '%', series: [
					{ name: '4xx', values: rate('errors_4xx'), cls: 's-4xx' },
					{ name: '5xx', values: rate('errors_5xx'), cls: 's-5xx' }] }),
			timeChart({ label: 'Latency, p50 and p99', times, width, kind: 'line', granularity: range.granularity,
				format: (v) => fmtMs(v), series: [
					{ name: 'p50', values: pts.map((p) => p.p50_ms), cls: 's-p50' },
					{ name: 'p99', values: pts.map((p) => p.p99_ms), cls: 's-p99' }] })));
	}

	// top endpoints
	parts.push(h('h2', null, 'Top endpoints'));
	if (!endpoints.ok)
		parts.push(notice('error', endpoints.error.message));
	else if (!endpoints.value.data.length)
		parts.push(notice('info', 'No request in this range.'));
	else
		parts.push(table(null, ['Method', 'Endpoint', 'Requests', 'Error rate', 'p50', 'p99'],
			endpoints.value.data.map((e) => h('tr', { dataset: { endpoint: e.endpoint, method: e.method || '' } },
				h('td', null, e.method || '–'),
				h('td', null, h('code', null, e.endpoint)),
				h('td', { class: 'num', dataset: { requests: e.requests } }, fmtInt(e.requests)),
				h('td', { class: 'num' }, fmtPct(e.error_rate)),
				h('td', { class: 'num' }, fmtMs(e.p50_ms)),
				h('td', { class: 'num' }, fmtMs(e.p99_ms)))), { class: 'endpoints-table stack' }));

	// geography
	parts.push(h('h2', null, 'Where requests come from'));
	if (!geo.ok) {
		parts.push(notice('error', geo.error.message));
	} else if (!geo.value.data.length) {
		parts.push(notice('info', 'No request in this range.'));
	} else {
		const total = geo.value.data.reduce((a, g) => a + g.requests, 0);
		parts.push(table(null, ['Country', 'Requests', 'Share'], geo.value.data.map((g) =>
			h('tr', { dataset: { country: g.country } },
				h('td', null, countryName(g.country), ' ', h('code', { class: 'muted' }, g.country)),
				h('td', { class: 'num', dataset: { requests: g.requests } }, fmtInt(g.requests)),
				h('td', { class: 'share-cell' }, shareBar(total ? g.requests / total : 0), ' ',
					fmtPct(total ? g.requests / total : 0)))), { class: 'geo-table' }));
	}

	// today
	parts.push(h('h2', null, 'Today (UTC), live'));
	if (!realtime.ok) {
		parts.push(notice('warn', realtime.error.message));
	} else {
		const rt = realtime.value;
		parts.push(h('p', { class: 'hint' }, 'Admitted requests counted by the gateway today (',
			rt.day, '), as of ', fmtTime(rt.as_of), '; the charts above catch up within a minute or two.'));
		parts.push(rt.apis.length ? table(null, ['API', 'Requests today'], [
			...rt.apis.map((a) => h('tr', { dataset: { apiId: a.api_id || '' } },
				h('td', null, a.name || 'API ' + a.api_id),
				h('td', { class: 'num' }, fmtInt(a.requests)))),
			h('tr', { class: 'total' }, h('th', { scope: 'row' }, 'Total'),
				h('td', { class: 'num', dataset: { total: rt.requests } }, fmtInt(rt.requests)))],
		{ class: 'realtime-table' }) : notice('info', 'No request yet today.'));
	}
	replace(ctx.view, parts);
}
