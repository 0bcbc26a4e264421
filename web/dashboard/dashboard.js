// dashboard.js: renders the analytics worker's snapshot into the board. One EventSource on
// /events stays open: the worker pushes a snapshot each second when something changed and a
// keep-alive comment otherwise (invisible here), and the browser reconnects by itself after
// `retry` ms if the connection drops. The counts of `open` and `message` events and the server's
// stream number are kept on <body data-sse-*> for the browser test. Money arrives in minor units with an ISO 4217 code; every raw value is
// also kept in a data-value attribute so that tests can compare it with Redis exactly.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const nf = new Intl.NumberFormat("en-US");
  const pct = (a, b) => (b > 0 ? ((100 * a) / b).toFixed(1) + "%" : "–");
  const digits = (cur) => {
    try { return new Intl.NumberFormat("en-US", { style: "currency", currency: cur }).resolvedOptions().maximumFractionDigits; }
    catch (e) { return 2; }
  };
  const money = (minor, cur) => {
    const d = digits(cur);
    try {
      return new Intl.NumberFormat("en-US", { style: "currency", currency: cur, maximumFractionDigits: d })
        .format(minor / Math.pow(10, d));
    } catch (e) { return nf.format(minor) + " " + cur; }
  };
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const setNum = (id, v, text) => { const el = $(id); el.dataset.value = String(v); el.textContent = text != null ? text : nf.format(v); };
  const byPrefix = (obj, prefix) => Object.keys(obj || {}).filter((k) => k.startsWith(prefix))
    .map((k) => [k.slice(prefix.length), obj[k]]).sort((a, b) => b[1] - a[1]);

  let chart = null, chartCur = null, lastAt = 0;

  function renderChart(snap) {
    const mins = snap.minutes || [];
    const revs = byPrefix(snap.total, "revenue:");
    const cur = revs.length ? revs[0][0] : "KRW";
    const d = digits(cur);
    const xs = mins.map((m) => m.t), rev = mins.map((m) => (m["revenue:" + cur] || 0) / Math.pow(10, d)),
      ord = mins.map((m) => m.orders || 0), users = mins.map((m) => m.users || 0);
    $("chart-cur").textContent = "· " + cur;
    const el = $("chart");
    const width = Math.max(300, el.clientWidth);
    if (!window.uPlot) { el.textContent = "chart library missing (run deploy/web-deps.sh)"; return; }
    if (!chart || chartCur !== cur) {
      if (chart) chart.destroy();
      chartCur = cur;
      const grid = { stroke: "#232a36", width: 1 };
      chart = new uPlot({
        width, height: 260, cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, rev: { auto: true }, n: { auto: true } },
        axes: [
          { stroke: "#7d8799", grid, ticks: grid },
          { scale: "rev", stroke: "#7d8799", grid, ticks: grid, size: 100,
            values: (u, v) => v.map((x) => money(x * Math.pow(10, d), cur)) },
          { scale: "n", side: 1, stroke: "#7d8799", grid: { show: false }, size: 50 },
        ],
        series: [
          { value: (u, v) => (v == null ? "–" : new Date(v * 1000).toISOString().slice(11, 16) + " UTC") },
          { label: "Revenue", scale: "rev", stroke: "#5794f2", width: 2, fill: "rgba(87,148,242,0.15)",
            value: (u, v) => (v == null ? "–" : money(v * Math.pow(10, d), cur)) },
          { label: "Orders", scale: "n", stroke: "#73bf69", width: 2, points: { show: false } },
          { label: "Active users", scale: "n", stroke: "#b877d9", width: 1, dash: [4, 4], points: { show: false } },
        ],
      }, [xs, rev, ord, users], el);
    } else {
      chart.setData([xs, rev, ord, users]);
      if (Math.abs(chart.width - width) > 4) chart.setSize({ width, height: 260 });
    }
  }

  function renderKpis(snap) {
    const day = snap.day || {}, total = snap.total || {}, act = snap.active || {};
    const revs = byPrefix(day, "revenue:");
    if (revs.length) {
      const [cur, v] = revs[0];
      const el = $("rev-main");
      el.dataset.currency = cur;
      setNum("rev-main", v, money(v, cur));
      $("rev-other").innerHTML = revs.slice(1).map(([c, x]) => `<span data-testid="revenue-${esc(c)}" data-value="${x}">${esc(money(x, c))}</span>`).join(" · ") || "&nbsp;";
      const o = day["orders:" + cur] || 0;
      setNum("aov", o ? Math.round(v / o) : 0, o ? money(Math.round(v / o), cur) : "–");
    } else { setNum("rev-main", 0, "–"); }
    setNum("orders-today", day.orders || 0);
    setNum("orders-total", total.orders || 0);
    setNum("items-today", day.items || 0);
    setNum("dau", act.dau || 0);
    setNum("wau", act.wau || 0);
    setNum("mau", act.mau || 0);
    setNum("mau-min", act.minute || 0);
    setNum("refunds", day.refunds || 0);
    setNum("chargebacks", day.chargebacks || 0);
    setNum("late", total.late || 0);
  }

  function renderFunnel(day) {
    const steps = [["Product views", day.views || 0], ["Add to cart", day.carts || 0], ["Orders", day.orders || 0]];
    const top = Math.max(1, steps[0][1]);
    $("funnel").innerHTML = steps.map(([name, v], i) => `
      <div class="funnel-step"><div class="lbl"><span>${name}</span><b data-testid="funnel-${i}" data-value="${v}">${nf.format(v)}</b></div>
      <div class="bar" style="width:${Math.max(0.5, (100 * v) / top)}%"></div>
      ${i ? `<div class="conv">${pct(v, steps[i - 1][1])} of previous step · ${pct(v, steps[0][1])} of views</div>` : ""}</div>`).join("");
  }

  function renderTop(list) {
    $("top").innerHTML = (list || []).map((p, i) => `<tr><td>${i + 1}</td><td title="${esc(p.product)}">${esc(p.title)} <span class="muted">${esc(p.product)}</span></td>
      <td class="num">${nf.format(p.views)}</td><td class="num">${nf.format(p.carts)}</td>
      <td class="num" data-testid="top-units" data-value="${p.units}">${nf.format(p.units)}</td><td class="num">${pct(p.buys, p.views)}</td></tr>`).join("")
      || `<tr><td colspan="6" class="empty">no purchases yet today</td></tr>`;
  }

  function renderTrending(list) {
    $("trending").innerHTML = (list || []).map((t) => `<li><span>${esc(t.member)}</span><span class="n">${nf.format(Math.round(t.score))}</span></li>`).join("")
      || `<div class="empty">no trending searches (search worker not running?)</div>`;
  }

  function renderFraud(list) {
    $("fraud").innerHTML = (list || []).length ? `<table class="tbl"><thead><tr><th>Order</th><th class="num">Score</th><th>Level</th><th>Reasons</th></tr></thead><tbody>` +
      list.map((f) => `<tr><td>${esc(f.member)}</td><td class="num">${esc(f.score || "–")}</td><td><span class="lvl high">${esc(f.level || "high")}</span></td><td title="${esc(f.reasons)}">${esc(f.reasons || "")}</td></tr>`).join("") + `</tbody></table>`
      : `<div class="empty">no high-risk orders</div>`;
  }

  function renderCohorts(c, day) {
    const ab = (c && c.ab) || [];
    $("ab").innerHTML = ab.map((v) => `<tr><td>${esc(v.variant)}</td><td class="num">${nf.format(v.users)}</td><td class="num">${nf.format(v.carts)}</td>
      <td class="num">${nf.format(v.buyers)}</td><td class="num">${pct(v.buyers, v.users)}</td></tr>`).join("") || `<tr><td colspan="5" class="empty">no variants today</td></tr>`;
    const vis = (c && c.visual) || {};
    const items = [
      ["Points earned", day.points_earned || 0], ["Points spent", day.points_spent || 0],
      ["Visual searches", vis.searches || 0], ["Visual → order", pct(vis.buyers || 0, vis.users || 0)],
      ["Stock-outs", day.stockouts || 0], ["Time out of stock", ((day.oos_ms || 0) / 3600000).toFixed(1) + " h"],
      ["Searches", day.searches || 0], ["Signups", day.signups || 0],
    ];
    $("engagement").innerHTML = items.map(([k, v]) => `<div><b>${typeof v === "number" ? nf.format(v) : esc(v)}</b><span>${k}</span></div>`).join("");
  }

  function renderHealth(workers) {
    $("health").innerHTML = (workers || []).map((w) => {
      if (!w.up) return `<tr><td>${esc(w.name)}</td><td class="muted">not running</td><td colspan="7" class="muted">${esc(w.url)}</td></tr>`;
      const parts = (w.partitions || []).map((p) => `<i class="${p.lag > 0 ? "lag" : ""}" title="${esc(p.topic)} #${p.partition}: ${p.lag}">${nf.format(p.lag)}</i>`).join("");
      return `<tr><td>${esc(w.name)}</td><td class="${w.ready ? "ok" : "bad"}">${w.ready ? "ready" : "not ready"}</td>
        <td class="num">${nf.format(Math.round(w.events_per_s || 0))}</td><td class="num ${w.lag > 0 ? "warn" : ""}" data-testid="lag-${esc(w.name)}" data-value="${w.lag}">${nf.format(w.lag || 0)}</td>
        <td><div class="parts">${parts}</div></td><td class="num ${w.dlq_per_s > 0 ? "bad" : ""}">${(w.dlq_per_s || 0).toFixed(2)}</td><td class="num">${nf.format(w.dlq || 0)}</td>
        <td class="num">${(w.flush_ms_redis || 0).toFixed(1)} ms</td><td class="num">${(w.flush_ms_pg || 0).toFixed(1)} ms</td></tr>`;
    }).join("");
  }

  function renderStatus(snap) {
    const st = snap.status || {};
    const set = (id, up, label) => { const el = $(id); el.className = "pill " + (up ? "up" : "down"); el.textContent = label; el.dataset.state = up ? "up" : "down"; };
    set("st-redis", st.redis === "up", "Redis");
    set("st-pg", st.postgresql === "up", "PostgreSQL");
    const down = [st.redis !== "up" && "Redis", st.postgresql !== "up" && "PostgreSQL"].filter(Boolean);
    const b = $("outage");
    b.classList.toggle("hidden", !down.length);
    b.textContent = down.length ? `${down.join(" and ")} unreachable: showing the last known values; the workers pause and resume by themselves.` : "";
    const sse = snap.sse || {}, stream = snap.stream || {};
    $("stream-info").textContent = `stream #${stream.id || "–"} · ${nf.format(stream.message || 0)} updates · ${nf.format(sse.open || 0)} viewer${sse.open === 1 ? "" : "s"}`;
    if (snap.now_ms) $("clock").textContent = new Date(snap.now_ms).toISOString().slice(0, 16).replace("T", " ") + " UTC";
  }

  let last = null;
  function render(snap) {
    lastAt = Date.now();
    renderStatus(snap);
    renderHealth(snap.health);
    if (snap.status && snap.status.redis !== "up") return; // keep the last known view
    last = snap;
    renderKpis(snap);
    renderChart(snap);
    renderFunnel(snap.day || {});
    renderTop(snap.top_products);
    renderTrending(snap.trending);
    renderFraud(snap.fraud);
    renderCohorts(snap.cohorts, snap.day || {});
    document.body.dataset.seq = String(snap.seq);
  }
  function set_stream(state) {
    const el = $("st-stream");
    el.className = "pill " + (state === "live" ? "up" : "down");
    el.textContent = state;
    el.dataset.state = state;
  }

  const es = new EventSource("/events");
  const counts = { opens: 0, messages: 0 };
  const count = (k) => { counts[k]++; document.body.dataset["sse" + k[0].toUpperCase() + k.slice(1)] = String(counts[k]); };
  es.onopen = () => { count("opens"); set_stream("live"); };
  es.onmessage = (e) => {
    count("messages");
    let snap;
    try { snap = JSON.parse(e.data); } catch (err) { console.error(err); return; }
    if (snap.stream) document.body.dataset.sseStream = String(snap.stream.id);
    render(snap);
  };
  es.onerror = () => { set_stream(es.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting"); };

  // Data that did not change is not sent again: "changed" is the age of the last snapshot that
  // differed, while the stream pill says whether the connection is up.
  setInterval(() => {
    const age = lastAt ? Math.round((Date.now() - lastAt) / 1000) : null;
    $("updated").textContent = age == null ? "–" : age <= 1 ? "just now" : age + " s ago";
    if (es.readyState !== EventSource.OPEN) set_stream(es.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting");
  }, 1000);
  window.addEventListener("resize", () => { if (last) renderChart(last); });
})();
