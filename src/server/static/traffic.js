// paas-router status page, traffic part: the chart series fetched from ./traffic (the whole
// window once, then only newer samples), sparklines and charts as inline SVG (no external asset,
// nothing the CSP forbids), sorting by traffic, the per-app detail view, and the change timeline.
// Values from the router are inserted with textContent only.
(function () {
  var SVG = 'http://www.w3.org/2000/svg';
  var store = { at: [], apps: {}, capacity: 180, intervalSeconds: 5 };

  function svgEl(tag, attrs) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, String(attrs[k]));
    });
    return node;
  }

  function nulls(n) {
    var out = new Array(n);
    for (var i = 0; i < n; i++) out[i] = null;
    return out;
  }

  /** Appends a /traffic answer to the store, keeping `capacity` samples per app. */
  function merge(doc) {
    store.intervalSeconds = doc.intervalSeconds;
    store.capacity = Math.max(1, Math.ceil(doc.windowSeconds / doc.intervalSeconds));
    var k = doc.at.length;
    if (k === 0) return;
    var before = store.at.length;
    store.at = store.at.concat(doc.at);
    Object.keys(store.apps).forEach(function (name) {
      var s = store.apps[name];
      var d = doc.apps[name];
      ['rate', 'errors', 'responseMs'].forEach(function (key) {
        s[key] = s[key].concat(d ? d[key] : nulls(k));
      });
    });
    Object.keys(doc.apps).forEach(function (name) {
      if (store.apps[name]) return;
      var d = doc.apps[name];
      store.apps[name] = { rate: nulls(before).concat(d.rate), errors: nulls(before).concat(d.errors), responseMs: nulls(before).concat(d.responseMs) };
    });
    var drop = store.at.length - store.capacity;
    if (drop > 0) {
      store.at = store.at.slice(drop);
      Object.keys(store.apps).forEach(function (name) {
        var s = store.apps[name];
        s.rate = s.rate.slice(drop);
        s.errors = s.errors.slice(drop);
        s.responseMs = s.responseMs.slice(drop);
      });
    }
  }

  function lastAt() {
    return store.at.length ? store.at[store.at.length - 1] : null;
  }

  function seriesOf(name) {
    return store.apps[name] || null;
  }

  function latest(values) {
    if (!values) return null;
    for (var i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
    return null;
  }

  function maxOf(values) {
    var m = 0;
    for (var i = 0; i < values.length; i++) if (values[i] !== null && values[i] > m) m = values[i];
    return m;
  }

  /**
   * At most `points` values: each the largest of its bucket of slots (a spike stays visible),
   * null where nothing in the bucket was sampled. `offset` empty slots lead (not sampled yet).
   */
  function buckets(values, offset, n, points) {
    var k = Math.max(1, Math.ceil(n / points));
    var out = [];
    for (var start = 0; start < n; start += k) {
      var best = null;
      for (var slot = start; slot < start + k && slot < n; slot++) {
        var v = slot < offset ? null : values[slot - offset];
        if (v !== null && v !== undefined && (best === null || v > best)) best = v;
      }
      out.push(best);
    }
    return out;
  }

  /** A line over the window (the newest on the right); gaps where nothing was sampled. */
  function chart(values, opts) {
    var w = opts.width,
      h = opts.height;
    var data = buckets(values, Math.max(0, store.capacity - values.length), store.capacity, opts.points || 60);
    var n = data.length;
    var max = Math.max(opts.floor || 0, maxOf(data));
    var svg = svgEl('svg', {
      viewBox: '0 0 ' + w + ' ' + h,
      preserveAspectRatio: 'none',
      class: 'chart ' + opts.className,
      role: 'img',
      'aria-label': opts.label,
    });
    svg.appendChild(svgEl('line', { x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: 'axis' }));
    var run = '';
    var count = 0;
    var flush = function () {
      if (count > 1) svg.appendChild(svgEl('polyline', { points: run, class: 'line' }));
      run = '';
      count = 0;
    };
    for (var i = 0; i < n; i++) {
      var v = data[i];
      if (v === null) {
        flush();
        continue;
      }
      var x = n > 1 ? Math.round((i / (n - 1)) * w * 10) / 10 : w;
      var y = max > 0 ? Math.round((h - 1 - (v / max) * (h - 2)) * 10) / 10 : h - 1;
      run += (count ? ' ' : '') + x + ',' + y;
      count += 1;
    }
    flush();
    return svg;
  }

  function num(v, digits) {
    if (v === null || v === undefined) return '—';
    if (v >= 100) return String(Math.round(v));
    return v.toFixed(digits === undefined ? 1 : digits);
  }

  /** Latest figures by which the cards may be sorted. */
  function sortKey(app, key) {
    var s = seriesOf(app.name);
    if (key === 'rate') return app.traffic && app.traffic.rate !== null ? app.traffic.rate : -1;
    if (key === 'errors') return s ? latest(s.errors) || 0 : -1;
    if (key === 'response') return app.traffic ? app.traffic.responseMs : -1;
    return 0;
  }

  function sortApps(apps, key) {
    if (!key || key === 'name') return apps;
    return apps.slice().sort(function (a, b) {
      return sortKey(b, key) - sortKey(a, key) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    });
  }

  /**
   * Sparklines are drawn only for cards near the screen (the others when scrolled to): at 1 000
   * apps, drawing every one at each refresh would cost more than the whole rest of the page.
   */
  var pending =
    typeof IntersectionObserver === 'function'
      ? new IntersectionObserver(
          function (entries) {
            entries.forEach(function (entry) {
              if (!entry.isIntersecting) return;
              pending.unobserve(entry.target);
              drawSparks(entry.target);
            });
          },
          { rootMargin: '100% 0px' },
        )
      : null;

  function drawSparks(card) {
    var box = card.querySelector('.sparks[data-pending]');
    if (!box) return;
    box.removeAttribute('data-pending');
    var s = seriesOf(box.getAttribute('data-series'));
    box.appendChild(chart(s ? s.rate : [], { width: 120, height: 24, className: 'rate', label: 'request rate over the window' }));
    box.appendChild(chart(s ? s.errors : [], { width: 120, height: 24, className: 'errors', floor: 1, label: '5xx rate over the window' }));
  }

  /** Called before the cards are built again: the old ones are no longer watched. */
  function beginCards() {
    if (pending) pending.disconnect();
  }

  /** Called with each card once it is built. */
  function watchCard(card) {
    if (pending) pending.observe(card);
    else drawSparks(card);
  }

  /** The traffic block of an app card: figures and a place for two sparklines. */
  function cardTraffic(app, el) {
    var t = app.traffic;
    var s = seriesOf(app.name);
    if (!t) return el('div', { className: 'traffic muted', text: 'no traffic sample yet' });
    var errors = s ? latest(s.errors) : null;
    return el('div', { className: 'traffic' }, [
      el('div', { className: 'figures' }, [
        el('span', { 'data-figure': 'rate', title: 'requests per second over the last interval', text: num(t.rate) + ' req/s' }),
        el('span', { 'data-figure': 'errors', className: errors ? 'state down' : '', title: '5xx responses per second', text: num(errors) + ' 5xx/s' }),
        el('span', { 'data-figure': 'response', title: 'average response time (HAProxy, last 1024 requests)', text: t.responseMs + ' ms' }),
        el('span', { 'data-figure': 'sessions', className: 'muted', text: t.sessions + ' sess · ' + t.requests + ' req' }),
      ]),
      el('div', { className: 'sparks', 'data-pending': 'true', 'data-series': app.name }),
    ]);
  }

  function bigChart(title, values, unit, className, el, floor) {
    var max = Math.max(floor || 0, maxOf(values));
    return el('figure', { className: 'big', 'data-chart': className }, [
      el('figcaption', null, [title + ' ', el('span', { className: 'muted', text: '(now ' + num(latest(values)) + ' ' + unit + ', max ' + num(max) + ')' })]),
      chart(values, { width: 600, height: 120, className: className, floor: floor, label: title, points: 300 }),
      el('div', { className: 'axis-labels muted' }, [
        el('span', { text: '−' + Math.round((store.capacity * store.intervalSeconds) / 60) + ' min' }),
        el('span', { text: 'now' }),
      ]),
    ]);
  }

  function timelineItems(events, el, when) {
    return events.map(function (e) {
      return el('li', { 'data-kind': e.kind, 'data-apps': e.apps.join(' ') }, [
        when(e.at),
        el('span', { className: 'kind ' + e.kind, text: e.kind }),
        el('span', { className: 'msg', text: e.message }),
        e.apps.length
          ? el(
              'span',
              { className: 'apps' },
              e.apps.slice(0, 8).map(function (a) {
                return el('a', { href: '#app=' + encodeURIComponent(a), className: 'tag', text: a });
              }),
            )
          : null,
      ]);
    });
  }

  /** The detail view of one app: figures, charts, servers with what HAProxy counts, its timeline. */
  function detail(app, events, h) {
    var s = seriesOf(app.name) || { rate: [], errors: [], responseMs: [] };
    var t = app.traffic;
    var rows = app.servers.map(function (srv) {
      var st = srv.traffic;
      return h.el('tr', { 'data-server': srv.name }, [
        h.td('Server', srv.address + ':' + srv.port, true),
        h.el('td', { 'data-label': 'Consul' }, [h.el('span', { className: 'state ' + srv.state, text: srv.state })]),
        h.el('td', { 'data-label': 'HAProxy' }, [
          st ? h.el('span', { className: 'state ' + (/^UP/.test(st.state) ? 'up' : /DOWN|MAINT/.test(st.state) ? 'down' : 'starting'), text: st.state }) : '—',
        ]),
        h.td(
          'Check',
          st && st.check.status
            ? st.check.status + (st.check.code !== null ? ' ' + st.check.code : '') + (st.check.description ? ' — ' + st.check.description : '')
            : '—',
        ),
        h.td('Requests', st ? st.requests : null),
      ]);
    });
    if (rows.length === 0) rows.push(h.el('tr', null, [h.el('td', { className: 'empty', colspan: 5, text: 'No instance registered: HAProxy answers 503.' })]));
    return [
      h.el('p', null, [h.el('a', { href: '#', id: 'detail-back', text: '← all apps' })]),
      h.el('h2', { id: 'h-detail', text: app.name }),
      h.el('p', {
        className: 'muted mono',
        text:
          app.backend +
          ' · ' +
          app.mode +
          ' · ' +
          app.balance +
          ' · ' +
          app.hosts
            .map(function (x) {
              return x.host;
            })
            .join(' '),
      }),
      t
        ? h.el('p', { className: 'figures' }, [
            h.el('span', { text: num(t.rate) + ' req/s' }),
            h.el('span', { text: num(latest(s.errors)) + ' 5xx/s' }),
            h.el('span', { text: t.responseMs + ' ms' }),
            h.el('span', { text: t.sessions + ' sessions' }),
            h.el('span', {
              className: 'muted',
              text:
                '2xx ' +
                t.responses['2xx'] +
                ' · 3xx ' +
                t.responses['3xx'] +
                ' · 4xx ' +
                t.responses['4xx'] +
                ' · 5xx ' +
                t.responses['5xx'] +
                ' (total ' +
                t.requests +
                ')',
            }),
          ])
        : h.el('p', { className: 'muted', text: 'No traffic sample yet.' }),
      h.el('div', { className: 'charts' }, [
        bigChart('Requests per second', s.rate, 'req/s', 'rate', h.el),
        bigChart('5xx per second', s.errors, '5xx/s', 'errors', h.el, 1),
        bigChart('Response time', s.responseMs, 'ms', 'response', h.el),
      ]),
      h.el('h3', { text: 'Servers' }),
      h.el('div', { className: 'table-wrap' }, [
        h.el('table', { id: 'detail-servers', className: 'stack' }, [
          h.el('thead', null, [
            h.el(
              'tr',
              null,
              ['Server', 'Consul', 'HAProxy', 'Check', 'Requests'].map(function (x) {
                return h.el('th', { text: x });
              }),
            ),
          ]),
          h.el('tbody', null, rows),
        ]),
      ]),
      h.el('h3', { text: 'Changes' }),
      events.length
        ? h.el('ul', { className: 'timeline', id: 'detail-timeline' }, timelineItems(events, h.el, h.when))
        : h.el('p', { className: 'muted', text: 'No change of this app in the timeline.' }),
    ];
  }

  window.paasTraffic = {
    merge: merge,
    lastAt: lastAt,
    sortApps: sortApps,
    cardTraffic: cardTraffic,
    beginCards: beginCards,
    watchCard: watchCard,
    detail: detail,
    timelineItems: timelineItems,
  };
})();
