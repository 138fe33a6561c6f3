// Looks at a status page the way a visitor does, in Debian's headless Chromium
// driven by playwright-core: `node status_page.js < request.json`.
//
// The request is `{"chromium", "origin", "page", "private"?, "token"?, "out"}`:
// the browser to run, the daemon's origin, the public page's path, a private
// page's path and its token, and where screenshots go. One browser runs every
// scenario; the answer, on stdout, is one JSON object the Rust test asserts on:
// what the page shows (with and without JavaScript), its colours in light and
// dark mode, its width on a phone, what axe-core finds, the private page's
// answers, and every URL the browser asked for. Nothing here decides whether
// the page is right: it only reports what a visitor would see.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const request = JSON.parse(fs.readFileSync(0, "utf8"));

const { ARGS, LAUNCH_MS, NAVIGATION_MS } = require("./chromium.js");

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };

// Runs in the page: what a visitor sees, read off the DOM contract's elements.
function readPage() {
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : null);
  const attr = (el, name) => (el ? el.getAttribute(name) : null);
  const colour = (el) => (el ? getComputedStyle(el).fill : null);
  const q = (sel, root = document) => root.querySelector(sel);
  const qa = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const main = q("main");
  const order = main ? qa(":scope > section, :scope > aside", main).map((el) => el.id || `group:${attr(el, "data-group")}`) : [];
  return {
    title: document.title,
    lang: document.documentElement.lang,
    h1: text(q("header h1")),
    description: text(q("header .description")),
    landmarks: { header: qa("header").length, main: qa("main").length, footer: qa("footer").length },
    order,
    overall: { state: attr(q("#overall"), "data-state"), role: attr(q("#overall"), "role"), text: text(q("#overall")) },
    announcement: text(q("#announcement")),
    maintenance: qa("#maintenance article.maintenance").map((a) => ({
      name: attr(a, "data-maintenance"),
      when: attr(a, "data-when"),
      text: text(a),
      times: qa("time", a).map((t) => attr(t, "datetime")),
    })),
    groups: qa("main section.group").map((g) => ({
      name: attr(g, "data-group"),
      heading: text(q("h2", g)),
      checks: qa("li.check", g).map((c) => {
        const bars = qa("svg.bars rect.bar", c);
        const svg = q("svg.bars", c);
        const spark = q("svg.sparkline", c);
        return {
          name: attr(c, "data-check"),
          state: attr(c, "data-state"),
          label: text(q(".check-name", c)),
          state_text: text(q(".state", c)),
          uptime: attr(q(".uptime", c), "data-uptime"),
          uptime_text: text(q(".uptime", c)),
          locations: qa(".locations li", c).map((li) => ({
            name: attr(li, "data-location"),
            state: attr(li, "data-state"),
            uptime: attr(li, "data-uptime"),
            text: text(li),
            colour: q(".state", li) ? getComputedStyle(q(".state", li)).color : null,
          })),
          locations_label: attr(q(".locations", c), "aria-label"),
          bars_label: attr(svg, "aria-label"),
          bars_role: attr(svg, "role"),
          bars: bars.map((b) => ({
            day: attr(b, "data-day"),
            state: attr(b, "data-state"),
            uptime: attr(b, "data-uptime"),
            title: text(q("title", b)),
            fill: colour(b),
          })),
          sparkline: spark
            ? {
                role: attr(spark, "role"),
                label: attr(spark, "aria-label"),
                polylines: qa("polyline", spark).length,
                // What is drawn: a line needs two points.
                points: qa("polyline", spark).reduce((n, p) => n + p.points.numberOfItems, 0),
                // An hour with data between hours without is a dot, not a line.
                dots: qa(".dot", spark).length,
              }
            : null,
        };
      }),
    })),
    incidents: {
      heading: text(q("#incidents h2")),
      none: text(q("#incidents .no-incidents")),
      list: qa("#incidents article.incident").map((a) => ({
        id: attr(a, "data-incident"),
        anchor: a.id,
        status: attr(a, "data-status"),
        heading: text(q("h3", a)),
        events: qa("ol.timeline > li", a).map((li) => ({
          event: attr(li, "data-event"),
          at: attr(q("time", li), "datetime"),
          text: text(li),
        })),
      })),
    },
    footer: {
      links: qa("footer a").map((a) => a.getAttribute("href")),
      generated: attr(q("footer time"), "datetime"),
    },
    scripts_with_src: qa("script[src]").length,
    styles: qa("style").length,
    color_scheme: attr(q('meta[name="color-scheme"]'), "content"),
    viewport: attr(q('meta[name="viewport"]'), "content"),
    visible_text: document.body ? document.body.innerText : "",
    background: getComputedStyle(document.body).backgroundColor,
    html_background: getComputedStyle(document.documentElement).backgroundColor,
    colour: getComputedStyle(document.body).color,
  };
}

