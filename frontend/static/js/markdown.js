// A small Markdown renderer for Markdown cells and text/markdown outputs:
// headings, paragraphs, emphasis, code spans and fenced blocks, lists,
// block quotes, rules, links and images. It builds DOM nodes, so text
// never becomes markup; links keep to http(s), mailto and same-site URLs.

import {h} from './dom.js';

/** markdown renders src into a <div class="markdown">. */
export function markdown(src) {
  const out = h('div', {class: 'markdown'});
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    let m;
    if (!line.trim()) { i++; continue; }
    if ((m = line.match(/^\s*(```|~~~)\s*(\S*)/))) {
      const fence = m[1];
      const body = [];
      for (i++; i < lines.length && !lines[i].trim().startsWith(fence); i++) body.push(lines[i]);
      i++;
      out.append(h('pre', {}, h('code', {class: m[2] ? `language-${m[2]}` : ''}, body.join('\n'))));
      continue;
    }
    if ((m = line.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/))) {
      out.append(h('h' + m[1].length, {}, inline(m[2])));
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) { out.append(h('hr')); i++; continue; }
    if (/^\s*>/.test(line)) {
      const body = [];
      for (; i < lines.length && /^\s*>/.test(lines[i]); i++) body.push(lines[i].replace(/^\s*>\s?/, ''));
      out.append(h('blockquote', {}, markdown(body.join('\n')).childNodes));
      continue;
    }
    if ((m = line.match(/^\s*([-*+]|\d+[.)])\s+/))) {
      const ordered = /\d/.test(m[1]);
      const list = h(ordered ? 'ol' : 'ul');
      while (i < lines.length && (m = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/)) && /\d/.test(m[1]) === ordered) {
        const item = [m[2]];
        for (i++; i < lines.length && /^\s{2,}\S/.test(lines[i]) && !/^\s*([-*+]|\d+[.)])\s+/.test(lines[i]); i++) item.push(lines[i].trim());
        list.append(h('li', {}, inline(item.join(' '))));
      }
      out.append(list);
      continue;
    }
    if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{3,}/.test(lines[i + 1])) {
      const cells = (l) => l.trim().replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
      const head = cells(line);
      i += 2;
      const rows = [];
      for (; i < lines.length && /^\s*\|/.test(lines[i]); i++) rows.push(cells(lines[i]));
      out.append(h('div', {class: 'scroll-x'}, h('table', {},
        h('thead', {}, h('tr', {}, head.map((c) => h('th', {}, inline(c))))),
        h('tbody', {}, rows.map((r) => h('tr', {}, r.map((c) => h('td', {}, inline(c)))))))));
      continue;
    }
    const para = [];
    for (; i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\s*(```|~~~)|\s*>|\s*([-*+]|\d+[.)])\s)/.test(lines[i]); i++) para.push(lines[i].trim());
    if (!para.length) { para.push(line.trim()); i++; }
    out.append(h('p', {}, inline(para.join(' '))));
  }
  return out;
}

function safeURL(url) {
  try {
    const u = new URL(url, location.href);
    if (['http:', 'https:', 'mailto:'].includes(u.protocol)) return u.href;
  } catch { /* not a URL */ }
  return null;
}

const inlineRe = /(`+)([\s\S]*?)\1|!\[([^\]]*)\]\(([^)\s]+)\)|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_/g;

/** inline renders one paragraph's inline Markdown as nodes. */
function inline(text) {
  const nodes = [];
  let last = 0;
  for (const m of text.matchAll(inlineRe)) {
    if (m.index > last) nodes.push(text.slice(last, m.index));
    last = m.index + m[0].length;
    if (m[1]) nodes.push(h('code', {}, m[2].trim()));
    else if (m[4] !== undefined) {
      const src = safeURL(m[4]) || (m[4].startsWith('data:image/') ? m[4] : null);
      nodes.push(src ? h('img', {src, alt: m[3]}) : m[0]);
    } else if (m[6] !== undefined) {
      const href = safeURL(m[6]);
      nodes.push(href ? h('a', {href, rel: 'noopener noreferrer', target: '_blank'}, inline(m[5])) : m[5]);
    } else if (m[7] || m[8]) nodes.push(h('strong', {}, inline(m[7] || m[8])));
    else nodes.push(h('em', {}, inline(m[9] || m[10])));
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}
