// What the owner came for: revenue over time, best items, when the
// restaurant is busy, how people pay, and every transaction. Charts are
// SVG drawn here, from the API's figures.

import { el, money, percent, say, svg } from './dom.js';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function isoDate(date) { return date.toISOString().slice(0, 10); }

export function analyticsView(api) {
  const today = new Date();
  const from = el('input', { type: 'date', id: 'from', value: isoDate(new Date(today.getTime() - 29 * 864e5)) });
  const to = el('input', { type: 'date', id: 'to', value: isoDate(today) });
  const granularity = el('select', { id: 'granularity' }, ['day', 'week', 'month'].map((g) => el('option', { value: g }, g)));
  const show = el('button', { type: 'submit' }, 'Show');
  const totals = el('ul', { class: 'counters', id: 'totals' });
  const chart = el('div', { class: 'chart', id: 'revenue-chart' });
  const items = el('div', { class: 'scroll', id: 'top-items' });
  const heatmap = el('div', { id: 'hours' });
  const mix = el('div', { class: 'mix', id: 'payments' });
  const transactions = el('div', { class: 'scroll', id: 'transactions' });
  const detail = el('dialog', { id: 'transaction-detail', 'aria-labelledby': 'detail-title' });

  async function refresh(event) {
    event?.preventDefault();
    const period = `from=${from.value}&to=${to.value}`;
    try {
      const [summary, top, hours, payments, list] = await Promise.all([
        api.get(`/sales/summary?${period}&granularity=${granularity.value}`),
        api.get(`/sales/items?${period}&limit=10`),
        api.get(`/sales/hours?${period}`),
        api.get(`/sales/payments?${period}`),
        api.get(`/sales/transactions?${period}&limit=20`),
      ]);
      drawTotals(summary.totals);
      drawChart(summary);
      drawItems(top.items);
      drawHeatmap(hours.cells);
      drawMix(payments.items);
      drawTransactions(list, period);
    } catch (error) {
      say(error.message);
    }
  }

  function drawTotals(t) {
    totals.replaceChildren(...[['Net sales', money(t.net_sales)], ['Orders', t.orders], ['Average order', money(t.average_order)],
      ['Gross sales', money(t.gross_sales)], ['Discounts', money(t.discounts)], ['Tax', money(t.tax)], ['Total', money(t.total)]]
      .map(([name, value]) => el('li', {}, el('strong', {}, value), name)));
  }

  function drawChart(summary) {
    const buckets = summary.buckets;
    const max = Math.max(1, ...buckets.map((b) => Number(b.net_sales)));
    const width = 640; const height = 220; const pad = 28;
    const step = (width - pad) / Math.max(1, buckets.length);
    const bars = buckets.map((b, i) => {
      const h = ((height - pad) * Math.max(0, Number(b.net_sales))) / max;
      return svg('rect', { class: 'bar', x: pad + i * step + 1, y: height - pad - h, width: Math.max(1, step - 2), height: h },
        svg('title', {}, `${b.start}: ${money(b.net_sales)} net, ${b.orders} orders`));
    });
    const every = Math.ceil(buckets.length / 8);
    const labels = buckets.map((b, i) => (i % every ? null : svg('text', { x: pad + i * step, y: height - 8 }, b.start.slice(5))));
    chart.replaceChildren(svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `Net sales by ${summary.granularity} from ${summary.from} to ${summary.to}; highest ${money(max)}` },
    svg('text', { x: 0, y: 12 }, money(max)), bars, labels));
  }

  function drawItems(rows) {
    items.replaceChildren(el('table', {},
      el('thead', {}, el('tr', {}, el('th', {}, 'Item'), el('th', {}, 'Category'), el('th', { class: 'num' }, 'Orders'),
        el('th', { class: 'num' }, 'Quantity'), el('th', { class: 'num' }, 'Net sales'), el('th', { class: 'num' }, 'Share'))),
      el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, r.item_name), el('td', {}, r.category ?? '—'),
        el('td', { class: 'num' }, r.orders), el('td', { class: 'num' }, r.quantity),
        el('td', { class: 'num' }, money(r.net_sales)), el('td', { class: 'num' }, percent(r.share)))))));
  }

  function drawHeatmap(cells) {
    const max = Math.max(1, ...cells.map((c) => c.orders));
    const grid = [el('div', {}, '')];
    for (let hour = 0; hour < 24; hour += 1) grid.push(el('div', { 'aria-hidden': 'true' }, hour % 3 ? '' : hour));
    WEEKDAYS.forEach((day, w) => {
      grid.push(el('div', {}, day));
      for (let hour = 0; hour < 24; hour += 1) {
        const cell = cells[w * 24 + hour];
        const alpha = cell.orders / max;
        grid.push(el('div', {
          style: `background: rgba(31, 95, 191, ${alpha.toFixed(3)}); color: ${alpha > 0.5 ? '#fff' : 'inherit'}`,
          title: `${day} ${hour}:00 — ${cell.orders} orders, ${money(cell.net_sales)} net`,
          'aria-label': `${day} ${hour}:00, ${cell.orders} orders`,
        }, cell.orders || ''));
      }
    });
    heatmap.replaceChildren(el('div', { class: 'heatmap', role: 'img', 'aria-label': 'Orders by weekday and hour' }, grid));
  }

  function drawMix(methods) {
    mix.replaceChildren(el('table', {}, el('tbody', {}, methods.map((m) => el('tr', {},
      el('th', { scope: 'row' }, m.payment_method.replace('_', ' ')),
      el('td', { style: 'width: 50%' }, el('div', { class: 'bar', style: `width: ${(m.share * 100).toFixed(1)}%` })),
      el('td', { class: 'num' }, percent(m.share)), el('td', { class: 'num' }, money(m.total)))))));
  }

  function drawTransactions(page, period) {
    const body = el('tbody', {});
    const add = (rows) => body.append(...rows.map((t) => el('tr', {
      tabindex: 0,
      onclick: () => open(t.id),
      onkeydown: (event) => { if (event.key === 'Enter') open(t.id); },
    }, el('td', {}, new Date(t.ordered_at).toLocaleString()), el('td', {}, t.order_id), el('td', { class: 'num' }, t.item_count),
    el('td', {}, t.payment_method.replace('_', ' ')), el('td', { class: 'num' }, money(t.total)))));
    add(page.items);
    let cursor = page.next_cursor;
    const more = el('button', { type: 'button', class: 'secondary', hidden: !cursor }, 'More transactions');
    more.addEventListener('click', async () => {
      const next = await api.get(`/sales/transactions?${period}&limit=20&cursor=${cursor}`);
      add(next.items);
      cursor = next.next_cursor;
      more.hidden = !cursor;
    });
    transactions.replaceChildren(el('table', {}, el('thead', {}, el('tr', {},
      ['When', 'Order', 'Items', 'Payment', 'Total'].map((h) => el('th', {}, h)))), body), more);
  }

  async function open(id) {
    const t = await api.get(`/sales/transactions/${encodeURIComponent(id)}`);
    detail.replaceChildren(
      el('h2', { id: 'detail-title' }, `Order ${t.order_id}`),
      el('p', {}, `${new Date(t.ordered_at).toLocaleString()} · ${t.payment_method.replace('_', ' ')} · total ${money(t.total)}`),
      el('table', {}, el('thead', {}, el('tr', {}, ['Item', 'Category', 'Qty', 'Unit price', 'Discount', 'Tax', 'Amount'].map((h) => el('th', {}, h)))),
        el('tbody', {}, t.items.map((i) => el('tr', {}, el('td', {}, i.item_name), el('td', {}, i.category ?? '—'), el('td', { class: 'num' }, i.quantity),
          el('td', { class: 'num' }, i.unit_price), el('td', { class: 'num' }, money(i.discount)), el('td', { class: 'num' }, money(i.tax)),
          el('td', { class: 'num' }, money(i.line_total)))))),
      el('button', { type: 'button', onclick: () => detail.close() }, 'Close'));
    detail.showModal();
  }

  const form = el('form', { class: 'row', onsubmit: refresh },
    el('div', {}, el('label', { for: 'from' }, 'From'), from),
    el('div', {}, el('label', { for: 'to' }, 'To'), to),
    el('div', {}, el('label', { for: 'granularity' }, 'By'), granularity),
    el('div', {}, show));
  refresh();
  return el('div', {},
    el('section', { class: 'card', 'aria-labelledby': 'analytics-title' }, el('h1', { id: 'analytics-title' }, 'Sales'), form, totals),
    el('section', { class: 'card', 'aria-labelledby': 'chart-title' }, el('h2', { id: 'chart-title' }, 'Net sales'), chart),
    el('section', { class: 'card', 'aria-labelledby': 'items-title' }, el('h2', { id: 'items-title' }, 'Top items'), items),
    el('section', { class: 'card', 'aria-labelledby': 'hours-title' }, el('h2', { id: 'hours-title' }, 'Busy hours'), heatmap),
    el('section', { class: 'card', 'aria-labelledby': 'payments-title' }, el('h2', { id: 'payments-title' }, 'Payment mix'), mix),
    el('section', { class: 'card', 'aria-labelledby': 'transactions-title' }, el('h2', { id: 'transactions-title' }, 'Transactions'), transactions),
    detail);
}
