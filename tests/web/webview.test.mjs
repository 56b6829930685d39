// Drives Debian's Chromium (headless, through puppeteer-core) over sagad's web view, on a
// sagad that has run the order sample:
//   - the saga list, filtered to compensated sagas, shows only those;
//   - a saga's page draws its graph (an SVG from the DOT the API returns) and its timeline;
//   - the Compensate button, after its confirmation with a reason, compensates a completed
//     saga, and the page shows the new status;
//   - the workflows page draws every definition.
// Usage: node webview.test.mjs SAGAD_URL SCREENSHOT_DIR
import puppeteer from "puppeteer-core";

const [url, shots] = process.argv.slice(2);
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
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });

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

  // A completed saga, compensated through the button.
  await page.goto(`${url}/#/sagas?status=completed&limit=1`, { waitUntil: "networkidle0" });
  await page.waitForSelector("#sagas tr[data-id]", { timeout: 10000 });
  const done = await page.$eval("#sagas tr[data-id]", (tr) => tr.dataset.id);
  await page.goto(`${url}/#/sagas/${done}`, { waitUntil: "networkidle0" });
  await page.waitForSelector("#compensate:not([disabled])", { timeout: 10000 });
  await page.click("#compensate");
  await page.waitForSelector("#confirm[open]", { timeout: 5000 });
  await page.type("#confirm-reason", "returned, via the web view");
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
