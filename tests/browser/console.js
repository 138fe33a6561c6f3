// Uses the web console the way a person does, in Debian's headless Chromium
// driven by playwright-core: `node console.js < request.json`.
//
// The request is `{"chromium", "origin", "operator", "viewer", "password",
// "check", "incident", "intl", "out"}`: the browser to run, the daemon's
// origin, the emails of an operator and a viewer and their password, the
// failing check, its open incident, viewers whose emails are not plain ASCII
// (with the same password), and where screenshots go. The answer, on stdout, is one
// JSON object the Rust test asserts on: where each step landed, what the pages
// show, what axe-core finds on each, how forged posts were answered, the page
// on a phone and in dark mode, and every URL asked for. Nothing here decides
// whether the console is right: it only reports what a person would see.
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const request = JSON.parse(fs.readFileSync(0, "utf8"));

const { ARGS, LAUNCH_MS, NAVIGATION_MS } = require("./chromium.js");

// How long a form the browser refuses to send is waited for.
const SUBMIT_MS = 5000;

const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };

// Another site, served by the driver itself, whose page posts a form to the
// console as a cross-site request forgery would.
const EVIL = "http://evil.test";

// Runs in a console page: what a person sees of it.
function readPage() {
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : null);
  const attr = (el, name) => (el ? el.getAttribute(name) : null);
  const q = (sel) => document.querySelector(sel);
  const qa = (sel) => Array.from(document.querySelectorAll(sel));
  return {
    url: location.pathname + location.search,
    title: document.title,
    lang: document.documentElement.lang,
    h1: text(q("h1")),
    who: text(q("header .who .name")),
    role: attr(q("header .who .role"), "data-role"),
    problem: text(q(".problem")),
    message: text(q(".message p")),
    checks: qa("tr.check").map((r) => ({ name: attr(r, "data-check"), state: attr(r, "data-state"), text: text(r) })),
    summary_state: attr(q("section.summary"), "data-state"),
    summary_status: attr(q("section.summary"), "data-status"),
    hour_bars: qa("svg.bars rect.bar").length,
    bars_label: attr(q("svg.bars"), "aria-label"),
    runs: qa("tr.run").map((r) => attr(r, "data-up")),
    open_incident: attr(q(".open-incident a"), "href"),
    forms: qa("main form").map((f) => attr(f, "action")),
    timeline: qa("ol.timeline > li").map((li) => ({ event: attr(li, "data-event"), at: attr(li.querySelector("time"), "datetime"), text: text(li) })),
    times_without_datetime: qa("time:not([datetime])").length,
    inputs_without_label: qa("input:not([type=hidden]), select, textarea").filter((el) => !(el.id && document.querySelector(`label[for="${el.id}"]`))).length,
    scripts: qa("script").length,
    background: getComputedStyle(document.body).backgroundColor,
    colour: getComputedStyle(document.body).color,
  };
}

