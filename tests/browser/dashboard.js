// dashboard.js: drives headless chromium over the analytics dashboard (see test_dashboard.sh).
// Besides the numbers it checks that the page lives on one Server-Sent Events connection: at the
// end (after a Redis outage and recovery) the single EventSource has received at least 3 messages,
// opened once, and the worker counted exactly one more /events response than before the page.
// usage: node dashboard.js URL CHROMIUM EXPECT.json SCREENSHOT.png STACK
const { chromium } = require("playwright-core");
const fs = require("fs");
const { execFileSync, spawnSync } = require("child_process");

const [url, exe, expectFile, shot, stack] = process.argv.slice(2);
const want = JSON.parse(fs.readFileSync(expectFile, "utf8"));
const log = (m) => console.log("dashboard.js: " + m);

async function live() {
  const r = await fetch(new URL("api/live", url));
  if (!r.ok) throw new Error(`/api/live: HTTP ${r.status}`);
  return r.json();
}
const body = (page, k) => page.evaluate((key) => Number(document.body.dataset[key] || 0), k);

async function value(page, id) {
  return Number(await page.getAttribute(`[data-testid="${id}"]`, "data-value"));
}

(async () => {
  const browser = await chromium.launch({ executablePath: exe, headless: true, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1600, height: 1250 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const openedBefore = (await live()).sse.opened;
  await page.goto(url);
  await page.waitForFunction(() => Number(document.body.dataset.sseMessages || 0) >= 1 && document.body.dataset.seq,
    null, { timeout: 20000 });
  const checks = [
    ["kpi-orders-total", want.orders_total], ["kpi-orders-today", want.orders_today],
    ["kpi-revenue", want.revenue_today], ["kpi-items-today", want.items_today],
    ["funnel-0", want.views_today], ["funnel-1", want.carts_today], ["funnel-2", want.orders_today],
    ["kpi-dau", want.dau],
  ];
  let ok = true;
  for (const [id, w] of checks) {
    const got = await value(page, id);
    const same = got === Number(w);
    ok = ok && same;
    log(`${id}: page ${got}, redis ${w} ${same ? "equal" : "DIFFERENT"}`);
  }
  const revText = await page.textContent('[data-testid="kpi-revenue"]');
  log(`revenue as shown: ${revText}`);
  if (!/₩/.test(revText)) { ok = false; log("revenue is not formatted as KRW"); }
  const canvas = await page.$("#chart canvas");
  if (!canvas) { ok = false; log("no chart drawn"); }
  const rows = await page.$$('[data-testid="top-products"] tbody tr');
  log(`top products rows: ${rows.length}`);
  const health = await page.textContent('[data-testid="health"]');
  if (!/analytics/.test(health) || !/ready/.test(health)) { ok = false; log("service health does not show the worker"); }
  await page.screenshot({ path: shot, fullPage: true });
  log(`screenshot saved: ${shot}`);

  // Redis outage: the banner appears, the page stays; after the restart it recovers.
  execFileSync(stack, ["stop-one", "redis"], { stdio: "ignore" });
  try {
    await page.waitForSelector('[data-testid="status-redis"][data-state="down"]', { timeout: 40000 });
    const banner = await page.textContent('[data-testid="outage"]');
    log(`outage shown: ${banner.trim()}`);
    if ((await value(page, "kpi-orders-total")) !== Number(want.orders_total)) { ok = false; log("values lost during the outage"); }
    await page.screenshot({ path: shot.replace(/\.png$/, "-outage.png"), fullPage: false });
  } finally {
    // `up` restarts what is down; its exit status also covers provisioning, not needed here
    spawnSync(stack, ["up"], { stdio: "ignore" });
  }
  await page.waitForSelector('[data-testid="status-redis"][data-state="up"]', { timeout: 60000 });
  log("recovered after Redis restarted");

  // One long-lived stream: >= 3 messages (first snapshot, outage, recovery), no reconnection.
  const messages = await body(page, "sseMessages"), opens = await body(page, "sseOpens");
  const streamId = await body(page, "sseStream");
  await new Promise((r) => setTimeout(r, 1200)); // the server's snapshot is at most 0.9 s old
  const sse = (await live()).sse;
  const one = messages >= 3 && opens === 1 && sse.opened === openedBefore + 1 && streamId === openedBefore + 1;
  ok = ok && one;
  log(`server-sent events: ${messages} messages on ${opens} connection(s) (stream #${streamId}); ` +
      `worker opened ${sse.opened - openedBefore} /events response(s) for the page, ${sse.open} open now ` +
      `${one ? "ok" : "EXPECTED >= 3 messages on one connection"}`);
  if (errors.length) { ok = false; log("page errors: " + errors.join("; ")); }
  await browser.close();
  process.exit(ok ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(1); });
