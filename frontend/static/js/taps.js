// The Data Taps page: the configured taps and where they send, each with
// a link to its live monitor.

import {api} from './api.js';
import {h} from './dom.js';

export async function render(main, _params, ctx) {
  ctx.title('Data Taps');
  const list = await api('GET', '/api/taps');
  main.append(h('h1', {}, 'Data Taps'),
    h('p', {}, 'Cells send to a tap with ', h('code', {}, 'DataTaps.SendMessage(msg, "Alerts")'), '; a monitor shows its messages as they arrive.'));
  if (!list.length) {
    main.append(h('p', {}, 'This server has no taps configured (flowlab serve --taps, or --demo for the Alerts tap on the embedded broker).'));
    return null;
  }
  main.append(h('div', {class: 'scroll'}, h('table', {class: 'list'},
    h('thead', {}, h('tr', {}, ['Tap', 'Topic', 'Brokers', 'Security', 'Monitor'].map((t) => h('th', {scope: 'col'}, t)))),
    h('tbody', {}, list.map((t) => h('tr', {},
      h('th', {scope: 'row'}, t.name),
      h('td', {}, h('code', {}, t.topic)),
      h('td', {}, t.brokers.join(', ')),
      h('td', {}, [t.tls ? 'TLS' : 'plaintext', t.sasl ? `SASL ${t.sasl}` : ''].filter(Boolean).join(', ')),
      h('td', {class: 'actions'},
        h('a', {class: 'button-link', href: `/taps/${encodeURIComponent(t.name)}`, 'aria-label': `Monitor ${t.name}`}, 'Monitor'),
        h('a', {class: 'button-link', href: `/taps/${encodeURIComponent(t.name)}/proctor`, 'aria-label': `Proctor view of ${t.name}`}, 'Proctor view'))))))));
  return null;
}
