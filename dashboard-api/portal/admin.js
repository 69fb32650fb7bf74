// admin.js - the provider's view (admin token): open alerts, each API's SLA
// status over the last 24 hours, and every consumer, with links to their
// usage, keys and invoices.
import { api, listAll } from './api.js';
import { badge, fmtInt, fmtMs, fmtTime, h, notice, replace, table } from './dom.js';
import { consumerTable } from './consumer.js';

function slaStatus(sla) {
	if (!sla.requests)
		return badge('info', 'No traffic');
	const upOk = sla.target_uptime === null || sla.uptime === null || sla.uptime >= sla.target_uptime;
	const p99Ok = sla.target_p99_ms === null || sla.p99_ms === null || sla.p99_ms <= sla.target_p99_ms;
	return upOk && p99Ok ? badge('ok', 'Met') : badge('bad', 'Breached');
}

async function slaRows(apis) {
	const withTargets = apis.filter((a) => a.sla_uptime !== null || a.sla_p99_ms !== null);
	const results = await Promise.all(withTargets.map(async (a) => {
		try {
			return { a, sla: await api('GET', '/v1/apis/' + a.id + '/sla') };
		} catch (err) {
			return { a, error: err.message };
		}
	}));
	return results.map(({ a, sla, error }) => error ?
		h('tr', null, h('td', null, a.name), h('td', { colspan: '5' }, error)) :
		h('tr', { dataset: { apiId: a.id } },
			h('td', null, h('a', { href: '#/apis/' + a.id }, a.name)),
			h('td', null, slaStatus(sla)),
			h('td', { class: 'num' }, sla.uptime === null ? '–' : sla.uptime.toFixed(3) + ' %',
				sla.target_uptime === null ? '' : ' (target ' + sla.target_uptime + ' %)'),
			h('td', { class: 'num' }, fmtMs(sla.p99_ms),
				sla.target_p99_ms === null ? '' : ' (target ' + sla.target_p99_ms + ' ms)'),
			h('td', { class: 'num' }, fmtInt(sla.requests)),
			h('td', { class: 'num' }, String(sla.breaches.length))));
}

export async function render(ctx) {
	const [alerts, apis, consumers] = await Promise.all([
		listAll('/v1/alerts', { state: 'open' }),
		listAll('/v1/apis'),
		api('GET', '/v1/consumers', { query: { limit: 100 } }),
	]);
	const sla = await slaRows(apis);
	if (!ctx.current())
		return;
	const apiName = Object.fromEntries(apis.map((a) => [a.id, a.name]));
	const consumerList = h('div', { class: 'consumer-list' }, consumerTable(consumers.data));
	let last = consumers.data.length ? consumers.data[consumers.data.length - 1].id : null;
	const more = h('button', { type: 'button', class: 'btn btn-small', hidden: !consumers.has_more }, 'Show more consumers');
	more.addEventListener('click', async () => {
		more.disabled = true;
		try {
			const page = await api('GET', '/v1/consumers', { query: { limit: 100, starting_after: last } });
			consumerList.appendChild(consumerTable(page.data));
			last = page.data.length ? page.data[page.data.length - 1].id : last;
			more.hidden = !page.has_more;
		} catch (err) {
			more.after(notice('error', err.message));
		}
		more.disabled = false;
	});
	document.title = 'Admin · tollgate';
	replace(ctx.view, h('h1', null, 'Provider overview'),
		h('h2', null, 'Open alerts'),
		alerts.length ? table(null, ['Kind', 'API', 'Consumer', 'Opened', 'Breached windows', 'Details'],
			alerts.map((al) => h('tr', { dataset: { alertId: al.id } },
				h('td', null, badge('bad', al.kind)),
				h('td', null, al.api_id ? apiName[al.api_id] || 'API ' + al.api_id : '–'),
				h('td', null, al.consumer_id ? h('a', { href: '#/usage?consumer=' + al.consumer_id }, '#' + al.consumer_id) : '–'),
				h('td', null, fmtTime(al.opened_at)),
				h('td', { class: 'num' }, al.breached_windows === null || al.breached_windows === undefined ? '–' : String(al.breached_windows)),
				h('td', null, h('code', { class: 'details' }, JSON.stringify(al.details || {}))))),
		{ class: 'alerts-table stack' }) : notice('ok', 'No open alert.'),
		h('h2', null, 'SLA status, last 24 hours'),
		sla.length ? table(null, ['API', 'Status', 'Uptime', 'p99', 'Requests', 'Alerts'], sla, { class: 'sla-table stack' }) :
			notice('info', 'No API has SLA targets.'),
		h('h2', null, 'Consumers'),
		h('p', { class: 'hint' }, 'Their usage, keys and invoices, as they see them.'),
		consumers.data.length ? consumerList : notice('info', 'No consumer yet.'),
		more);
}
