/* gpuproof pages: small enhancements only. Every page works without this file.
 *  - the dashboard's "Latest receipts" refreshes itself from /api/receipts?limit=N;
 *  - the commit and receipt pages filter their test tables to failures without a reload.
 * Strings from receipts are put in the page with textContent only, never as HTML. */
(function () {
  'use strict';

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function seg(s) { return encodeURIComponent(String(s)); }

  function link(href, text, cls) {
    var a = el('a', cls, text);
    a.setAttribute('href', href);
    return a;
  }

  function timeCell(t) {
    var td = el('td');
    if (typeof t === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(t)) {
      var tm = el('time', null, t.slice(0, 10) + ' ' + t.slice(11, 19) + ' UTC');
      tm.setAttribute('datetime', t);
      td.appendChild(tm);
    } else {
      td.textContent = t ? String(t) : '\u2014';
    }
    return td;
  }

  function receiptState(r) {
    if (r.status === 'pending') return ['pending', 'state-wait', '\u2026 '];
    if (r.status === 'rejected') return ['rejected', 'state-bad', '\u2717 '];
    if (r.validates) return ['validates', 'state-ok', '\u2713 '];
    if (r.counts && r.counts.failed > 0) return ['failed', 'state-bad', '\u2717 '];
    return ['not validated', 'state-none', '\u25cb '];
  }

  function latestRow(r) {
    var tr = el('tr');
    tr.appendChild(timeCell(r.received_at));

    var td = el('td');
    if (r.signer) td.appendChild(link('/signers/' + seg(r.signer), r.signer, 'signer'));
    tr.appendChild(td);

    td = el('td');
    if (r.repo && r.repo.indexOf('/') > 0) {
      var parts = r.repo.split('/');
      td.appendChild(link('/repos/' + seg(parts[0]) + '/' + seg(parts.slice(1).join('/')), r.repo));
    } else {
      td.appendChild(el('span', 'muted', 'not on GitHub'));
    }
    tr.appendChild(td);

    td = el('td');
    if (r.commit) {
      var a = link('/commits/' + seg(r.commit), null, 'sha');
      a.appendChild(el('code', null, String(r.commit).slice(0, 7)));
      td.appendChild(a);
    }
    tr.appendChild(td);

    td = el('td');
    var c = r.counts || {};
    var counts = el('span', 'counts', (c.passed || 0) + ' passed');
    if (c.failed) {
      counts.appendChild(document.createTextNode(', '));
      counts.appendChild(el('strong', 'fail', c.failed + ' failed'));
    }
    if (c.skipped) counts.appendChild(document.createTextNode(', ' + c.skipped + ' skipped'));
    td.appendChild(counts);
    tr.appendChild(td);

    td = el('td');
    var st = receiptState(r);
    var sl = link('/receipts/' + seg(r.id), null, 'state-link');
    var span = el('span', 'state ' + st[1]);
    var icon = el('span', null, st[2]);
    icon.setAttribute('aria-hidden', 'true');
    span.appendChild(icon);
    span.appendChild(document.createTextNode(st[0]));
    sl.appendChild(span);
    td.appendChild(sl);
    tr.appendChild(td);
    return tr;
  }

  function refreshLatest() {
    var box = document.getElementById('latest');
    if (!box || !window.fetch) return;
    var src = box.getAttribute('data-refresh');
    var status = document.getElementById('latest-status');
    var failures = 0;

    function tick() {
      if (document.hidden) { schedule(); return; }
      fetch(src, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (res) {
          if (res.status === 404 || res.status === 405) return null; /* no such endpoint here: stay quiet */
          if (!res.ok) throw new Error('HTTP ' + res.status);
          return res.json();
        })
        .then(function (doc) {
          if (doc === null) return;
          failures = 0;
          var list = (doc && doc.receipts) || [];
          var tbody = box.querySelector('tbody');
          if (!tbody || list.length === 0) { schedule(); return; }
          var rows = document.createDocumentFragment();
          list.forEach(function (r) { rows.appendChild(latestRow(r)); });
          tbody.replaceChildren(rows);
          if (status) status.textContent = 'Refreshed at ' + new Date().toLocaleTimeString() + '; refreshes every 15 seconds.';
          schedule();
        })
        .catch(function () {
          failures += 1;
          if (status) status.textContent = 'Could not refresh the list just now; reload the page to see new receipts.';
          if (failures < 5) schedule();
        });
    }
    function schedule() { window.setTimeout(tick, 15000); }
    schedule();
  }

  function filterTests() {
    var toggles = document.querySelectorAll('a[data-filter="failed"]');
    if (!toggles.length) return;
    var only = new URLSearchParams(window.location.search).get('only') === 'failed';
    if (only) return; /* the server already filtered: the link goes back to all tests */
    var on = false;
    Array.prototype.forEach.call(toggles, function (a) {
      a.setAttribute('role', 'button');
      a.addEventListener('keydown', function (ev) {
        if (ev.key === ' ') { ev.preventDefault(); a.click(); } /* a button also answers Space */
      });
      a.addEventListener('click', function (ev) {
        ev.preventDefault();
        on = !on;
        document.querySelectorAll('table[data-tests] tbody tr').forEach(function (tr) {
          if (!tr.classList.contains('outcome-failed') && tr.children.length > 1) tr.hidden = on;
        });
        Array.prototype.forEach.call(toggles, function (t) {
          t.textContent = on ? 'Show all tests' : 'Show only failed tests';
          t.setAttribute('aria-pressed', on ? 'true' : 'false');
        });
      });
    });
  }

  function ready() {
    refreshLatest();
    filterTests();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
