// app.js - the developer portal: a single page with hash routes, built on
// the REST API of DESIGN §7 only.
//
//   #/catalog            the published APIs
//   #/apis/ID            an API's reference (its OpenAPI document) and "try it"
//   #/signin             sign in with an API key (or the admin token)
//   #/usage              usage dashboard          (?consumer=ID for the admin)
//   #/keys               keys                     (?consumer=ID for the admin)
//   #/invoices           invoices                 (?consumer=ID for the admin)
//   #/invoices/ID        one invoice
//   #/admin              the provider: consumers, SLA status, open alerts
import { api, session, setSession, setUnauthorizedHandler } from './api.js';
import { h, notice, replace } from './dom.js';
import * as admin from './admin.js';
import * as catalog from './catalog.js';
import * as invoices from './invoices.js';
import * as keys from './keys.js';
import * as usage from './usage.js';

const routes = [
	{ re: /^\/catalog$/, page: catalog.list },
	{ re: /^\/apis\/([1-9][0-9]{0,19})$/, page: catalog.reference },
	{ re: /^\/signin$/, page: signin },
	{ re: /^\/usage$/, page: usage.render, who: 'any' },
	{ re: /^\/keys$/, page: keys.render, who: 'any' },
	{ re: /^\/invoices$/, page: invoices.list, who: 'any' },
	{ re: /^\/invoices\/([1-9][0-9]{0,19})$/, page: invoices.detail, who: 'any' },
	{ re: /^\/admin$/, page: admin.render, who: 'admin' },
];

let flash = null; // a notice for the next page (after sign-out, say)

export function go(hash, message) {
	flash = message || null;
	if (location.hash === hash)
		route();
	else
		location.hash = hash;
}

function parseHash() {
	const raw = location.hash.replace(/^#/, '') || '/';
	const qi = raw.indexOf('?');
	return {
		path: qi < 0 ? raw : raw.slice(0, qi),
		query: new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1)),
	};
}

function home() {
	const s = session();
	return !s ? '#/catalog' : s.role === 'admin' ? '#/admin' : '#/usage';
}

function renderNav(path) {
	const s = session();
	const links = [['#/catalog', 'Catalog', /^\/(catalog|apis)/]];
	if (s && s.role === 'consumer')
		links.push(['#/usage', 'Usage', /^\/usage/], ['#/keys', 'Keys', /^\/keys/],
			['#/invoices', 'Invoices', /^\/invoices/]);
	if (s && s.role === 'admin')
		links.push(['#/admin', 'Admin', /^\/(admin|usage|keys|invoices)/]);
	replace(document.getElementById('nav'), links.map(([href, text, re]) =>
		h('li', null, h('a', { href, 'aria-current': re.test(path) ? 'page' : null }, text))));
	const who = document.getElementById('who');
	if (!s) {
		replace(who, h('a', { class: 'btn btn-small', href: '#/signin' }, 'Sign in'));
		return;
	}
	const name = s.role === 'admin' ? 'the provider (admin)' :
		`${s.consumer.name} (consumer ${s.consumer.id})`;
	replace(who, h('span', { class: 'who-name' }, 'Signed in as ', h('strong', null, name)),
		h('button', { type: 'button', class: 'btn btn-small btn-quiet', onclick: signOut },
			'Sign out'));
}

function signOut() {
	setSession(null);
	go('#/catalog', notice('info', 'You are signed out. Your key was removed from this tab.'));
}

let generation = 0;
let navigated = false; // the first page keeps the browser's focus (skip link first)

