// consumer.js - whose usage, keys or invoices a page shows: the signed-in
// consumer's own, or, for the admin, the consumer named by ?consumer=ID.
import { api } from './api.js';
import { h, replace, table } from './dom.js';

// the consumer {id, name, ..., self}, or null after rendering a picker (admin, no ?consumer)
export async function targetConsumer(ctx, page, title) {
	const s = ctx.session;
	if (s.role === 'consumer')
		return { ...s.consumer, self: true };
	const id = ctx.query.get('consumer');
	if (id && /^[1-9][0-9]{0,19}$/.test(id))
		return { ...(await api('GET', '/v1/consumers/' + id)), self: false };
	const page1 = await api('GET', '/v1/consumers', { query: { limit: 100 } });
	document.title = title + ' · tollgate';
	replace(ctx.view, h('h1', null, title),
		h('p', null, 'Choose a consumer (the admin sees every consumer\'s ' + title.toLowerCase() + ').'),
		consumerTable(page1.data),
		page1.has_more ? h('p', { class: 'hint' }, 'The first 100 consumers; the admin page pages through all of them.') : null);
	return null;
}

export function consumerTable(consumers) {
	return table(null, ['Consumer', 'Email', 'Status', 'Pages'], consumers.map((c) =>
		h('tr', null,
			h('td', null, c.name, ' ', h('span', { class: 'muted' }, '#' + c.id)),
			h('td', null, c.email || '–'),
			h('td', null, c.suspended ? 'suspended' : 'active'),
			h('td', { class: 'links' },
				h('a', { href: '#/usage?consumer=' + c.id, 'aria-label': 'Usage of ' + c.name }, 'Usage'), ' ',
				h('a', { href: '#/keys?consumer=' + c.id, 'aria-label': 'Keys of ' + c.name }, 'Keys'), ' ',
				h('a', { href: '#/invoices?consumer=' + c.id, 'aria-label': 'Invoices of ' + c.name }, 'Invoices')))),
	{ class: 'consumers-table stack' });
}

// "?consumer=ID" for the admin's links, "" for a consumer's own pages
export function consumerQuery(c) {
	return c.self ? '' : '?consumer=' + c.id;
}

export function heading(title, c) {
	return h('h1', null, title, c.self ? null : h('span', { class: 'muted' }, ' · ' + c.name + ' #' + c.id));
}
