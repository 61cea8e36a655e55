// Drives Debian's chromium through playwright-core against a seeded gpuproof-server and checks
// what a person sees. Usage: node browse.js BASE_URL SEED_JSON SCREENSHOT_DIR
// SEED_JSON: {"c1","c2","c3","hostile_id","hostile_login","signers":[...]}.
// Exits 0 when every check passed, 1 otherwise (each failure printed).
'use strict';

const path = require('path');
const { chromium } = require('playwright-core');

const [base, seedJson, shotDir] = process.argv.slice(2);
const seed = JSON.parse(seedJson);
const failures = [];
let step = '';

function check(cond, msg) {
  if (!cond) {
    failures.push(`${step}: ${msg}`);
    console.log(`  FAIL ${msg}`);
  } else {
    console.log(`  ok   ${msg}`);
  }
}

async function text(page, sel) {
  const el = await page.$(sel);
  return el ? (await el.innerText()).replace(/\s+/g, ' ').trim() : '';
}

// Injected markup from a receipt would show up as one of these.
async function assertNoInjection(page) {
  const found = await page.evaluate(() => {
    const bad = [];
    document.querySelectorAll('script').forEach((s) => {
      if (s.getAttribute('src') !== '/static/app.js' || s.textContent.trim() !== '') bad.push('script ' + s.outerHTML.slice(0, 80));
    });
    document.querySelectorAll('img').forEach((i) => {
      if (!(i.getAttribute('src') || '').startsWith('/badge/')) bad.push('img ' + i.outerHTML.slice(0, 80));
    });
    document.querySelectorAll('svg, iframe, object, embed').forEach((e) => bad.push(e.tagName + ' ' + e.outerHTML.slice(0, 80)));
    document.querySelectorAll('*').forEach((e) => {
      for (const a of e.attributes) {
        if (/^on/i.test(a.name) || a.name === 'style' || a.name === 'autofocus') bad.push(`${e.tagName}[${a.name}]`);
      }
    });
    return bad;
  });
  check(found.length === 0, 'no element or attribute injected from a receipt' + (found.length ? ': ' + found.join(', ') : ''));
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const dialogs = [];
  const consoleErrors = [];
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
    // the "lookup of nothing" step asks for a 404 on purpose
    page.on('console', (m) => { if (m.type() === 'error' && step !== 'lookup of nothing') consoleErrors.push(`${step}: ${m.text()}`); });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));

    step = 'dashboard';
    console.log(step);
    let res = await page.goto(base + '/');
    check(res.status() === 200, 'dashboard answers 200');
    check((await page.title()).includes('Dashboard'), 'title names the dashboard');
    check((await text(page, 'h1')) === 'GPU validation dashboard', 'h1 is the dashboard heading');
    const reposText = await text(page, 'table.repos');
    check(reposText.includes('alice/gpukernels'), 'repository alice/gpukernels listed');
    const latestText = await text(page, '#latest');
    for (const s of ['alice', seed.hostile_login]) check(latestText.includes(s), `latest receipts show ${s}`);
    await assertNoInjection(page);
    check(await page.$('link[rel="alternate"][type="application/json"]') !== null, 'alternate JSON link present');

    step = 'keyboard';
    console.log(step);
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    check(skip === 'Skip to content', 'first Tab reaches the skip link');

    step = 'dashboard -> repository';
    console.log(step);
    await Promise.all([page.waitForNavigation(), page.click('table.repos a[href="/repos/alice/gpukernels"]')]);
    check(new URL(page.url()).pathname === '/repos/alice/gpukernels', 'on the repository page');
    check((await text(page, 'h1')) === 'alice/gpukernels', 'repository heading');
    const commitsText = await text(page, 'table.commits');
    check(commitsText.includes('validated') && commitsText.includes('failed'), 'commits show validated and failed states');
    await assertNoInjection(page);

    step = 'repository -> commit';
    console.log(step);
    await Promise.all([page.waitForNavigation(), page.click(`table.commits a[href="/commits/${seed.c1}"]`)]);
    check(new URL(page.url()).pathname === `/commits/${seed.c1}`, 'on the commit page');
    const verdict = await text(page, '#verdict');
    check(verdict.startsWith('GPU-validated by'), `verdict says validated: "${verdict}"`);
    for (const s of seed.signers) check(verdict.includes(s), `verdict names ${s}`);
    const cards = await page.$$('article.card');
    check(cards.length >= 5, `one card per receipt (${cards.length})`);
    check((await text(page, 'article.card')).includes('SHA256:'), 'card shows the key fingerprint');
    await assertNoInjection(page);

    step = 'commit -> receipt';
    console.log(step);
    const receiptLink = await page.$('article.card p.links a[href^="/receipts/"]');
    const receiptHref = receiptLink ? await receiptLink.getAttribute('href') : '';
    await Promise.all([page.waitForNavigation(), receiptLink.click()]);
    check(new URL(page.url()).pathname === receiptHref, 'on the receipt page');
    check((await text(page, 'h1')).startsWith('Receipt'), 'receipt heading');
    check((await text(page, '.verdict')).includes('GPU-validates'), 'receipt validates');

    step = 'receipt -> raw';
    console.log(step);
    const rawHref = await page.getAttribute('a[href$="/raw"]', 'href');
    res = await page.goto(base + rawHref);
    check(res.status() === 200, 'raw receipt answers 200');
    check((res.headers()['content-type'] || '').startsWith('application/json'), 'raw receipt is JSON');
    const raw = JSON.parse(await res.text());
    check(raw.schema_version === '1' && raw.signature && raw.signature.signer, 'raw receipt is the signed receipt');

    step = 'lookup box (abbreviated sha)';
    console.log(step);
    await page.goto(base + '/');
    await page.fill('#q', seed.c2.slice(0, 7));
    await Promise.all([page.waitForNavigation(), page.press('#q', 'Enter')]);
    await page.waitForLoadState('load');
    if (new URL(page.url()).pathname !== `/commits/${seed.c2}`) {
      // a 303 without Location falls back to the page's refresh
      await page.waitForURL(`**/commits/${seed.c2}`, { timeout: 5000 }).catch(() => {});
    }
    check(new URL(page.url()).pathname === `/commits/${seed.c2}`, `lookup of ${seed.c2.slice(0, 7)} lands on the commit`);
    const v2 = await text(page, '#verdict');
    check(v2 === "Not GPU-validated: 1 test failed in alice's run", `verdict: "${v2}"`);
    const failedRow = await text(page, 'tr.outcome-failed');
    check(failedRow.includes('test_broken') && failedRow.includes('failed'), 'the failed test is shown as failed');
    await page.screenshot({ path: path.join(shotDir, 'commit-failed-1280-light.png'), fullPage: true });

    step = 'test filter (JavaScript)';
    console.log(step);
    const visibleBefore = await page.$$eval('table[data-tests] tbody tr', (rs) => rs.filter((r) => !r.hidden).length);
    await page.click('a[data-filter="failed"]');
    const visibleAfter = await page.$$eval('table[data-tests] tbody tr', (rs) => rs.filter((r) => !r.hidden).map((r) => r.className));
    check(visibleAfter.length > 0 && visibleAfter.length < visibleBefore && visibleAfter.every((c) => c === 'outcome-failed'),
      `filter shows failures only (${visibleBefore} -> ${visibleAfter.length})`);
    check((await page.getAttribute('a[data-filter="failed"]', 'aria-pressed')) === 'true', 'filter toggle reports its state');
    await page.focus('a[data-filter="failed"]');
    await page.keyboard.press('Space');
    const visibleAgain = await page.$$eval('table[data-tests] tbody tr', (rs) => rs.filter((r) => !r.hidden).length);
    check(visibleAgain === visibleBefore, 'Space on the focused filter shows every test again');

    step = 'lookup of a login';
    console.log(step);
    await page.goto(base + '/');
    await page.fill('#q', 'bob');
    await Promise.all([page.waitForNavigation(), page.click('form.lookup button')]);
    await page.waitForURL('**/signers/bob', { timeout: 5000 }).catch(() => {});
    check(new URL(page.url()).pathname === '/signers/bob', 'lookup of bob lands on the signer page');

    step = 'lookup of an ambiguous prefix';
    console.log(step);
    await page.goto(base + '/');
    await page.fill('#q', seed.c3.slice(0, 7));
    await Promise.all([page.waitForNavigation(), page.press('#q', 'Enter')]);
    check((await text(page, 'h1')) === 'Which one?', 'an ambiguous prefix lists the candidates');
    const candidates = await page.$$('ul.candidates a[href^="/commits/"]');
    check(candidates.length >= 2, `at least two candidate commits (${candidates.length})`);
    await Promise.all([page.waitForNavigation(), page.click(`ul.candidates a[href="/commits/${seed.c3}"]`)]);
    check(new URL(page.url()).pathname === `/commits/${seed.c3}`, 'a candidate leads to its commit');

    step = 'lookup of nothing';
    console.log(step);
    res = await page.goto(base + '/lookup?q=deadbee');
    check(res.status() === 404, 'unknown prefix answers 404');
    check((await text(page, 'h1')) === 'Nothing found', 'helpful not-found page');

    step = 'hostile receipt';
    console.log(step);
    for (const url of [`/commits/${seed.c3}`, `/receipts/${seed.hostile_id}`, `/signers/${seed.hostile_login}`, '/']) {
      await page.goto(base + url);
      await page.waitForTimeout(200);
      await assertNoInjection(page);
    }
    await page.goto(base + `/commits/${seed.c3}`);
    const nodeText = await text(page, 'table[data-tests]');
    check(nodeText.includes('test_<script>alert(1)</script>'), 'the <script> node id is shown as text');
    check(nodeText.includes('<img src=x onerror=alert(2)>'), 'the <img onerror> node id is shown as text');
    await page.goto(base + `/receipts/${seed.hostile_id}`);
    const metaText = await text(page, 'table[data-tests]');
    check(metaText.includes('<script>alert(1)</script>'), 'metadata payloads are shown as text');
    await page.focus('#nav-q');
    await page.waitForTimeout(300);
    check(dialogs.length === 0, `no dialog opened (${dialogs.join(' | ')})`);

    step = 'screenshots';
    console.log(step);
    for (const scheme of ['light', 'dark']) {
      for (const width of [1280, 390]) {
        const c = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme,
          deviceScaleFactor: 1, isMobile: width < 500, hasTouch: width < 500 });
        const p = await c.newPage();
        p.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
        await p.goto(base + '/');
        await p.screenshot({ path: path.join(shotDir, `dashboard-${width}-${scheme}.png`), fullPage: true });
        await p.goto(base + `/commits/${seed.c1}`);
        await p.screenshot({ path: path.join(shotDir, `commit-${width}-${scheme}.png`), fullPage: true });
        await p.goto(base + `/commits/${seed.c3}`);
        await p.screenshot({ path: path.join(shotDir, `commit-hostile-${width}-${scheme}.png`), fullPage: true });
        const overflow = await p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        check(overflow <= 0, `no horizontal page scroll at ${width}px ${scheme} (${overflow}px)`);
        await c.close();
      }
    }
    check(dialogs.length === 0, 'no dialog opened on any page');
    check(consoleErrors.length === 0, 'no console errors (CSP violations included)' + (consoleErrors.length ? ': ' + consoleErrors.slice(0, 3).join(' | ') : ''));
    await ctx.close();
  } catch (e) {
    failures.push(`${step}: ${e && e.stack ? e.stack : e}`);
    console.log(`  FAIL ${e}`);
  } finally {
    await browser.close();
  }
  if (failures.length) {
    console.log(`\n${failures.length} browser check(s) failed:\n  ` + failures.join('\n  '));
    process.exit(1);
  }
  console.log('\nall browser checks passed');
})();