async function main() {
  const origin = request.origin.replace(/\/$/, "");
  fs.mkdirSync(request.out, { recursive: true });
  const requests = [];
  const answer = { screenshots: {} };
  // playwright-core gives the browser a fresh, empty --user-data-dir of its own
  // under the temporary directory (it refuses one in `args`), removed on close.
  const browser = await chromium.launch({
    executablePath: request.chromium,
    args: ARGS,
    headless: true,
    timeout: LAUNCH_MS,
  });
  try {
    answer.browser = browser.version();

    // Every context records and vets each request: one outside the daemon's
    // origin is refused (so nothing leaves the machine) and reported.
    const context = async (options) => {
      const ctx = await browser.newContext(options);
      await ctx.route("**/*", (route) => {
        const url = route.request().url();
        requests.push(url);
        if (url === origin || url.startsWith(origin + "/")) return route.continue();
        return route.abort("blockedbyclient");
      });
      return ctx;
    };
    const visit = async (ctx, url) => {
      const page = await ctx.newPage();
      const res = await page.goto(url, { waitUntil: "load", timeout: NAVIGATION_MS });
      return { page, status: res ? res.status() : null, type: res ? res.headers()["content-type"] : null };
    };
    const shot = async (page, name) => {
      const file = path.join(request.out, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      answer.screenshots[name] = file;
    };
    const pageUrl = origin + request.page;

    // Light, desktop, JavaScript on: the page as most visitors see it.
    const light = await context({ viewport: DESKTOP, colorScheme: "light" });
    const l = await visit(light, pageUrl);
    answer.light = { status: l.status, content_type: l.type, ...(await l.page.evaluate(readPage)) };
    await shot(l.page, "light");

    // axe-core in the same page: WCAG A/AA rules (landmarks, contrast, names
    // and text alternatives, among others).
    // Evaluated, not added as a <script>: the page's Content-Security-Policy
    // allows no script, and the test should not need to weaken it.
    await l.page.evaluate(fs.readFileSync(require.resolve("axe-core"), "utf8"));
    answer.axe = await l.page.evaluate(async () => {
      const r = await window.axe.run(document, { resultTypes: ["violations"] });
      return {
        version: window.axe.version,
        violations: r.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
        })),
      };
    });

    // Dark mode by prefers-color-scheme, in the same context.
    await l.page.emulateMedia({ colorScheme: "dark" });
    answer.dark = await l.page.evaluate(readPage);
    await shot(l.page, "dark");
    await light.close();

    // JavaScript off: the page must not need it.
    const nojs = await context({ viewport: DESKTOP, colorScheme: "light", javaScriptEnabled: false });
    const n = await visit(nojs, pageUrl);
    // evaluate runs even with page scripts disabled: it is the driver's, not the page's.
    answer.nojs = { status: n.status, ...(await n.page.evaluate(readPage)) };
    await nojs.close();

    // A phone: 375 px wide, touch, no horizontal scrolling.
    const phone = await context({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const p = await visit(phone, pageUrl);
    answer.phone = await p.page.evaluate(() => ({
      visible_text: document.body ? document.body.innerText : "",
      scroll_width: document.scrollingElement.scrollWidth,
      inner_width: window.innerWidth,
      // Figures and times broken over two lines ("100.00" / "%", a date from its hour).
      wrapped: Array.from(document.querySelectorAll(".uptime, time"))
        .filter((el) => {
          const line = parseFloat(getComputedStyle(el).lineHeight) || 24;
          return el.getClientRects().length > 1 || el.getBoundingClientRect().height > line * 1.5;
        })
        .map((el) => el.textContent),
      // Elements whose right edge passes the viewport: what to fix when it scrolls.
      overflowing: Array.from(document.querySelectorAll("body *"))
        .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5)
        .slice(0, 10)
        .map((el) => el.tagName.toLowerCase() + (el.id ? `#${el.id}` : "") + (el.className && typeof el.className === "string" ? `.${el.className}` : "")),
    }));
    answer.phone.status = p.status;
    await shot(p.page, "phone");
    await phone.close();

    // A private page: 401 without its token, the page with it.
    if (request.private) {
      const priv = await context({ viewport: DESKTOP });
      const without = await visit(priv, origin + request.private);
      answer.private_without_token = {
        status: without.status,
        content_type: without.type,
        title: await without.page.title(),
        visible_text: await without.page.evaluate(() => (document.body ? document.body.innerText : "")),
      };
      await shot(without.page, "private-401");
      const sep = request.private.includes("?") ? "&" : "?";
      const withToken = await visit(priv, `${origin}${request.private}${sep}token=${encodeURIComponent(request.token)}`);
      answer.private_with_token = { status: withToken.status, ...(await withToken.page.evaluate(readPage)) };
      await priv.close();
    }
  } finally {
    await browser.close();
  }
  answer.requests = requests;
  answer.external = requests.filter((u) => !(u === origin || u.startsWith(origin + "/")));
  process.stdout.write(JSON.stringify(answer));
}

main().catch((e) => {
  process.stderr.write(`status_page.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
