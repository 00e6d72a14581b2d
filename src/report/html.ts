// the page shell every report shares: one self-contained html document with
// its css inline, so a page opens from disk or an e-mail with no network.

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

// text and attribute values both go through this; the five characters cover both
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// anchors for in-page links: lowercase, [a-z0-9-] only, never empty
export function slug(text: string): string {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'section';
}

export interface TableOptions {
  className?: string;
  // indices of columns that hold numbers: right-aligned, tabular digits
  numeric?: number[];
  // rows to mark (e.g. the best result)
  highlight?: number[];
}

// cells are already html (callers escape text and may add markup)
export function htmlTable(header: string[], rows: string[][], opts: TableOptions = {}): string {
  const numeric = new Set(opts.numeric ?? []);
  const highlight = new Set(opts.highlight ?? []);
  const cls = (i: number) => (numeric.has(i) ? ' class="num"' : '');
  const head = header.map((h, i) => `<th${cls(i)}>${h}</th>`).join('');
  const body = rows
    .map((r, ri) => `<tr${highlight.has(ri) ? ' class="best"' : ''}>${r.map((c, i) => `<td${cls(i)}>${c}</td>`).join('')}</tr>`)
    .join('\n');
  return `<table${opts.className ? ` class="${escapeHtml(opts.className)}"` : ''}><thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

export interface PageOptions {
  title: string;
  subtitle?: string; // html
  sections: Array<{ id: string; heading: string; body: string }>;
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d2430; background: #f6f7f9; }
header { background: #1d2430; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; font-weight: 600; }
header .sub { color: #c5ccd8; font-size: 13px; }
header .sub code { color: #fff; }
nav { padding: 8px 32px; background: #e9ecf1; border-bottom: 1px solid #d5dae2; font-size: 13px; }
nav a { margin-right: 16px; color: #2457a6; text-decoration: none; }
nav a:hover { text-decoration: underline; }
main { padding: 8px 32px 48px; max-width: 1280px; }
section { background: #fff; border: 1px solid #dde1e8; border-radius: 6px; padding: 16px 20px; margin: 18px 0; }
section h2 { margin: 0 0 12px; font-size: 18px; font-weight: 600; }
h3 { font-size: 15px; margin: 18px 0 8px; font-weight: 600; }
p.note { color: #56607a; font-size: 13px; margin: 6px 0 10px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e6ec; text-align: left; vertical-align: top; }
th { background: #f0f2f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tr.best td { background: #e6f4e6; font-weight: 600; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: 12px; color: #56607a; margin-top: 4px; }
svg.chart { display: block; background: #fff; }
img.pixels { image-rendering: pixelated; display: block; }
.grid-row { display: flex; align-items: center; gap: 12px; margin: 4px 0; }
.grid-row .label { width: 90px; font-weight: 600; text-align: right; }
.pairs { display: flex; flex-wrap: wrap; gap: 18px; }
.pairs figure { border: 1px solid #e3e6ec; padding: 6px; border-radius: 4px; }
.warn { color: #a33; font-weight: 600; }
.ok { color: #276e27; font-weight: 600; }
details summary { cursor: pointer; color: #2457a6; font-size: 13px; }
`;

export function renderPage(opts: PageOptions): string {
  const nav = opts.sections.map((s) => `<a href="#${escapeHtml(s.id)}">${escapeHtml(s.heading)}</a>`).join('');
  const sections = opts.sections
    .map((s) => `<section id="${escapeHtml(s.id)}">\n<h2>${escapeHtml(s.heading)}</h2>\n${s.body}\n</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${escapeHtml(opts.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(opts.title)}</h1>${opts.subtitle ? `<div class="sub">${opts.subtitle}</div>` : ''}</header>
<nav>${nav}</nav>
<main>
${sections}
</main>
</body>
</html>
`;
}