async function route() {
	const { path, query } = parseHash();
	const gen = ++generation;
	const main = document.getElementById('main');
	if (path === '/' || path === '') {
		location.replace(home());
		return;
	}
	const r = routes.find((x) => x.re.test(path));
	const s = session();
	renderNav(path);
	const view = h('div', { class: 'view' });
	replace(main, flash, view);
	flash = null;
	if (!r) {
		document.title = 'Not found · tollgate';
		replace(view, h('h1', { tabindex: '-1' }, 'Page not found'),
			h('p', null, 'There is no such page in the portal. ',
				h('a', { href: '#/catalog' }, 'See the catalog.')));
		if (navigated)
			focusHeading(main);
		navigated = true;
		return;
	}
	if (r.who && !s) {
		go('#/signin?next=' + encodeURIComponent(path + (query.toString() ? '?' + query : '')),
			notice('info', 'Sign in with your API key to see this page.'));
		return;
	}
	if (r.who === 'admin' && s.role !== 'admin') {
		replace(view, h('h1', { tabindex: '-1' }, 'Not available'),
			notice('error', 'This page is for the provider: sign in with the admin token.'));
		return;
	}
	const params = path.match(r.re).slice(1);
	view.appendChild(h('p', { class: 'loading' }, 'Loading…'));
	try {
		await r.page({ view, params, query, session: s, current: () => gen === generation });
	} catch (err) {
		if (gen !== generation)
			return;
		replace(view, h('h1', { tabindex: '-1' }, 'Something went wrong'),
			notice('error', err && err.message ? err.message : String(err)));
	}
	if (gen === generation && navigated)
		focusHeading(main);
	navigated = true;
}

function focusHeading(main) {
	const h1 = main.querySelector('h1');
	if (h1) {
		h1.setAttribute('tabindex', '-1');
		h1.focus({ preventScroll: true });
	}
}

// --- sign-in ---------------------------------------------------------------------

async function signin(ctx) {
	const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off',
		spellcheck: 'false', autocapitalize: 'off', required: true });
	const show = h('input', { type: 'checkbox', id: 'show-credential' });
	show.addEventListener('change', () => { input.type = show.checked ? 'text' : 'password'; });
	const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
	const button = h('button', { type: 'submit', class: 'btn' }, 'Sign in');
	const form = h('form', { class: 'card form signin-form', novalidate: true },
		h('div', { class: 'field' },
			h('label', { for: 'credential' }, 'API key or admin token'),
			input,
			h('p', { class: 'hint', id: 'credential-hint' },
				'A consumer key starts with tg_. It stays in this browser tab only ' +
				'(session storage) and is sent to this server alone; closing the tab ' +
				'signs you out.')),
		h('div', { class: 'field field-inline' }, show,
			h('label', { for: 'show-credential' }, 'Show what I type')),
		button, status);
	input.id = 'credential';
	input.setAttribute('aria-describedby', 'credential-hint');
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const value = input.value.trim();
		if (!value) {
			replace(status, notice('error', 'Enter your API key (or the admin token) first.'));
			input.focus();
			return;
		}
		button.disabled = true;
		replace(status, h('p', null, 'Checking…'));
		try {
			let s;
			if (/^tg_[1-9]/.test(value)) {
				const consumer = await api('GET', '/v1/consumers/self', { credential: value });
				s = { credential: value, role: 'consumer', consumer };
			} else {
				await api('GET', '/v1/consumers', { credential: value, query: { limit: 1 } });
				s = { credential: value, role: 'admin', consumer: null };
			}
			input.value = '';
			setSession(s);
			const next = ctx.query.get('next');
			go(next && /^\/[a-z]/.test(next) ? '#' + next : home());
		} catch (err) {
			button.disabled = false;
			replace(status, notice('error', err.status === 401 ?
				'That key or token was not accepted. Check that it was copied whole and ' +
				'that it has not been revoked.' : err.message));
			input.focus();
		}
	});
	document.title = 'Sign in · tollgate';
	const s = ctx.session;
	replace(ctx.view, h('h1', null, 'Sign in'),
		s ? notice('info', 'You are signed in already; signing in again replaces it.') : null,
		form);
}

// --- start ---------------------------------------------------------------------------

setUnauthorizedHandler(() => {
	setSession(null);
	go('#/signin', notice('error', 'Your key or admin token is no longer accepted (revoked ' +
		'or expired), so you were signed out. Sign in again.'));
});
window.addEventListener('hashchange', route);
route();
