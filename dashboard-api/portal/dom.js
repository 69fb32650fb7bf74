// dom.js - building the page from data without ever parsing it as HTML:
// every string from the API goes in as a text node or an attribute value, so
// it is shown, never run (the Content-Security-Policy is the second wall).

const SVG_NS = 'http://www.w3.org/2000/svg';

function append(el, child) {
	if (child === null || child === undefined || child === false)
		return;
	if (Array.isArray(child)) {
		for (const c of child)
			append(el, c);
		return;
	}
	el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
}

function setAttrs(el, attrs) {
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			el.addEventListener(k.slice(2), v);
		else if (k === 'dataset')
			Object.assign(el.dataset, v);
		else if (k === 'value' && 'value' in el)
			el.value = v;
		else
			el.setAttribute(k, v === true ? '' : String(v));
	}
}

// h('a', {href: '#/x', class: 'btn'}, 'text', child...) - an element
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

// s('rect', {x: 1}) - an SVG element
export function s(tag, attrs, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	setAttrs(el, attrs);
	append(el, children);
	return el;
}

export function clear(el) {
	while (el.firstChild)
		el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...children) {
	clear(el);
	append(el, children);
	return el;
}

// numbers as a person reads them: 12,345
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export function fmtInt(n) {
	return n === null || n === undefined ? '–' : intFmt.format(n);
}

export function fmtMs(ms) {
	if (ms === null || ms === undefined)
		return '–';
	return (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2)) + ' ms';
}

export function fmtPct(ratio) {
	if (ratio === null || ratio === undefined || !isFinite(ratio))
		return '–';
	return (ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 3 : 1) + ' %';
}

// "2026-11-28 10:05 UTC" (the API's times are UTC; so are the portal's)
export function fmtTime(iso) {
	if (!iso)
		return '–';
	const d = new Date(iso);
	if (isNaN(d))
		return String(iso);
	return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

export function fmtDate(iso) {
	if (!iso)
		return '–';
	const d = new Date(iso);
	return isNaN(d) ? String(iso) : d.toISOString().slice(0, 10);
}

// a table in a horizontally scrolling wrapper (phones), with a caption
export function table(caption, head, rows, attrs) {
	const names = head.map((c) => (typeof c === 'string' ? c : c.textContent));
	for (const tr of [].concat(rows)) {
		let i = 0;
		for (const cell of tr.children) {
			if (names[i] && !cell.hasAttribute('data-label'))
				cell.setAttribute('data-label', names[i]);
			i += Number(cell.getAttribute('colspan') || 1);
		}
	}
	return h('div', { class: 'table-wrap' },
		h('table', attrs || {},
			caption ? h('caption', null, caption) : null,
			h('thead', null, h('tr', null, head.map((c) =>
				typeof c === 'string' ? h('th', { scope: 'col' }, c) : c))),
			h('tbody', null, rows)));
}

export function field(label, control, hint) {
	const id = control.id || 'f-' + Math.random().toString(36).slice(2, 10);
	control.id = id;
	let hintEl = null;
	if (hint) {
		hintEl = h('p', { class: 'hint', id: id + '-hint' }, hint);
		control.setAttribute('aria-describedby', id + '-hint');
	}
	return h('div', { class: 'field' }, h('label', { for: id }, label), control, hintEl);
}

// a message box; kind: error | info | ok | warn
export function notice(kind, ...children) {
	return h('div', { class: 'notice notice-' + kind, role: kind === 'error' ? 'alert' : 'status' },
		children);
}

export function badge(kind, text) {
	return h('span', { class: 'badge badge-' + kind }, text);
}
