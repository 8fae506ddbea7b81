// paas-router status page: fetches ./status every 5 s and renders it. Plain browser JavaScript,
// served as is (no build step). Every value from the router is inserted with textContent, never
// as HTML: hosts, keys and reasons come from user input (Consul tags and K/V).
// /status is paged (docs/operating.md): the page asks for as many apps as it shows, filtered and
// sorted by the daemon, so the filter finds every app, not only the loaded ones.
(function () {
  var REFRESH_MS = 5000;
  var data = null;
  var lastFetchAt = 0;
  var filterInput = document.getElementById('filter');
  var sortInput = document.getElementById('sort');
  var T = window.paasTraffic;
  var CARDS_PAGE = 200;
  var MAX_LIMIT = 1000;
  var cardLimit = CARDS_PAGE;
  // Only the answer to the latest request is rendered (typing in the filter sends one per key).
  var generation = 0;

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null || v === false) return;
        if (k === 'text') node.textContent = String(v);
        else if (k === 'className') node.className = v;
        else node.setAttribute(k, String(v));
      });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function ago(iso) {
    if (!iso) return 'never';
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 90) return s + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 172800) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  function when(iso) {
    if (!iso) return el('span', { className: 'muted', text: 'never' });
    return el('time', { datetime: iso, title: new Date(iso).toLocaleString(), text: ago(iso) });
  }

  function query() {
    return filterInput.value.trim().toLowerCase();
  }

  function matches(q, values) {
    if (!q) return true;
    return values.some(function (v) {
      return v !== null && v !== undefined && String(v).toLowerCase().indexOf(q) !== -1;
    });
  }

  function count(id, shown, total) {
    $(id).textContent = shown === total ? '(' + total + ')' : '(' + shown + ' of ' + total + ')';
  }

  function renderHeader(d) {
    $('cluster').textContent = d.router.cluster + ' · ' + d.router.clusterDomain + ' · v' + d.router.version;
    var badge = $('health');
    var warn = d.health.ok && d.health.warnings.length > 0;
    badge.className = 'badge ' + (d.health.ok ? (warn ? 'warn' : 'ok') : 'bad');
    badge.textContent = d.health.ok ? (warn ? 'healthy, with warnings' : 'healthy') : 'unhealthy';
    var list = $('health-reasons');
    clear(list);
    d.health.reasons.forEach(function (r) {
      list.appendChild(el('li', { className: 'bad', text: r }));
    });
    d.health.warnings.forEach(function (r) {
      list.appendChild(el('li', { className: 'warn', text: r }));
    });
    if (d.health.reasons.length === 0 && d.health.warnings.length === 0) {
      list.appendChild(el('li', { text: 'Every required source has synced and HAProxy runs the latest configuration.' }));
    }
  }

  function renderSources(d) {
    var body = $('sources').tBodies[0];
    clear(body);
    d.sources.forEach(function (s) {
      body.appendChild(
        el('tr', { 'data-source': s.name }, [
          el('td', { 'data-label': 'Source' }, [el('code', { text: s.name }), s.required ? '' : el('span', { className: 'muted', text: ' (optional)' })]),
          el('td', { 'data-label': 'State' }, [el('span', { className: 'state ' + s.state, text: s.state })]),
          el('td', { 'data-label': 'Last sync' }, [when(s.lastSyncAt)]),
          el('td', { 'data-label': 'Last error', className: s.lastError ? '' : 'empty' }, [
            s.lastError ? s.lastError.message + ' (' + ago(s.lastError.at) + ')' : '—',
          ]),
        ]),
      );
      (s.failing || []).forEach(function (f) {
        body.appendChild(
          el('tr', { 'data-source': s.name, 'data-failing': f.subject, className: 'failing-read' }, [
            el('td', { 'data-label': 'Failing read' }, [el('code', { text: f.subject })]),
            el('td', { 'data-label': 'State' }, [el('span', { className: 'state degraded', text: 'read failing' })]),
            el('td', { 'data-label': 'Since' }, [when(f.at)]),
            el('td', { 'data-label': 'Error' }, [f.message + ' (last known instances kept)']),
          ]),
        );
      });
    });
  }

  function fact(dl, label, value) {
    dl.appendChild(el('dt', { text: label }));
    dl.appendChild(el('dd', null, [value]));
  }

  function renderHaproxy(d) {
    var h = d.haproxy;
    var dl = $('haproxy');
    clear(dl);
    fact(
      dl,
      'Running config',
      h.runningChecksum
        ? el('code', { title: h.runningChecksum, 'data-checksum': h.runningChecksum, text: 'sha256 ' + h.runningChecksum.slice(0, 16) + '…' })
        : el('span', { className: 'muted', text: 'none validated yet' }),
    );
    var apply = h.lastApply;
    fact(
      dl,
      'Last apply',
      apply
        ? el('span', null, [
            el('span', { className: 'state ' + (apply.error ? 'down' : 'ok'), text: apply.status }),
            ' ',
            when(apply.at),
            apply.error ? ' — ' + apply.error.message : '',
          ])
        : el('span', { className: 'muted', text: 'nothing applied yet' }),
    );
    fact(dl, 'Last reload', when(h.lastReloadAt));
    fact(dl, 'Last runtime change', when(h.lastRuntimeChangeAt));
    if (h.lastBuildError) fact(dl, 'Last build error', el('span', { className: 'state down', text: h.lastBuildError.message }));
    if (h.held)
      fact(dl, 'Held change', el('span', { className: 'state starting', text: h.held.reason + ' (held ' + ago(h.held.since) + ' by the never-shrink guard)' }));
    fact(dl, 'Pending changes', document.createTextNode(h.pendingChanges ? 'yes: the latest build is not what HAProxy serves' : 'no'));
    var c = h.counters;
    fact(
      dl,
      'Since start',
      document.createTextNode(
        Object.keys(c)
          .map(function (k) {
            return k + ' ' + c[k];
          })
          .join(', '),
      ),
    );
    fact(dl, 'Config directory', el('code', { text: d.router.configDir }));
    fact(dl, 'Consul', el('code', { text: d.router.consulAddress }));
    fact(
      dl,
      'Router',
      document.createTextNode(
        'pid ' + d.router.pid + ', up since ' + new Date(d.router.startedAt).toLocaleString() + ', listening on ' + d.router.listen + ', auth ' + d.router.auth,
      ),
    );
  }

  function appCard(app) {
    var hostItems = app.hosts.map(function (h) {
      return el('li', { 'data-host': h.host }, [
        el('code', { text: h.host }),
        el('span', {
          className: 'tag ' + h.source,
          title: h.key ? 'from Consul K/V key ' + h.key : 'default host',
          text: h.source === 'kv' ? 'custom' : 'default',
        }),
        h.key ? el('span', { className: 'muted mono', text: h.key }) : null,
      ]);
    });
    if (app.hostsMore) hostItems.push(el('li', { className: 'muted', text: 'and ' + app.hostsMore + ' more hosts (open the app)' }));
    if (app.mode === 'tcp') hostItems.push(el('li', null, [el('code', { text: 'tcp port ' + app.port })]));
    var serverItems = app.servers.map(function (s) {
      return el('li', { 'data-server': s.name, 'data-state': s.state }, [
        el('span', { className: 'dot ' + s.state, 'aria-hidden': 'true' }),
        el('code', { text: s.address + ':' + s.port }),
        el('span', { className: 'state ' + s.state, text: s.state }),
        el('span', { className: 'muted mono', title: 'Consul ServiceID', text: s.id }),
      ]);
    });
    if (serverItems.length === 0) serverItems.push(el('li', { className: 'muted', text: 'no instance registered: HAProxy answers 503' }));
    else if (app.serversUp === 0) serverItems.push(el('li', { className: 'state down', text: 'no passing instance: HAProxy answers 503' }));
    var settings = Object.keys(app.settings)
      .map(function (k) {
        return k + '=' + app.settings[k];
      })
      .join(' ');
    return el('article', { className: 'app', 'data-app': app.name }, [
      el('header', null, [
        el('h3', null, [el('a', { href: '#app=' + encodeURIComponent(app.name), title: 'servers, charts and changes of ' + app.name, text: app.name })]),
        el('span', { className: 'tag', text: app.mode }),
        el('span', { className: 'tag ' + (app.serversUp > 0 ? '' : 'none'), text: app.serversUp + '/' + app.servers.length + ' up' }),
        el('span', {
          className: 'muted mono',
          text: (app.spare ? app.backend + ' (on spare ' + app.spare + ' until the next reload)' : app.backend) + ' · ' + app.balance,
        }),
      ]),
      T.cardTraffic(app, el),
      el('div', { className: 'label', text: app.mode === 'tcp' ? 'Port' : 'Hosts' }),
      el('ul', { className: 'hosts' }, hostItems),
      el('div', { className: 'label', text: 'Servers' }),
      el('ul', { className: 'servers' }, serverItems),
      settings ? el('div', { className: 'muted mono', text: settings }) : null,
      featureList(app),
    ]);
  }

  // Redirects, allow-list, path, group weights, maintenance: one line each (text, never HTML).
  function featureList(app) {
    var lines = app.features || [];
    if (lines.length === 0) return null;
    return el(
      'ul',
      { className: 'features', 'data-features': app.name },
      lines.map(function (line) {
        return el('li', { className: app.maintenance && line.indexOf('in maintenance') === 0 ? 'state down' : '', text: line });
      }),
    );
  }

  function renderRoutes(d) {
    var box = $('routes');
    clear(box);
    var cards = document.createDocumentFragment();
    T.beginCards();
    // The daemon filtered and sorted them; cards come CARDS_PAGE at a time ("Show more").
    d.apps.forEach(function (a) {
      cards.appendChild(appCard(a));
    });
    box.appendChild(cards);
    for (var card = box.firstElementChild; card; card = card.nextElementSibling) T.watchCard(card);
    count('routes-count', d.total, d.counts.apps);
    var more = $('routes-more');
    more.hidden = d.next === null;
    more.textContent = 'Show ' + Math.min(CARDS_PAGE, d.total - d.apps.length) + ' more (' + d.apps.length + ' of ' + d.total + ' shown)';
    $('routes-empty').hidden = d.apps.length > 0;
    $('routes-empty').textContent = d.counts.apps === 0 ? 'No app is routed yet.' : 'No route matches the filter.';
    var note = $('routes-note');
    note.hidden = d.routesFrom === 'serving';
    note.textContent =
      d.routesFrom === 'latest-build'
        ? 'HAProxy has not loaded a configuration from paas-router yet; showing the latest build.'
        : 'Waiting for the first build.';
  }

  function renderRows(tableId, countId, rows, total, cells) {
    var body = $(tableId).tBodies[0];
    clear(body);
    rows.forEach(function (r) {
      body.appendChild(el('tr', { 'data-service': r.service || r.app, 'data-subject': r.subject || r.host }, cells(r)));
    });
    if (rows.length === 0) {
      var cols = $(tableId).tHead.rows[0].cells.length;
      body.appendChild(el('tr', null, [el('td', { className: 'empty', colspan: cols, text: total === 0 ? 'None.' : 'None matches the filter.' })]));
    }
    count(countId, rows.length, total);
  }

  function td(label, text, mono) {
    return el('td', { 'data-label': label, className: mono ? 'mono' : '' }, [text === null || text === undefined ? '—' : String(text)]);
  }

  // Rows of the loaded page, already filtered by the daemon; the counts are the whole model's.
  function renderTables(d) {
    renderRows('domains', 'domains-count', d.customDomains, d.counts.customDomains, function (x) {
      return [td('Host', x.host, true), td('App', x.app), td('Key', x.key, true)];
    });
    var p = d.rejectionsPage;
    renderRows('rejections', 'rejections-count', d.rejections, d.counts.rejections, function (r) {
      return [td('Kind', r.kind), td('Service', r.service), td('Input', r.subject, true), td('Reason', r.reason), td('Key', r.key, true)];
    });
    renderRows('conflicts', 'conflicts-count', d.conflicts, d.counts.conflicts, function (r) {
      return [td('Service', r.service), td('Host or port', r.subject, true), td('Reason', r.reason), td('Key', r.key, true)];
    });
    var note = $('rejections-more');
    var more = p.more.map(function (m) {
      return m.service + ' (' + m.shown + ' of ' + m.total + ')';
    });
    note.hidden = more.length === 0 && p.next === null;
    note.textContent =
      (more.length ? 'Shown in part: ' + more.join(', ') + '. ' : '') +
      (p.next !== null ? 'More rejected inputs after ' + p.next + ': filter by a service, or page /status with rejections_after. ' : '') +
      'By kind: ' +
      Object.keys(p.byKind)
        .map(function (k) {
          return k + ' ' + p.byKind[k];
        })
        .join(', ') +
      '.';
  }

  /** The change timeline, filtered like the rest: by app name or by what the message says. */
  function renderTimeline(d, q) {
    var list = $('timeline');
    clear(list);
    var events = (d.timeline || []).filter(function (e) {
      return matches(q, e.apps.concat([e.message, e.kind]));
    });
    var items = T.timelineItems(events.slice(0, 200), el, when);
    items.forEach(function (li) {
      list.appendChild(li);
    });
    if (items.length === 0)
      list.appendChild(
        el('li', { className: 'muted', text: (d.timeline || []).length === 0 ? 'No change since the router started.' : 'No change matches the filter.' }),
      );
    count('timeline-count', events.length, (d.timeline || []).length);
  }

  /** `#app=<name>` shows one app's detail view instead of the overview. */
  function detailName() {
    var m = /^#app=(.+)$/.exec(window.location.hash);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function renderDetail(d, one) {
    var name = detailName();
    // The app whole from `?app=` (it may be on no loaded page).
    var found = one
      ? one.apps.filter(function (a) {
          return a.name === name;
        })
      : [];
    var app = name ? found[0] || null : null;
    var box = $('detail-section');
    clear(box);
    document.body.setAttribute('data-view', name ? 'detail' : 'overview');
    box.hidden = !name;
    if (!name) return;
    box.setAttribute('data-app', name);
    if (!app) {
      box.appendChild(el('p', null, [el('a', { href: '#', text: '← all apps' })]));
      box.appendChild(el('p', { className: 'problem', text: 'No app named ' + name + ' is routed now.' }));
      return;
    }
    var events = (d.timeline || []).filter(function (e) {
      return e.apps.indexOf(name) !== -1;
    });
    T.detail(app, events, { el: el, td: td, when: when }).forEach(function (n) {
      box.appendChild(n);
    });
  }

  // ACME (null when off): who holds the lock, and per custom domain where its certificate comes
  // from, when it expires, what the issuer does next, how the last order ended and the backoff.
  function renderAcme(d, q) {
    var acme = d.acme;
    $('acme-section').hidden = !acme;
    if (!acme) return;
    var holder = acme.lock.held ? 'this router' : acme.lock.holder || 'nobody';
    $('acme-lock').textContent =
      'Issuer (lock ' +
      acme.lock.key +
      '): ' +
      holder +
      ' · orders in the last hour: ' +
      acme.ordersLastHour +
      ' of ' +
      acme.maxOrdersPerHour +
      (acme.accountError ? ' · account key: ' + acme.accountError : '');
    var hosts = acme.hosts.filter(function (h) {
      return matches(q, [h.host, h.app]);
    });
    renderRows('acme', 'acme-count', hosts, acme.hosts.length, function (h) {
      var last = h.lastResult ? h.lastResult + (h.lastError ? ': ' + h.lastError : '') + (h.lastAttemptAt ? ' (' + ago(h.lastAttemptAt) + ')' : '') : null;
      return [
        td('Host', h.host, true),
        td('Certificate', h.certificateSource ? h.certificateSource + ' (tls/' + h.certificateName + ')' : 'none'),
        td('Expires', h.notAfter),
        td('Next', h.action === 'none' ? h.reason : h.action + ': ' + h.reason),
        td('Last order', last),
        td('Next try', h.nextTryAt),
      ];
    });
  }

  var detailDoc = null;

  function render() {
    if (!data) return;
    // Only the latest render's entries are kept (one every refresh would pile up in an open tab).
    if (window.performance && performance.mark) {
      performance.clearMarks('render-start');
      performance.clearMeasures('render');
      performance.mark('render-start');
    }
    var q = query();
    renderHeader(data);
    renderSources(data);
    renderHaproxy(data);
    renderRoutes(data);
    renderTables(data);
    renderTimeline(data, q);
    renderDetail(data, detailDoc);
    renderAcme(data, q);
    $('updated').textContent = 'updated ' + new Date(lastFetchAt).toLocaleTimeString();
    document.body.setAttribute('data-loaded', 'true');
    // What the cards show: tests and scripts wait on these, never on time.
    document.body.setAttribute('data-q', data.query.q || '');
    document.body.setAttribute('data-sort', data.query.sort);
    if (window.performance && performance.measure) {
      var m = performance.measure('render', 'render-start');
      if (m) document.body.setAttribute('data-render-ms', String(Math.round(m.duration)));
    }
  }

  /** The chart series: the whole window first, then only the samples not seen yet. */
  function loadTraffic() {
    var since = T.lastAt();
    return fetch('traffic' + (since === null ? '' : '?since=' + since), {
      cache: 'no-store',
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (doc) {
        if (doc) T.merge(doc);
      })
      .catch(function () {
        return null;
      });
  }

  function getJson(params) {
    return fetch('status?' + params.toString(), { cache: 'no-store', credentials: 'same-origin', headers: { accept: 'application/json' } }).then(
      function (res) {
        if (!res.ok)
          return res.text().then(function (text) {
            throw new Error('/status answered HTTP ' + res.status + (text ? ': ' + text.trim() : ''));
          });
        return res.json();
      },
    );
  }

  /** The first `want` apps for the filter and sort: pages of at most MAX_LIMIT, each after the last. */
  function fetchStatus(want, q, sort) {
    var apps = [];
    function page(after) {
      var params = new URLSearchParams();
      params.set('limit', String(Math.min(MAX_LIMIT, want - apps.length)));
      if (after) params.set('after', after);
      if (q) params.set('q', q);
      if (sort && sort !== 'name') params.set('sort', sort);
      return getJson(params).then(function (doc) {
        apps = apps.concat(doc.apps);
        if (doc.next !== null && apps.length < want) return page(doc.next);
        doc.apps = apps;
        return doc;
      });
    }
    return page(null);
  }

  function fetchDetail() {
    var name = detailName();
    if (!name) return Promise.resolve(null);
    var params = new URLSearchParams();
    params.set('app', name);
    return getJson(params);
  }

  function load() {
    var mine = ++generation;
    document.body.setAttribute('data-busy', 'true');
    // All at once: one after the other cost whole extra round trips before the first render.
    return Promise.all([fetchStatus(cardLimit, filterInput.value.trim(), sortInput.value), loadTraffic(), fetchDetail()])
      .then(function (all) {
        if (mine !== generation) return;
        data = all[0];
        detailDoc = all[2];
        lastFetchAt = Date.now();
        $('load-error').hidden = true;
        render();
      })
      .catch(function (err) {
        if (mine !== generation) return;
        var box = $('load-error');
        box.hidden = false;
        box.textContent =
          'Cannot load the status from the router: ' + err.message + (data ? ' (showing data from ' + new Date(lastFetchAt).toLocaleTimeString() + ')' : '');
      })
      .then(function () {
        if (mine === generation) document.body.removeAttribute('data-busy');
      });
  }

  function syncUrl() {
    var url = new URL(window.location.href);
    var q = filterInput.value.trim();
    if (q) url.searchParams.set('q', q);
    else url.searchParams.delete('q');
    if (sortInput.value && sortInput.value !== 'name') url.searchParams.set('sort', sortInput.value);
    else url.searchParams.delete('sort');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
  }

  filterInput.value = new URL(window.location.href).searchParams.get('q') || '';
  filterInput.addEventListener('input', function () {
    syncUrl();
    cardLimit = CARDS_PAGE;
    load();
  });
  sortInput.value = new URL(window.location.href).searchParams.get('sort') || 'name';
  sortInput.addEventListener('change', function () {
    syncUrl();
    load();
  });
  $('routes-more').addEventListener('click', function () {
    cardLimit = (data ? data.apps.length : cardLimit) + CARDS_PAGE;
    load();
  });
  window.addEventListener('hashchange', function () {
    load().then(function () {
      window.scrollTo(0, 0);
    });
  });
  load();
  setInterval(load, REFRESH_MS);
})();
