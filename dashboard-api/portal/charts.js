// charts.js - small SVG charts drawn by hand: a time series as bars or lines,
// and a horizontal share bar. Colours come from style.css classes (no inline
// style: the Content-Security-Policy allows none).
import { h, s } from './dom.js';

const L = 62, R = 14, T = 14, B = 30;

// a "nice" upper bound for the axis: 1, 2, 2.5 or 5 times a power of ten
function niceMax(v) {
	if (!(v > 0))
		return 1;
	const p = Math.pow(10, Math.floor(Math.log10(v)));
	for (const m of [1, 2, 2.5, 5, 10])
		if (v <= m * p)
			return m * p;
	return 10 * p;
}

function tickLabel(d, granularity, spanDays) {
	const iso = d.toISOString();
	if (granularity === 'day')
		return iso.slice(5, 10);
	if (spanDays > 1)
		return iso.slice(5, 10) + ' ' + iso.slice(11, 16);
	return iso.slice(11, 16);
}

/*
 * timeChart({label, times: [Date], series: [{name, values, cls}], kind: 'bar' | 'line',
 *            granularity, format: (v) => text}) - a figure with the chart and its legend.
 * width: the chart's width in CSS pixels (its text then shows at its own size).
 * Bars: the series are drawn over each other (the first the tallest: requests, then
 * refused). Lines: null values leave a gap.
 */
export function timeChart(o) {
	const W = Math.round(Math.max(280, Math.min(720, o.width || 720)));
	const H = Math.round(Math.max(190, Math.min(260, W * 0.42)));
	const n = o.times.length;
	const pw = W - L - R, ph = H - T - B;
	const all = o.series.flatMap((x) => x.values).filter((v) => v !== null && v !== undefined);
	const top = niceMax(Math.max(0, ...all));
	const x = (i) => L + (i + 0.5) * (pw / Math.max(n, 1));
	const y = (v) => T + ph - (v / top) * ph;
	const fmt = o.format || ((v) => String(v));
	const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
		'aria-label': o.label }, s('title', null, o.label));

	// grid and y axis
	for (let k = 0; k <= 4; k++) {
		const v = (top * k) / 4, yy = y(v);
		svg.appendChild(s('line', { x1: L, x2: W - R, y1: yy, y2: yy, class: 'grid' }));
		svg.appendChild(s('text', { x: L - 6, y: yy + 4, class: 'axis axis-y' }, fmt(v)));
	}
	// x labels: about six of them
	const spanDays = n > 1 ? (o.times[n - 1] - o.times[0]) / 86400000 : 0;
	const every = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((W - L) / 95))));
	for (let i = 0; i < n; i += every)
		svg.appendChild(s('text', { x: x(i), y: H - 8, class: 'axis axis-x' },
			tickLabel(o.times[i], o.granularity, spanDays)));
	svg.appendChild(s('line', { x1: L, x2: W - R, y1: T + ph, y2: T + ph, class: 'baseline' }));

	if (o.kind === 'bar') {
		const bw = Math.max(1, (pw / Math.max(n, 1)) * 0.8);
		for (const ser of o.series) {
			const g = s('g', { class: 'bars ' + ser.cls });
			ser.values.forEach((v, i) => {
				if (!v)
					return;
				const yy = y(v);
				g.appendChild(s('rect', { x: x(i) - bw / 2, y: yy, width: bw,
					height: Math.max(0.5, T + ph - yy) },
				s('title', null, `${tickLabel(o.times[i], o.granularity, 2)} UTC: ${fmt(v)} ${ser.name}`)));
			});
			svg.appendChild(g);
		}
	} else {
		for (const ser of o.series) {
			let d = '', pen = false;
			ser.values.forEach((v, i) => {
				if (v === null || v === undefined) {
					pen = false;
					return;
				}
				d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1) + ' ';
				pen = true;
			});
			svg.appendChild(s('path', { d: d.trim() || 'M0 0', class: 'line ' + ser.cls }));
			// points, so a single sample still shows, with its value on hover
			const g = s('g', { class: 'dots ' + ser.cls });
			ser.values.forEach((v, i) => {
				if (v === null || v === undefined)
					return;
				g.appendChild(s('circle', { cx: x(i), cy: y(v), r: n > 120 ? 1 : 2.5 },
					s('title', null, `${tickLabel(o.times[i], o.granularity, 2)} UTC: ${fmt(v)} ${ser.name}`)));
			});
			svg.appendChild(g);
		}
	}
	const legend = h('ul', { class: 'legend' }, o.series.map((ser) =>
		h('li', null, h('span', { class: 'swatch ' + ser.cls, 'aria-hidden': 'true' }), ser.name)));
	return h('figure', { class: 'chart-figure' }, h('figcaption', null, o.label), svg, legend);
}

// shareBar(ratio) - a thin bar showing a share of 0..1 (decorative: the number is beside it)
export function shareBar(ratio) {
	const w = Math.max(0, Math.min(1, ratio || 0)) * 100;
	return s('svg', { viewBox: '0 0 100 8', class: 'share', 'aria-hidden': 'true',
		preserveAspectRatio: 'none' },
	s('rect', { x: 0, y: 0, width: 100, height: 8, class: 'share-bg' }),
	s('rect', { x: 0, y: 0, width: w, height: 8, class: 'share-fg' }));
}