async function main() {
  const origin = request.origin.replace(/\/$/, "");
  fs.mkdirSync(request.out, { recursive: true });
  const requests = [];
  const answer = { screenshots: {}, axe: {} };
  const browser = await chromium.launch({ executablePath: request.chromium, args: ARGS, headless: true, timeout: LAUNCH_MS });
  try {
    answer.browser = browser.version();
    const context = async (options) => {
      const ctx = await browser.newContext(options);
      await ctx.route("**/*", (route) => {
        const url = route.request().url();
        requests.push(url);
        if (url === origin || url.startsWith(origin + "/")) return route.continue();
        if (url.startsWith(EVIL + "/")) {
          // The forger's page: a form to the console without the CSRF token, sent at once.
          return route.fulfill({
            status: 200,
            contentType: "text/html",
            body: `<!doctype html><html lang="en"><title>win a prize</title><form method="post" action="${origin}/ui/incidents/${request.incident}/resolve"><input type="hidden" name="comment" value="forged"></form><script>document.forms[0].submit()</script></html>`,
          });
        }
        return route.abort("blockedbyclient");
      });
      return ctx;
    };
    const shot = async (page, name) => {
      const file = path.join(request.out, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      answer.screenshots[name] = file;
    };
    const axeSource = fs.readFileSync(require.resolve("axe-core"), "utf8");
    // axe-core evaluated by the driver (the page's policy allows no script).
    const axe = async (page, name) => {
      await page.evaluate(axeSource);
      answer.axe[name] = await page.evaluate(async () => {
        const r = await window.axe.run(document, { resultTypes: ["violations"] });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")) }));
      });
    };
    // Clicks `selector` and waits for the page it leads to; its status and what it shows.
    const follow = async (page, selector) => {
      const [res] = await Promise.all([page.waitForNavigation({ waitUntil: "load", timeout: NAVIGATION_MS }), page.click(selector)]);
      return { status: res ? res.status() : null, ...(await page.evaluate(readPage)) };
    };

    const ctx = await context({ viewport: DESKTOP, colorScheme: "light" });
    const page = await ctx.newPage();

    // A console page without a session: the login form, which brings the person back.
    const first = await page.goto(`${origin}/ui/checks`, { waitUntil: "load", timeout: NAVIGATION_MS });
    answer.before_login = { status: first ? first.status() : null, ...(await page.evaluate(readPage)) };
    await shot(page, "login");
    await axe(page, "login");

    // A wrong password: the form again, with the error.
    await page.fill("#email", request.operator);
    await page.fill("#password", request.password + "-wrong");
    answer.wrong_password = await follow(page, "form[action='/ui/login'] button[type=submit]");
    await shot(page, "login-wrong-password");

    await page.fill("#email", request.operator);
    await page.fill("#password", request.password);
    answer.after_login = await follow(page, "form[action='/ui/login'] button[type=submit]");
    answer.cookies = (await ctx.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path, secure: c.secure }));
    await shot(page, "checks");
    await axe(page, "checks");

    // The failing check's page.
    answer.check = await follow(page, `tr.check[data-check="${request.check}"] th a`);
    await shot(page, "check");
    await axe(page, "check");

    // Its open incident, acknowledged.
    answer.incident = await follow(page, ".open-incident a");
    await axe(page, "incident");
    await shot(page, "incident");
    answer.acknowledged = await follow(page, "form#ack button[type=submit]");
    await shot(page, "incident-acknowledged");

    // A form without the CSRF token, made in the console's own page.
    answer.forged_same_origin = await (async () => {
      const [res] = await Promise.all([
        page.waitForNavigation({ waitUntil: "load", timeout: NAVIGATION_MS }),
        page.evaluate((id) => {
          const f = document.createElement("form");
          f.method = "post";
          f.action = `/ui/incidents/${id}/resolve`;
          document.body.appendChild(f);
          f.submit();
        }, request.incident),
      ]);
      return { status: res ? res.status() : null, ...(await page.evaluate(readPage)) };
    })();
    await shot(page, "forged-same-origin");

    // Another site's page posting to the console.
    const evil = await ctx.newPage();
    const landed = evil.waitForURL((u) => u.href.startsWith(origin), { waitUntil: "load", timeout: NAVIGATION_MS });
    const evilRes = evil.waitForResponse((r) => r.url().startsWith(`${origin}/ui/incidents/`), { timeout: NAVIGATION_MS });
    await evil.goto(`${EVIL}/prize`, { waitUntil: "commit", timeout: NAVIGATION_MS });
    const res = await evilRes;
    await landed;
    answer.forged_cross_site = { status: res.status(), ...(await evil.evaluate(readPage)) };
    await shot(evil, "forged-cross-site");
    await evil.close();

    // The incident is still only acknowledged.
    await page.goto(`${origin}/ui/incidents/${request.incident}`, { waitUntil: "load", timeout: NAVIGATION_MS });
    answer.after_forgeries = await page.evaluate(readPage);

    // Dark mode, then a phone.
    await page.emulateMedia({ colorScheme: "dark" });
    answer.dark = await page.evaluate(readPage);
    await axe(page, "incident_dark");
    await shot(page, "incident-dark");
    await page.emulateMedia({ colorScheme: "light" });

    // Logging out, then a console page again.
    answer.logged_out = await follow(page, "header form.logout button[type=submit]");
    const again = await page.goto(`${origin}/ui/checks`, { waitUntil: "load", timeout: NAVIGATION_MS });
    answer.after_logout = { status: again ? again.status() : null, ...(await page.evaluate(readPage)) };
    await ctx.close();

    // A viewer, on a phone: reads everything, acts on nothing.
    const phone = await context({ viewport: PHONE, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    await p.goto(`${origin}/ui/login`, { waitUntil: "load", timeout: NAVIGATION_MS });
    await p.fill("#email", request.viewer);
    await p.fill("#password", request.password);
    answer.viewer_checks = await follow(p, "form[action='/ui/login'] button[type=submit]");
    const width = () => ({ scroll_width: document.scrollingElement.scrollWidth, inner_width: window.innerWidth });
    answer.phone_checks = await p.evaluate(width);
    await shot(p, "phone-checks");
    await p.goto(`${origin}/ui/incidents/${request.incident}`, { waitUntil: "load", timeout: NAVIGATION_MS });
    answer.viewer_incident = await p.evaluate(readPage);
    answer.phone_incident = await p.evaluate(width);
    await shot(p, "phone-viewer-incident");
    await axe(p, "viewer_incident_phone");
    await p.goto(`${origin}/ui/incidents`, { waitUntil: "load", timeout: NAVIGATION_MS });
    await axe(p, "incidents_phone");
    await shot(p, "phone-incidents");
    await phone.close();

    // People whose emails are not plain ASCII, through the same form. A browser
    // that refuses to send the form (or rewrites the email) leaves them on it.
    answer.intl = [];
    for (const email of request.intl || []) {
      const c = await context({ viewport: DESKTOP });
      const pg = await c.newPage();
      await pg.goto(`${origin}/ui/login`, { waitUntil: "load", timeout: NAVIGATION_MS });
      await pg.fill("#email", email);
      await pg.fill("#password", request.password);
      const sent = pg.waitForNavigation({ waitUntil: "load", timeout: SUBMIT_MS }).catch(() => null);
      await pg.click("form[action='/ui/login'] button[type=submit]");
      const res = await sent;
      const validation = res ? null : await pg.$eval("#email", (el) => el.validationMessage);
      answer.intl.push({ email, submitted: res !== null, status: res ? res.status() : null, validation, ...(await pg.evaluate(readPage)) });
      await c.close();
    }
  } finally {
    await browser.close();
  }
  answer.requests = requests;
  answer.external = requests.filter((u) => !(u === origin || u.startsWith(origin + "/")) && !u.startsWith(EVIL + "/"));
  process.stdout.write(JSON.stringify(answer));
}

main().catch((e) => {
  process.stderr.write(`console.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
