// Drives Debian's Chromium (headless, through puppeteer-core) over sagad's web view, on a
// sagad with API tokens that has run the order sample:
//   - the page asks for a token, asks again after one sagad refuses, and keeps the one it
//     takes in session storage only (not local storage, not a cookie; a new tab asks);
//   - a viewer reads but its compensate is refused (403, shown); after signing out, an
//     operator's token compensates;
//   - the saga list, filtered to compensated sagas, shows only those;
//   - a saga's page draws its graph (an SVG from the DOT the API returns) and its timeline;
//   - the Compensate button shows the compensation plan (the refund before the release)
//     and, after its confirmation with a reason, compensates a completed
//     saga, and the page shows the new status;
//   - the workflows page draws every definition.
// Usage: VIEWER_TOKEN=... OPERATOR_TOKEN=... node webview.test.mjs SAGAD_URL SCREENSHOT_DIR
import puppeteer from "puppeteer-core";

const [url, shots] = process.argv.slice(2);
const { VIEWER_TOKEN: viewer, OPERATOR_TOKEN: operator } = process.env;
if (!viewer || !operator) {
  console.error("VIEWER_TOKEN and OPERATOR_TOKEN must be set");
  process.exit(2);
}
const failures = [];
const check = (ok, what) => {
  console.log(`  ${ok ? "ok  " : "FAIL"}  ${what}`);
  if (!ok) failures.push(what);
};

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // The browser logs every 401 and 403 as a failed load; those are the test's own doing.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[13]/.test(m.text())) errors.push(m.text());
  });
  const signIn = async (token) => {
    await page.waitForSelector("#login[open]", { timeout: 10000 });
    await page.type("#login-token", token);
    await page.click("#login-ok");
  };

  // The token prompt: a refused token asks again; the viewer's is taken and kept in this
  // tab's session storage only.
  await page.goto(`${url}/#/sagas`, { waitUntil: "networkidle0" });
  const prompt = await page.waitForSelector("#login[open]", { timeout: 10000 }).then(() => true, () => false);
  check(prompt, "the page asks for a token");
  await page.screenshot({ path: `${shots}/webview-login.png` });
  await signIn("sgf_this-token-is-not-one-sagad-knows-0000000000");
  await page.waitForFunction(() => document.querySelector("#login[open]") &&
    document.getElementById("login-text").textContent.includes("did not accept"), { timeout: 10000 });
  check(true, "a token sagad refuses: the prompt comes back saying so");
  await page.type("#login-token", viewer);
  await page.click("#login-ok");
  await page.waitForSelector("#sagas tr[data-id]", { timeout: 10000 });
  const kept = await page.evaluate((t) => ({
    session: sessionStorage.getItem("sagaflow.token") === t, local: localStorage.length, cookie: document.cookie,
  }), viewer);
  check(kept.session && kept.local === 0 && kept.cookie === "",
        `the token is in session storage only (local storage ${kept.local} items, cookie '${kept.cookie}')`);
  const other = await browser.createBrowserContext();
  const stranger = await other.newPage();
  await stranger.goto(`${url}/#/sagas`, { waitUntil: "networkidle0" });
  check(await stranger.waitForSelector("#login[open]", { timeout: 10000 }).then(() => true, () => false),
        "another browser context does not have it: it asks again");
  await other.close();

  // The list, filtered by the form.
  await page.goto(`${url}/#/sagas`, { waitUntil: "networkidle0" });
  await page.select("#filters select[name=status]", "compensated");
  await page.click("#filters button[type=submit]");
  await page.waitForFunction(() => location.hash.includes("status=compensated") && document.querySelector("#sagas"), { timeout: 10000 });
  await page.waitForSelector("#sagas tr[data-id]", { timeout: 10000 });
  const statuses = await page.$$eval("#sagas tr[data-id] .status", (els) => els.map((e) => e.dataset.status));
  check(statuses.length > 0 && statuses.every((s) => s === "compensated"),
        `the list filtered to compensated shows ${statuses.length} sagas, all compensated`);
  await page.screenshot({ path: `${shots}/webview-list.png` });

  // One compensated saga: its graph and its timeline.
  const first = await page.$eval("#sagas tr[data-id]", (tr) => tr.dataset.id);
  await page.click(`#sagas tr[data-id="${first}"] a`);
  await page.waitForSelector("#graph svg", { timeout: 20000 });
  const nodes = await page.$$eval("#graph svg g.node", (g) => g.length);
  check(nodes > 3, `saga ${first}: its graph is drawn (${nodes} nodes)`);
  const timeline = await page.$$eval("#timeline li", (li) => li.map((l) => l.textContent));
  check(timeline.some((t) => t.includes("compensated")) && timeline.some((t) => t.includes("started")),
        `its timeline runs from started to compensated (${timeline.length} events)`);
  const reason = await page.$eval("#reason", (e) => e.textContent);
  check(reason.length > 1, `its reason is shown: ${reason}`);
  await page.screenshot({ path: `${shots}/webview-saga.png`, fullPage: true });
  await page.screenshot({ path: `${shots}/webview-saga-top.png` });  // the one docs/webview.png shows

  const by = await page.$$eval("#nodes .attempt .who", (w) => w.map((e) => e.textContent));
  check(by.length > 0 && by.every((w) => / by \S+-1/.test(w)), `every attempt names the worker that ran it (${by[0]})`);

  // A completed saga: the viewer may not compensate it.
  await page.goto(`${url}/#/sagas?status=completed&limit=1`, { waitUntil: "networkidle0" });
  await page.waitForSelector("#sagas tr[data-id]", { timeout: 10000 });
  const done = await page.$eval("#sagas tr[data-id]", (tr) => tr.dataset.id);
  const compensate = async (reason) => {
    await page.goto(`${url}/#/sagas/${done}`, { waitUntil: "networkidle0" });
    await page.waitForSelector("#compensate:not([disabled])", { timeout: 10000 });
    await page.click("#compensate");
    await page.waitForSelector("#confirm[open]", { timeout: 5000 });
    await page.type("#confirm-reason", reason);
  };
  await compensate("a viewer tries");
  await page.click("#confirm-ok");
  const refused = await page.waitForFunction(() => document.querySelector(".error")?.textContent ?? "", { timeout: 10000 })
    .then((h) => h.jsonValue());
  check(refused.startsWith("permission_denied"), `the viewer's compensate is refused and says why: ${refused}`);

  // Signed out, the operator's token compensates it through the button.
  await page.click("#signout");
  await signIn(operator);
  await page.waitForFunction(() => !document.querySelector("#login[open]"), { timeout: 10000 });
  await compensate("returned, via the web view");
  const plan = await page.waitForFunction(() => {
    const items = [...document.querySelectorAll("#plan li")].map((li) => li.textContent);
    return items.length && !items[0].startsWith("Loading") ? items : null;
  }, { timeout: 10000 }).then((h) => h.jsonValue());
  check(plan.some((p) => p.includes("refund_payment")) && plan.some((p) => p.includes("release_inventory")) &&
        plan.findIndex((p) => p.includes("refund_payment")) < plan.findIndex((p) => p.includes("release_inventory")),
        `the dialog shows the compensation plan, the refund before the release: ${plan.join(" | ")}`);
  await page.screenshot({ path: `${shots}/webview-confirm.png` });
  await page.click("#confirm-ok");
  let now = "";
  for (const until = Date.now() + 30000; Date.now() < until;) {
    await page.goto(`${url}/#/sagas/${done}?t=${Date.now()}`, { waitUntil: "networkidle0" });
    await page.waitForSelector("h2 .status", { timeout: 10000 });
    now = await page.$eval("h2 .status", (e) => e.dataset.status);
    if (now === "compensated") break;
  }
  check(now === "compensated", `the completed saga ${done} is compensated after the button (status ${now})`);
  const shown = await page.$eval("#reason", (e) => e.textContent);
  check(shown.includes("returned, via the web view"), `the reason typed in the dialog is its reason: ${shown}`);
  const audit = await page.$$eval("#timeline li", (li) => li.map((l) => l.textContent).filter((t) => t.includes("compensation_requested")));
  check(audit.length === 1 && audit[0].includes('"by":"operator-1"'), `the timeline names the operator's token: ${audit[0]}`);
  await page.waitForSelector("#graph svg", { timeout: 20000 });
  await page.screenshot({ path: `${shots}/webview-compensated.png`, fullPage: true });

  // Every workflow definition drawn.
  await page.goto(`${url}/#/workflows`, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.querySelectorAll(".workflow").length > 0 &&
    [...document.querySelectorAll(".workflow")].every((w) => w.querySelector("svg")), { timeout: 20000 });
  const drawn = await page.$$eval(".workflow svg", (s) => s.length);
  check(drawn >= 2, `the workflows page draws ${drawn} definitions`);
  await page.screenshot({ path: `${shots}/webview-workflows.png`, fullPage: true });
  check(errors.length === 0, `no script errors${errors.length ? ": " + errors.join("; ") : ""}`);
} catch (e) {
  check(false, `the browser run: ${e.message}`);
} finally {
  await browser.close();
}
console.log(failures.length === 0 ? "web view: all checks passed" : `web view: ${failures.length} check(s) failed`);
process.exit(failures.length === 0 ? 0 : 1);
