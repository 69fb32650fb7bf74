// invoices.js - a consumer's invoices (and this month's so far) and one
// invoice with its tier lines, total, status and reconciliation.
import { api, listAll } from './api.js';
import { badge, fmtDate, fmtInt, fmtTime, h, notice, replace, table } from './dom.js';
import { consumerQuery, heading, targetConsumer } from './consumer.js';

const STATUS = {
	draft: ['info', 'Draft'],
	finalized: ['warn', 'Due'],
	paid: ['ok', 'Paid'],
	payment_failed: ['bad', 'Payment failed'],
	upcoming: ['info', 'In progress'],
};

function statusBadge(st) {
	const [kind, text] = STATUS[st] || ['info', st];
	return badge(kind, text);
}

function money(amount, currency) {
	return amount + ' ' + currency;
}

function linesTable(inv) {
	return table('Lines', ['Description', 'Quantity', 'Unit price', 'Amount'], [
		...inv.lines.map((l) => h('tr', { class: 'line' },
			h('td', null, l.description),
			h('td', { class: 'num' }, fmtInt(l.quantity)),
			h('td', { class: 'num' }, l.unit_price + ' ' + inv.currency),
			h('td', { class: 'num line-amount' }, money(l.amount, inv.currency)))),
		h('tr', { class: 'total' }, h('th', { scope: 'row', colspan: '3' }, 'Total'),
			h('td', { class: 'num invoice-total', dataset: { totalMinor: inv.total_minor } },
				money(inv.total, inv.currency)))], { class: 'lines-table stack' });
}

export async function list(ctx) {
	const c = await targetConsumer(ctx, 'invoices', 'Invoices');
	if (!c || !ctx.current())
		return;
	const invoices = await listAll('/v1/consumers/' + c.id + '/invoices');
	let upcoming = null, upcomingNote = null;
	try {
		upcoming = await api('GET', '/v1/consumers/' + c.id + '/invoices/upcoming');
	} catch (err) {
		upcomingNote = err.status === 404 ? notice('info', 'Nothing to invoice this month yet.') :
			notice('error', err.message);
	}
	if (!ctx.current())
		return;
	invoices.sort((a, b) => (a.period < b.period ? 1 : a.period > b.period ? -1 : 0));
	document.title = 'Invoices · tollgate';
	const back = consumerQuery(c);
	replace(ctx.view, heading('Invoices', c),
		h('p', { class: 'lead' }, 'One invoice per calendar month (UTC), priced by the tiers of your plans.'),
		h('section', { class: 'card upcoming', 'aria-labelledby': 'upcoming-h' },
			h('h2', { id: 'upcoming-h' }, 'This month so far'),
			upcoming ? [
				h('p', null, statusBadge('upcoming'), ' ', upcoming.period, ': ',
					h('strong', { class: 'upcoming-total' }, money(upcoming.total, upcoming.currency)),
					' as of ', fmtTime(upcoming.as_of)),
				linesTable(upcoming)] : upcomingNote),
		h('h2', null, 'Past invoices'),
		invoices.length ? table(null, ['Period', 'Status', 'Total', 'Lines', ''], invoices.map((inv) =>
			h('tr', { dataset: { invoiceId: inv.id } },
				h('td', null, inv.period),
				h('td', null, statusBadge(inv.status)),
				h('td', { class: 'num' }, money(inv.total, inv.currency)),
				h('td', { class: 'num' }, String(inv.lines.length)),
				h('td', null, h('a', { href: '#/invoices/' + inv.id + back,
					'aria-label': 'Invoice ' + inv.period }, 'View')))), { class: 'invoices-table stack' }) :
			notice('info', 'No invoice yet.'));
}

function count(v) {
	return v === null || v === undefined ? 'none' : typeof v === 'number' ? fmtInt(v) : JSON.stringify(v);
}

function reconciliationView(rec) {
	if (!rec || typeof rec !== 'object')
		return h('p', null, 'Not reconciled yet.');
	const apis = Array.isArray(rec.apis) ? rec.apis : [];
	return h('div', { class: 'reconciliation' },
		h('p', null, rec.status === 'ok' ? badge('ok', 'The counts agree') :
			rec.status === 'mismatch' ? badge('bad', 'The counts differ: the invoice stays a draft') :
				badge('info', String(rec.status || 'unknown')),
		rec.checked_at ? ' checked ' + fmtTime(rec.checked_at) : '',
		rec.tolerance_pct !== undefined ? ', tolerance ' + rec.tolerance_pct + ' %' : ''),
		apis.length ? table(null, ['API', 'Billing (Postgres)', 'Gateways (Redis)', 'Kernel', 'Agree'],
			apis.map((a) => h('tr', null,
				h('td', null, 'API ' + a.api_id),
				h('td', { class: 'num' }, count(a.postgres)),
				h('td', { class: 'num' }, count(a.redis)),
				h('td', { class: 'num' }, count(a.kernel)),
				h('td', null, a.ok ? 'yes' : 'no')))) : null);
}

export async function detail(ctx) {
	const inv = await api('GET', '/v1/invoices/' + ctx.params[0]);
	document.title = 'Invoice ' + inv.period + ' · tollgate';
	const s = ctx.session;
	const back = s.role === 'admin' ? '#/invoices?consumer=' + inv.consumer_id : '#/invoices';
	replace(ctx.view,
		h('p', { class: 'crumbs' }, h('a', { href: back }, 'Invoices'), ' / ', inv.period),
		h('h1', null, 'Invoice ', inv.period, ' ', statusBadge(inv.status)),
		h('dl', { class: 'facts' },
			h('dt', null, 'Invoice'), h('dd', null, '#' + inv.id),
			h('dt', null, 'Consumer'), h('dd', null, '#' + inv.consumer_id),
			h('dt', null, 'Period'), h('dd', null, fmtDate(inv.period_start), ' to ',
				fmtDate(new Date(new Date(inv.period_end) - 1).toISOString()), ' (UTC)'),
			h('dt', null, 'Status'), h('dd', { class: 'invoice-status' }, inv.status),
			h('dt', null, 'Created'), h('dd', null, fmtTime(inv.created_at)),
			inv.finalized_at ? [h('dt', null, 'Finalized'), h('dd', null, fmtTime(inv.finalized_at))] : null,
			inv.paid_at ? [h('dt', null, 'Paid'), h('dd', null, fmtTime(inv.paid_at))] : null),
		linesTable(inv),
		h('h2', null, 'Reconciliation'),
		h('p', { class: 'hint' }, 'Usage counted three ways (billing\'s rollups, the gateways\' ' +
			'counters and the kernel\'s) and compared before the invoice is finalized.'),
		reconciliationView(inv.reconciliation));
}
