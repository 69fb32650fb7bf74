// keys.js - a consumer's API keys: list (never the raw key), create (the raw
// key shown once), revoke, rotate with a grace period.
import { api, listAll, session } from './api.js';
import { badge, field, fmtTime, h, notice, replace, table } from './dom.js';
import { heading, targetConsumer } from './consumer.js';

const GRACE = [
	['86400', '1 day (the default)'],
	['3600', '1 hour'],
	['604800', '7 days'],
	['0', 'none: the old key stops at once'],
];

function keyStatus(k) {
	const now = Date.now();
	if (k.revoked_at)
		return badge('bad', 'Revoked ' + fmtTime(k.revoked_at));
	if (k.expires_at)
		return new Date(k.expires_at) <= now ? badge('bad', 'Expired ' + fmtTime(k.expires_at)) :
			badge('warn', 'Rotated: valid until ' + fmtTime(k.expires_at));
	return badge('ok', 'Active');
}

function usable(k) {
	return !k.revoked_at && !(k.expires_at && new Date(k.expires_at) <= Date.now());
}

// the raw key, once: with a copy button and the warning
function secretPanel(k, what) {
	const input = h('input', { type: 'text', readonly: true, value: k.key, class: 'secret',
		id: 'new-key', spellcheck: 'false', autocomplete: 'off' });
	const copied = h('span', { class: 'copied', 'aria-live': 'polite' });
	const copy = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy');
	copy.addEventListener('click', async () => {
		input.select();
		try {
			await navigator.clipboard.writeText(input.value);
			copied.textContent = 'Copied.';
		} catch {
			copied.textContent = 'Copying was not allowed here: the key is selected, press Ctrl+C (⌘C).';
		}
	});
	const panel = h('section', { class: 'card secret-panel', role: 'alert', 'aria-labelledby': 'secret-h' },
		h('h2', { id: 'secret-h' }, what),
		h('p', { class: 'warning' }, h('strong', null, 'Copy this key now: it is shown only this once. '),
			'tollgate keeps only its digest, so nobody can show it again. If you lose it, ' +
			'create a new key and revoke this one.'),
		h('div', { class: 'secret-row' }, h('label', { for: 'new-key' }, 'New key'), input, copy),
		copied,
		h('p', null, h('button', { type: 'button', class: 'btn btn-quiet btn-small',
			onclick: () => { input.value = ''; panel.remove(); } }, 'I have stored it: hide the key')));
	return panel;
}

