// portal.test.mjs - the developer portal in a real browser: playwright-core
// driving Debian's Chromium (headless, a fresh profile) against the
// tollgate-api, Postgres, Redis and sandboxes that tests/integration/test-portal.sh
// started and seeded. Each page's figures are compared with what the REST API
// answers for the same request; each step saves screenshots (laptop and
// phone widths) in $PORTAL_RESULTS, and fails on a console error, an uncaught
// exception, a dialog, or a failed or 4xx/5xx request that the step did not
// cause on purpose.
//
// Prints "ok - ..." / "FAIL - ..." lines and "N passed, M failed" last; exits
// non-zero when anything failed.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const env = process.env;
const BASE = env.PORTAL_BASE;
const KEY = env.PORTAL_KEY;
const C1 = env.PORTAL_CONSUMER;
const ADMIN = env.PORTAL_ADMIN;
const API = env.PORTAL_API;
const API_GATED = env.PORTAL_API_GATED;
const API_XSS = env.PORTAL_API_XSS;
const INVOICE = env.PORTAL_INVOICE;
const RESULTS = env.PORTAL_RESULTS;
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
// test-portal.sh's seed: Ada's requests in the last 24 hours, and in the last 7 days
const SEEDED_24H = 216;
const SEEDED_7D = 293;

let passed = 0, failed = 0;
function ok(what) {
	passed++;
	console.log('ok   - ' + what);
}
function notOk(what, ...details) {
	failed++;
	console.log('FAIL - ' + what);
	for (const d of details)
		console.log('       ' + d);
}
function eq(what, expected, seen) {
	const e = JSON.stringify(expected), s = JSON.stringify(seen);
	if (e === s)
		ok(what + ' (' + (s.length > 70 ? s.slice(0, 67) + '...' : s) + ')');
	else
		notOk(what, 'expected: ' + e.slice(0, 600), 'seen:     ' + s.slice(0, 600));
}
function truthy(what, cond, detail) {
	if (cond)
		ok(what);
	else
		notOk(what, detail === undefined ? '' : String(detail).slice(0, 600));
}
const num = (text) => Number(String(text).replace(/[^0-9.-]/g, ''));

// the API directly (no browser), to compare the pages with
async function apiGet(path, credential = KEY) {
	const headers = credential ? { Authorization: 'Bearer ' + credential } : {};
	const r = await fetch(BASE + path, { headers });
	if (!r.ok)
		throw new Error(`GET ${path}: HTTP ${r.status} ${await r.text()}`);
	return r.json();
}
async function apiStatus(path, credential) {
	const r = await fetch(BASE + path, { headers: { Authorization: 'Bearer ' + credential } });
	await r.arrayBuffer();
	return r.status;
}

// --- what a page may not do ---------------------------------------------------------
const deliberate = []; // {status, url} failures a step causes on purpose
let problems = [];
const isDeliberate = (url, status) => deliberate.some((d) => d.url.test(url) &&
	(status === undefined || d.status === status));