export async function render(ctx) {
	const c = await targetConsumer(ctx, 'keys', 'Keys');
	if (!c || !ctx.current())
		return;
	const [keys, plans, apis] = await Promise.all([
		listAll('/v1/consumers/' + c.id + '/keys'),
		listAll('/v1/plans'),
		listAll('/v1/apis'),
	]);
	const apiName = Object.fromEntries(apis.map((a) => [a.id, a.name]));
	const planName = Object.fromEntries(plans.map((p) => [p.id, p.name]));
	const planLabel = (p) => p.name + (p.api_id ? ' (' + (apiName[p.api_id] || 'API ' + p.api_id) + ')' : ' (every API)');
	const s = session();
	const ownPrefix = s && s.role === 'consumer' ? s.credential.slice(0, 8) : null;
	const top = h('div', { class: 'secret-slot' });
	const status = h('div', { class: 'form-status', 'aria-live': 'polite' });

	const refresh = async (panel, message) => {
		await render(ctx);
		if (!ctx.current())
			return;
		const slot = ctx.view.querySelector('.secret-slot');
		if (slot && panel)
			replace(slot, panel);
		if (slot && message)
			replace(ctx.view.querySelector('.form-status'), message);
		if (panel)
			panel.querySelector('input').focus();
	};

	// create
	const planSelect = h('select', { name: 'plan_id' }, plans.map((p) => h('option', { value: p.id }, planLabel(p))));
	const createBtn = h('button', { type: 'submit', class: 'btn' }, 'Create key');
	const createForm = h('form', { class: 'card form create-key', novalidate: true },
		h('h2', null, 'Create a key'),
		plans.length ? field('Plan', planSelect, 'The plan sets the key\'s rate limit, quota and prices.') :
			notice('info', 'No plan exists yet, so no key can be created.'),
		plans.length ? createBtn : null);
	createForm.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		createBtn.disabled = true;
		replace(status, h('p', null, 'Creating…'));
		try {
			const k = await api('POST', '/v1/consumers/' + c.id + '/keys', { body: { plan_id: planSelect.value } });
			await refresh(secretPanel(k, 'Your new key'), null);
		} catch (err) {
			createBtn.disabled = false;
			replace(status, notice('error', err.message));
		}
	});

	const rows = keys.map((k) => {
		const actions = h('td', { class: 'actions' });
		const own = ownPrefix && k.prefix === ownPrefix && usable(k);
		const showButtons = () => replace(actions,
			h('button', { type: 'button', class: 'btn btn-small', onclick: askRotate,
				'aria-label': 'Rotate key ' + k.prefix }, 'Rotate'), ' ',
			h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: askRevoke,
				'aria-label': 'Revoke key ' + k.prefix }, 'Revoke'));
		function askRevoke() {
			const yes = h('button', { type: 'button', class: 'btn btn-small btn-danger' }, 'Revoke now');
			const no = h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: showButtons }, 'Cancel');
			yes.addEventListener('click', async () => {
				yes.disabled = true;
				try {
					await api('DELETE', '/v1/consumers/' + c.id + '/keys/' + k.id);
					await refresh(null, notice('ok', 'Key ' + k.prefix + '… is revoked: the gateway ' +
						'refuses it within a second.'));
				} catch (err) {
					replace(actions, notice('error', err.message));
				}
			});
			replace(actions, h('p', { class: 'confirm' }, own ?
				'This is the key you are signed in with: revoking it signs you out. ' :
				'Calls with ' + k.prefix + '… will be refused. ', 'Revoke it?'), yes, ' ', no);
			no.focus();
		}
		function askRotate() {
			const grace = h('select', { name: 'grace_period' }, GRACE.map(([v, t]) => h('option', { value: v }, t)));
			const yes = h('button', { type: 'button', class: 'btn btn-small' }, 'Rotate now');
			const no = h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: showButtons }, 'Cancel');
			yes.addEventListener('click', async () => {
				yes.disabled = true;
				try {
					const nk = await api('POST', '/v1/consumers/' + c.id + '/keys/' + k.id + '/rotate',
						{ body: { grace_period: Number(grace.value) } });
					await refresh(secretPanel(nk, 'The replacement for ' + k.prefix + '…'), null);
				} catch (err) {
					replace(actions, notice('error', err.message));
				}
			});
			replace(actions, field('Old key stays valid for', grace), yes, ' ', no);
			grace.focus();
		}
		if (usable(k) && !k.expires_at)
			showButtons();
		else if (usable(k))
			replace(actions, h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: askRevoke,
				'aria-label': 'Revoke key ' + k.prefix }, 'Revoke'));
		return h('tr', { dataset: { keyId: k.id, prefix: k.prefix } },
			h('td', null, h('code', null, k.prefix + '…'), own ? [' ', badge('info', 'this session')] : null),
			h('td', null, planName[k.plan_id] || 'plan ' + k.plan_id),
			h('td', { class: 'key-status' }, keyStatus(k)),
			h('td', null, fmtTime(k.created_at)),
			h('td', null, k.last_used_at ? fmtTime(k.last_used_at) : 'never'),
			actions);
	});

	document.title = 'Keys · tollgate';
	replace(ctx.view, heading('API keys', c),
		h('p', { class: 'lead' }, 'Send a key in the ', h('code', null, 'X-API-Key'), ' header (or as ',
			h('code', null, 'Authorization: Bearer'), '). Only its first characters are shown here.'),
		top, status, createForm,
		keys.length ? table('Keys', ['Key', 'Plan', 'Status', 'Created', 'Last used', 'Actions'], rows,
			{ class: 'keys-table stack' }) : notice('info', 'No key yet.'),
		h('p', { class: 'hint' }, '"Last used" is stamped by the gateway at most once a minute.'));
}