function watch(page, label) {
	page.on('console', (m) => {
		if (m.type() !== 'error')
			return;
		const where = (m.location() && m.location().url) || '';
		if (/^Failed to load resource/.test(m.text()) && isDeliberate(where))
			return;
		problems.push(`${label}: console error: ${m.text()} (${where})`);
	});
	page.on('pageerror', (e) => problems.push(`${label}: uncaught exception: ${e.message}`));
	page.on('requestfailed', (r) => problems.push(`${label}: request failed: ${r.method()} ${r.url()}: ` +
		(r.failure() ? r.failure().errorText : '?')));
	page.on('response', (r) => {
		if (r.status() >= 400 && !isDeliberate(r.url(), r.status()))
			problems.push(`${label}: HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
	});
	page.on('dialog', (d) => {
		problems.push(`${label}: a dialog opened: ${d.message()}`);
		d.dismiss().catch(() => {});
	});
}

// every form control has a label (or an aria-label)
async function checkLabels(page, what) {
	const bare = await page.$$eval('input, select, textarea, button', (els) => els
		.filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) &&
			!e.getAttribute('aria-label') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
		.map((e) => e.outerHTML.slice(0, 120)));
	eq(what + ': every control has a label', [], bare);
}

async function shot(page, name, phone = true) {
	await page.screenshot({ path: join(RESULTS, name + '-laptop.png'), fullPage: true });
	if (phone) {
		await page.setViewportSize(PHONE);
		await page.waitForTimeout(150);
		await page.screenshot({ path: join(RESULTS, name + '-phone.png'), fullPage: true });
		// the page is no wider than the phone (tables scroll inside their own box)
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		truthy(name + ': nothing wider than a phone', overflow <= 1, 'overflow of ' + overflow + ' px');
		await page.setViewportSize(LAPTOP);
	}
}

async function step(name, fn) {
	console.log('# ' + name);
	problems = [];
	try {
		await fn();
	} catch (err) {
		notOk(name + ': ran to its end', String(err && err.stack ? err.stack : err).split('\n').slice(0, 6).join('\n       '));
	}
	await new Promise((r) => setTimeout(r, 200)); // late console messages
	if (problems.length)
		notOk(name + ': no console error, exception or failed request', ...problems);
	else
		ok(name + ': no console error, exception or failed request');
	deliberate.length = 0;
}

async function hashGo(page, hash) {
	await page.evaluate((h) => { location.hash = h; }, hash);
}

// --- start the browser ------------------------------------------------------------------
const profile = mkdtempSync(join(env.PORTAL_TMP || '/tmp', 'chromium-profile-'));
const context = await chromium.launchPersistentContext(profile, {
	executablePath: env.PORTAL_CHROMIUM || '/usr/bin/chromium',
	headless: true,
	viewport: LAPTOP,
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
context.setDefaultTimeout(15000);
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
const page = context.pages()[0] || await context.newPage();
watch(page, 'consumer tab');

try {
	await step('catalog, signed out', async () => {
		await page.goto(BASE + '/portal/');
		await page.waitForSelector('.api-card');
		eq('/portal/ opens the catalog', '#/catalog', new URL(page.url()).hash);
		const apis = (await apiGet('/v1/apis?limit=100', null)).data;
		const cards = await page.$$eval('.api-card', (els) => els.map((e) => ({
			id: e.dataset.apiId,
			name: e.querySelector('h2 a').textContent,
			version: e.querySelector('.version').textContent,
			badges: [...e.querySelectorAll('.badge')].map((b) => b.textContent),
			text: e.textContent,
		})));
		eq('every API of GET /v1/apis is listed, in order', apis.map((a) => [a.id, a.name, 'v' + a.version]),
			cards.map((c) => [c.id, c.name, c.version]));
		const card = (id) => cards.find((c) => c.id === id) || { badges: [], text: '' };
		eq('an API in service is marked active', ['Active'], card(API).badges);
		truthy('... with its SLA targets', card(API).text.includes('99.5 % uptime, p99 ≤ 250 ms'), card(API).text);
		eq('a deprecated API shows when, and its sunset date', ['Deprecated since 2025-01-15', 'Sunset on 2099-06-30'],
			card(API_GATED).badges);
		eq('a retired API shows its sunset as passed', ['Sunset since 2025-12-31'], card(API_XSS).badges);
		eq('markup in an API\'s name is shown as text', 'Legacy <script>alert(1)</script>', card(API_XSS).name);
		truthy('... and in its description', card(API_XSS).text.includes('<img src=x onerror=alert(2)> old & retired'),
			card(API_XSS).text);
		eq('... none of it became an element', 0, await page.$$eval('main img, main script', (e) => e.length));
		await checkLabels(page, 'catalog');
		await shot(page, '01-catalog');
	});

	await step('sign in', async () => {
		await page.getByRole('link', { name: 'Sign in', exact: true }).click();
		await page.waitForSelector('form.signin-form');
		deliberate.push({ status: 401, url: /\/v1\/consumers\/self$/ });
		await page.getByLabel('API key or admin token').fill('tg_1' + 'A'.repeat(39));
		await page.keyboard.press('Enter');
		const err = await page.waitForSelector('.signin-form .notice-error');
		truthy('a wrong key is refused in plain words', /not accepted/.test(await err.textContent()),
			await err.textContent());
		await checkLabels(page, 'sign-in');
		await shot(page, '02-signin-refused', false);
		await page.getByLabel('API key or admin token').fill(KEY);
		await page.getByRole('button', { name: 'Sign in' }).click();
		await page.waitForSelector('.tiles');
		eq('a consumer lands on its usage', '#/usage', new URL(page.url()).hash);
		const self = await apiGet('/v1/consumers/self');
		truthy('the header names the consumer', (await page.textContent('#who')).includes(`${self.name} (consumer ${C1})`),
			await page.textContent('#who'));
		const store = await page.evaluate(() => ({ session: JSON.stringify(sessionStorage),
			local: localStorage.length, cookie: document.cookie }));
		truthy('the key is in session storage', store.session.includes(KEY));
		eq('... and nowhere else: no local storage, no cookie', [0, ''], [store.local, store.cookie]);
		eq('... no cookie at all in the browser', 0, (await context.cookies()).length);
		truthy('... nor in the address', !page.url().includes(KEY));
	});

	async function checkUsage(label, expectedRequests) {
		const range = await page.$eval('.range-shown', (e) => ({ ...e.dataset }));
		const q = `from=${encodeURIComponent(range.from)}&to=${encodeURIComponent(range.to)}`;
		const base = `/v1/consumers/${C1}/usage`;
		const [series, endpoints, geo, rt] = await Promise.all([
			apiGet(`${base}?${q}&granularity=${range.granularity}`),
			apiGet(`${base}/endpoints?${q}&limit=10`),
			apiGet(`${base}/geo?${q}`),
			apiGet(`${base}/realtime`),
		]);
		const sum = (k) => series.data.reduce((a, p) => a + p[k], 0);
		const tiles = await page.$$eval('.tile', (els) => Object.fromEntries(els.map((e) => [e.dataset.stat, {
			value: e.querySelector('.tile-value').textContent,
			sub: (e.querySelector('.tile-sub') || { textContent: '' }).textContent }])));
		eq(`${label}: requests on the page = the API's series`, sum('requests'), num(tiles.requests.value));
		if (expectedRequests !== undefined)
			eq(`${label}: ... which are the seeded requests`, expectedRequests, sum('requests'));
		eq(`${label}: refused = the API's`, sum('refused'), num(tiles.refused.value));
		const admitted = sum('requests') - sum('refused');
		const pct = (n) => (admitted ? (n / admitted * 100).toFixed(1) + ' %' : '–');
		eq(`${label}: 4xx rate and count = the API's`, [pct(sum('errors_4xx')), sum('errors_4xx')],
			[tiles.rate4xx.value, num(tiles.rate4xx.sub)]);
		const m5 = tiles.rate5xx.sub.match(/^([\d,]+) server errors, ([\d,]+) unanswered/) || [];
		eq(`${label}: 5xx rate, count and unanswered = the API's`, [pct(sum('errors_5xx')), sum('errors_5xx'), sum('unanswered')],
			[tiles.rate5xx.value, num(m5[1]), num(m5[2])]);
		eq(`${label}: one bar per step with requests`, series.data.filter((p) => p.requests > 0).length,
			await page.$$eval('.chart-figure:first-child .bars.s-requests rect', (e) => e.length));
		eq(`${label}: the latency chart has the p99 points`, series.data.filter((p) => p.p99_ms !== null).length,
			await page.$$eval('.dots.s-p99 circle', (e) => e.length));
		eq(`${label}: top endpoints = the API's`,
			endpoints.data.map((e) => [e.method, e.endpoint, e.requests]),
			await page.$$eval('.endpoints-table tbody tr', (rows) => rows.map((r) => [r.dataset.method,
				r.dataset.endpoint, Number(r.cells[2].textContent.replace(/,/g, ''))])));
		eq(`${label}: countries = the API's`, geo.data.map((g) => [g.country, g.requests]),
			await page.$$eval('.geo-table tbody tr', (rows) => rows.map((r) => [r.dataset.country,
				Number(r.cells[1].textContent.replace(/,/g, ''))])));
		eq(`${label}: today's realtime counts = the API's`, [rt.requests, rt.requests, rt.apis.map((a) => a.requests)],
			[num(tiles.today.value), num(await page.textContent('.realtime-table tr.total td')),
				await page.$$eval('.realtime-table tbody tr[data-api-id]', (rows) =>
					rows.map((r) => Number(r.cells[1].textContent.replace(/,/g, ''))))]);
	}

	async function pickRange(fill) {
		const before = await page.$eval('.range-shown', (e) => e.dataset.from + e.dataset.to + e.dataset.granularity);
		await fill();
		await page.getByRole('button', { name: 'Show' }).click();
		await page.waitForFunction((b) => {
			const e = document.querySelector('.range-shown');
			return e && e.dataset.from + e.dataset.to + e.dataset.granularity !== b && document.querySelector('.tiles');
		}, before);
	}

	await step('usage dashboard', async () => {
		await checkUsage('last 24 hours', SEEDED_24H);
		await checkLabels(page, 'usage');
		await shot(page, '03-usage-24h');
		await pickRange(() => page.getByLabel('Time range').selectOption('7d'));
		await checkUsage('last 7 days (picked)', SEEDED_7D);
		await shot(page, '03-usage-7d', false);
		const day = 86400000;
		const from = new Date(Math.floor(Date.now() / day) * day - 3 * day).toISOString().slice(0, 16);
		const to = new Date(Math.floor(Date.now() / day) * day + day).toISOString().slice(0, 16);
		await pickRange(async () => {
			await page.getByLabel('Time range').selectOption('custom');
			await page.getByLabel('From (UTC)').fill(from);
			await page.getByLabel('To (UTC)').fill(to);
			await page.getByLabel('Step').selectOption('day');
		});
		eq('a custom range is the one asked for', [from + ':00Z', to + ':00Z', 'day'],
			await page.$eval('.range-shown', (e) => [e.dataset.from, e.dataset.to, e.dataset.granularity]));
		await checkUsage('custom range, per day', SEEDED_7D);
		await shot(page, '03-usage-custom-day', false);
		await pickRange(() => page.getByLabel('Time range').selectOption('1h'));
		await checkUsage('last hour, per minute');
	});

	let created = null;
	await step('keys: create one, see it once, revoke it', async () => {
		await page.getByRole('link', { name: 'Keys', exact: true }).click();
		await page.waitForSelector('.keys-table');
		const before = (await apiGet(`/v1/consumers/${C1}/keys?limit=100`)).data;
		eq('the keys listed = the API\'s, with prefix and last use',
			before.map((k) => [k.id, k.prefix + '…', k.last_used_at ? 'used' : 'never']),
			await page.$$eval('.keys-table tbody tr', (rows) => rows.map((r) => [r.dataset.keyId,
				r.cells[0].querySelector('code').textContent, r.cells[4].textContent === 'never' ? 'never' : 'used'])));
		truthy('the key of this session is marked', (await page.textContent(`.keys-table tr[data-prefix="${KEY.slice(0, 8)}"]`))
			.includes('this session'));
		await checkLabels(page, 'keys');
		await page.getByLabel('Plan').selectOption({ index: 0 });
		await page.getByRole('button', { name: 'Create key' }).click();
		await page.waitForSelector('.secret-panel #new-key');
		created = await page.inputValue('#new-key');
		truthy('the new raw key is shown', /^tg_[1-9][0-9A-Za-z]{39}$/.test(created), created);
		truthy('... with the warning that it is shown once', /shown only this once/.test(await page.textContent('.secret-panel')));
		await page.getByRole('button', { name: 'Copy' }).click();
		await page.waitForFunction(() => document.querySelector('.copied').textContent !== '');
		eq('... and a copy button that copies it', created, await page.evaluate(() => navigator.clipboard.readText()));
		const after = (await apiGet(`/v1/consumers/${C1}/keys?limit=100`)).data;
		const mine = after.find((k) => k.prefix === created.slice(0, 8));
		truthy('the API lists the new key by its prefix', mine && after.length === before.length + 1);
		truthy('... never the raw key', !JSON.stringify(after).includes(created));
		eq('the new key works', C1, (await apiGet('/v1/consumers/self', created)).id);
		truthy('the new key is in the table', await page.$(`.keys-table tr[data-key-id="${mine.id}"]`) !== null);
		await shot(page, '04-keys-created');
		await page.reload();
		await page.waitForSelector('.keys-table');
		truthy('after a reload the raw key is gone from the page', !(await page.content()).includes(created));
		truthy('... and from the tab\'s storage', !(await page.evaluate(() => JSON.stringify(sessionStorage))).includes(created));

		const row = `.keys-table tr[data-key-id="${mine.id}"]`;
		await page.getByRole('button', { name: 'Revoke key ' + mine.prefix }).click();
		await page.click(`${row} button:has-text("Revoke now")`);
		await page.waitForSelector('.form-status .notice-ok');
		truthy('revoking says so', /is revoked/.test(await page.textContent('.form-status')));
		truthy('... and the table shows it revoked', /Revoked/.test(await page.textContent(`${row} .key-status`)));
		const k = (await apiGet(`/v1/consumers/${C1}/keys?limit=100`)).data.find((x) => x.id === mine.id);
		truthy('the API has it revoked', k && k.revoked_at);
		eq('the revoked key is refused', 401, await apiStatus('/v1/consumers/self', created));
		await shot(page, '05-keys-revoked');

		// rotate the other key: a replacement shown once, the old one on its grace period
		const other = (await apiGet(`/v1/consumers/${C1}/keys?limit=100`)).data
			.find((x) => !x.revoked_at && !x.expires_at && x.prefix !== KEY.slice(0, 8));
		await page.getByRole('button', { name: 'Rotate key ' + other.prefix }).click();
		await page.getByLabel('Old key stays valid for').selectOption('3600');
		await page.click(`.keys-table tr[data-key-id="${other.id}"] button:has-text("Rotate now")`);
		await page.waitForSelector('.secret-panel #new-key');
		const replacement = await page.inputValue('#new-key');
		const old = (await apiGet(`/v1/consumers/${C1}/keys?limit=100`)).data.find((x) => x.id === other.id);
		truthy('rotating shows the replacement once and gives the old key a grace period',
			/^tg_/.test(replacement) && old.expires_at && old.replaced_by &&
			/valid until/.test(await page.textContent(`.keys-table tr[data-key-id="${other.id}"] .key-status`)));
		await shot(page, '05-keys-rotated', false);
	});

	await step('an API\'s reference and "try it"', async () => {
		await page.getByRole('link', { name: 'Catalog', exact: true }).click();
		await page.getByRole('link', { name: 'Reference of Orders' }).click();
		await page.waitForSelector('.operation');
		const doc = await apiGet(`/v1/apis/${API}/openapi`, null);
		const ops = [];
		for (const [p, item] of Object.entries(doc.paths))
			for (const m of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])
				if (item[m])
					ops.push(m.toUpperCase() + ' ' + p);
		eq('every operation of the document is shown', ops,
			await page.$$eval('.operation h3', (hs) => hs.map((x) => x.textContent.replace(/\s+/g, ' ').trim())));
		const text = await page.textContent('main');
		for (const t of ['Health of the orders service', 'verbose', 'more detail', 'the order\'s id',
			'what was ordered', '"item": "tea"', 'over the rate limit', 'Order: object'])
			truthy(`the reference shows "${t}"`, text.includes(t));
		const codes = [];
		for (const item of Object.values(doc.paths))
			for (const m of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'])
				if (item[m])
					codes.push(...Object.keys(item[m].responses || {}));
		eq('responses with their status codes', codes,
			await page.$$eval('.response .status', (e) => e.map((x) => x.textContent)));
		await checkLabels(page, 'reference');

		await page.getByRole('button', { name: 'Try GET /v1/ok' }).click();
		eq('"try" fills the form', '/v1/ok', await page.inputValue('input[name="path"]'));
		await page.getByRole('button', { name: 'Send request' }).click();
		await page.waitForSelector('.try-result');
		eq('try it: the sandbox\'s answer, admitted', ['admitted', '200', 'ok'],
			[await page.getAttribute('.try-result', 'data-verdict'), await page.textContent('.try-status'),
				(await page.textContent('.try-body')).trim()]);
		truthy('... with the answer\'s headers', /content-type/.test(await page.textContent('.try-result table')));
		await shot(page, '06-try-admitted');

		await page.getByRole('button', { name: 'Try GET /v1/orders/{id}' }).click();
		eq('a path parameter is filled from its example', '/v1/orders/7', await page.inputValue('input[name="path"]'));
		await page.getByRole('button', { name: 'Send request' }).click();
		await page.waitForSelector('.try-result .try-status:text("404")');
		eq('the API\'s own 404 is admitted, not an error of the portal', 'admitted',
			await page.getAttribute('.try-result', 'data-verdict'));

		await hashGo(page, '#/apis/' + API_GATED);
		await page.waitForSelector('h1:has-text("Gated") >> xpath=..//form[contains(@class, "try-form")]');
		truthy('a deprecated API\'s page says since when and its sunset',
			/Deprecated since 2025-01-15\. Sunset on 2099-06-30/.test(await page.textContent('main .notice-warn')));
		await page.getByRole('button', { name: 'Try GET /over_limit' }).click();
		await page.getByRole('button', { name: 'Send request' }).click();
		await page.waitForSelector('.try-result');
		eq('an over-limit call shows as refused by the gateway, not as an error',
			['over_limit', '429', true, 0],
			[await page.getAttribute('.try-result', 'data-verdict'), await page.textContent('.try-status'),
				/Refused by the gateway \(over_limit\): You are over your plan's rate limit/.test(await page.textContent('.verdict-refused')),
				await page.$$eval('.try-out .notice-error', (e) => e.length)]);
		await shot(page, '07-try-refused');
	});

	await step('invoices', async () => {
		await page.getByRole('link', { name: 'Invoices', exact: true }).click();
		await page.waitForSelector('.invoices-table');
		const list = (await apiGet(`/v1/consumers/${C1}/invoices?limit=100`)).data;
		eq('the invoices = the API\'s', list.map((i) => [i.id, i.period, `${i.total} ${i.currency}`]),
			await page.$$eval('.invoices-table tbody tr', (rows) => rows.map((r) => [r.dataset.invoiceId,
				r.cells[0].textContent, r.cells[2].textContent])));
		const up = await apiGet(`/v1/consumers/${C1}/invoices/upcoming`);
		eq('this month so far = the upcoming invoice', `${up.total} ${up.currency}`, await page.textContent('.upcoming-total'));
		await shot(page, '08-invoices', false);
		const inv = await apiGet(`/v1/invoices/${INVOICE}`);
		await page.getByRole('link', { name: 'Invoice ' + inv.period }).click();
		await page.waitForSelector('.invoice-status');
		eq('the invoice\'s tier lines = the API\'s',
			inv.lines.map((l) => [l.description, l.quantity.toLocaleString('en-US'), `${l.amount} ${inv.currency}`]),
			await page.$$eval('.lines-table tr.line', (rows) => rows.map((r) => [r.cells[0].textContent,
				r.cells[1].textContent, r.cells[3].textContent])));
		eq('... its total and status', [`${inv.total} ${inv.currency}`, inv.status],
			[await page.textContent('.invoice-total'), await page.textContent('.invoice-status')]);
		truthy('... and its reconciliation', /The counts agree/.test(await page.textContent('.reconciliation')));
		await shot(page, '09-invoice');
	});

	await step('admin: alerts, SLA status, consumers and their invoices', async () => {
		const admin = await context.newPage();
		watch(admin, 'admin tab');
		await admin.goto(BASE + '/portal/#/catalog');
		await admin.waitForSelector('.api-card');
		truthy('a new tab is not signed in (session storage is per tab)',
			(await admin.textContent('#who')).includes('Sign in'));
		await admin.goto(BASE + '/portal/#/signin');
		await admin.getByLabel('API key or admin token').fill(ADMIN);
		await admin.getByRole('button', { name: 'Sign in' }).click();
		await admin.waitForSelector('.sla-table');
		eq('the admin lands on the overview', '#/admin', new URL(admin.url()).hash);
		const alerts = (await apiGet('/v1/alerts?state=open&limit=100', ADMIN)).data;
		eq('the open alerts = the API\'s', alerts.map((a) => a.id),
			await admin.$$eval('.alerts-table tbody tr', (rows) => rows.map((r) => r.dataset.alertId)));
		const sla = await apiGet(`/v1/apis/${API}/sla`, ADMIN);
		const slaRow = await admin.$eval(`.sla-table tr[data-api-id="${API}"]`, (r) => [...r.cells].map((c) => c.textContent));
		eq('SLA status of an API = the API\'s', [String(sla.requests), String(sla.breaches.length)], [slaRow[4], slaRow[5]]);
		truthy('... against its targets', /target 99\.5 %/.test(slaRow[2]) && /target 250 ms/.test(slaRow[3]), slaRow.join(' | '));
		truthy('the consumers are listed', (await admin.textContent('main')).includes('ada@example.com'));
		await checkLabels(admin, 'admin');
		await shot(admin, '10-admin');
		await admin.getByRole('link', { name: 'Invoices of Ada' }).click();
		await admin.waitForSelector('.invoices-table');
		eq('the admin sees Ada\'s invoices', [INVOICE],
			await admin.$$eval('.invoices-table tbody tr', (rows) => rows.map((r) => r.dataset.invoiceId)));
		await admin.click('.invoices-table a');
		await admin.waitForSelector('.invoice-status');
		eq('... and opens one', '18.35 USD', await admin.textContent('.invoice-total'));
		await admin.getByRole('link', { name: 'Admin', exact: true }).click();
		await admin.getByRole('link', { name: 'Usage of Ada' }).click();
		await admin.waitForSelector('.tiles');
		eq('... and her usage, the same as she sees it', String(SEEDED_24H),
			(await admin.textContent('.tile[data-stat="requests"] .tile-value')).replace(/,/g, ''));
		await shot(admin, '11-admin-usage-of-a-consumer', false);
		await admin.close();
	});

	await step('keyboard and sign-out', async () => {
		await page.goto(BASE + '/portal/#/catalog');
		await page.waitForSelector('.api-card');
		await page.reload(); // a fresh load: the browser's focus starts at the top
		await page.waitForSelector('.api-card');
		await page.keyboard.press('Tab');
		eq('the first Tab reaches "Skip to content"', 'Skip to content',
			await page.evaluate(() => document.activeElement.textContent));
		let reached = false;
		for (let i = 0; i < 20 && !reached; i++) {
			await page.keyboard.press('Tab');
			reached = await page.evaluate(() => document.activeElement.getAttribute('aria-label') === 'Reference of Orders');
		}
		truthy('Tab reaches an API\'s reference link', reached);
		await page.keyboard.press('Enter');
		await page.waitForSelector('.operation');
		eq('Enter opens it', '#/apis/' + API, new URL(page.url()).hash);
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForSelector('.notice-info:has-text("You are signed out")');
		eq('signing out empties the tab\'s storage', 0, await page.evaluate(() => sessionStorage.length));
		truthy('... and says so', /signed out/.test(await page.textContent('main')));
		await shot(page, '12-signed-out', false);
	});
} finally {
	await context.close();
	rmSync(profile, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
