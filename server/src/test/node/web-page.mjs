// Drives the web chat page of a running moe4j server in Debian's headless Chromium through
// playwright-core (which never downloads a browser of its own): one message in Fast mode, one in
// Expert mode, the keyboard, screenshots. Prints one JSON object on stdout that
// dev.moe4j.server.clients.WebPageChromiumTest asserts on.
//
//   node web-page.mjs --url http://127.0.0.1:PORT/ --out DIR [--chromium /usr/bin/chromium]
//                     [--max-tokens N] [--api-key KEY]
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

function arg(name, fallback) {
  const i = process.argv.indexOf("--" + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const url = arg("url");
const out = arg("out");
if (!url || !out) {
  console.error("usage: node web-page.mjs --url http://127.0.0.1:PORT/ --out DIR [--chromium PATH] [--max-tokens N]");
  process.exit(2);
}
const executablePath = arg("chromium", "/usr/bin/chromium");
const maxTokens = arg("max-tokens", "24");
const apiKey = arg("api-key", "");
const origin = new URL(url).origin;
fs.mkdirSync(out, { recursive: true });

const result = { consoleErrors: [], httpErrors: [], pageErrors: [], requests: [], offOrigin: [] };
const timeout = 30_000;

// playwright gives every launch a fresh temporary profile (its own --user-data-dir) and removes it after
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  timeout,
});
try {
  result.browserVersion = browser.version();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // Chromium logs every non-2xx response; those the test provokes (401 before the key, 4xx) are not page bugs
    if (m.text().startsWith("Failed to load resource")) result.httpErrors.push(m.text());
    else result.consoleErrors.push(m.text());
  });
  page.on("pageerror", (e) => result.pageErrors.push(String(e)));
  // the page must load nothing from anywhere but its own server (no CDN, no fonts): refuse and record
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (u.startsWith(origin + "/") || u === origin || u.startsWith("data:") || u.startsWith("blob:")) return route.continue();
    result.offOrigin.push(u);
    return route.abort();
  });
  page.on("request", (r) => {
    if (r.url().endsWith("/v1/chat/completions") && r.method() === "POST") {
      let body = null;
      try { body = JSON.parse(r.postData() ?? "null"); } catch { /* recorded as null */ }
      result.requests.push({ authorization: r.headers()["authorization"] ?? null, body });
    }
  });

  const t0 = Date.now();
  await page.goto(url, { waitUntil: "load" });
  result.title = await page.title();
  await page.waitForSelector("#model[data-loaded]");
  if (apiKey) {
    // a server with --api-key: the model list is refused until the key is typed, then loads
    result.beforeKey = {
      modelsLoaded: await page.getAttribute("#model", "data-loaded"),
      status: await page.textContent("#status"),
    };
    await page.fill("#api-key", apiKey);
    await page.dispatchEvent("#api-key", "change");
    await page.waitForSelector("#model[data-loaded=true]");
    // the key is kept in localStorage: a reload needs no typing
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("#model[data-loaded]");
    result.keyAfterReload = await page.inputValue("#api-key");
  }
  result.models = await page.$$eval("#model option", (os) => os.map((o) => o.value));
  result.modelsLoaded = await page.getAttribute("#model", "data-loaded");
  await page.fill("#max-tokens", maxTokens);
  await page.dispatchEvent("#max-tokens", "change");

  // Shift+Enter makes a new line and sends nothing
  await page.click("#prompt");
  await page.keyboard.type("line one");
  await page.keyboard.press("Shift+Enter");
  await page.keyboard.type("line two");
  result.shiftEnter = {
    value: await page.inputValue("#prompt"),
    messages: await page.locator("[data-testid=user-message]").count(),
  };
  await page.fill("#prompt", "");

  /** Waits until the i-th answer has stopped streaming (done, stopped or error). */
  async function finished(i) {
    await page.waitForFunction((n) => {
      const m = document.querySelectorAll("[data-testid=assistant-message]")[n];
      return m && m.dataset.state !== "streaming";
    }, i);
  }

  /** Sends one message with Enter in the given mode and returns what the page showed. */
  async function turn(mode, text) {
    await page.click(`label[for=mode-${mode}]`); // the visible toggle, as a person clicks it
    result[mode + "Checked"] = await page.isChecked(`#mode-${mode}`);
    const before = await page.locator("[data-testid=assistant-message]").count();
    // the buttons as the page left them when it added the answer (a mutation observer runs right after the
    // page's own code): sampled afterwards from here, a short answer may already have finished streaming
    await page.evaluate((n) => {
      window.__streaming = null;
      const obs = new MutationObserver(() => {
        const m = document.querySelectorAll("[data-testid=assistant-message]")[n];
        if (m) {
          window.__streaming = {
            state: m.dataset.state,
            stopEnabled: !document.querySelector("#stop").disabled,
            sendDisabled: document.querySelector("#send").disabled,
          };
          obs.disconnect();
        }
      });
      obs.observe(document.body, { childList: true, subtree: true });
    }, before);
    await page.fill("#prompt", text);
    await page.press("#prompt", "Enter");
    const msg = page.locator("[data-testid=assistant-message]").nth(before);
    await msg.waitFor();
    const started = Date.now();
    // the stream is under way: Stop is enabled and Send is not
    const seen = await page.evaluate(() => window.__streaming);
    const stopEnabledWhileStreaming = seen !== null && seen.state === "streaming" && seen.stopEnabled;
    const sendDisabledWhileStreaming = seen !== null && seen.state === "streaming" && seen.sendDisabled;
    await finished(before);
    const reasoning = msg.locator("[data-testid=reasoning]");
    const hasReasoning = (await reasoning.count()) > 0;
    const usage = {};
    for (const k of ["prompt", "cached", "completion", "reasoning", "cost"]) {
      const l = msg.locator(`[data-testid=usage-${k}]`);
      usage[k] = (await l.count()) ? await l.textContent() : null;
    }
    return {
      mode,
      state: await msg.getAttribute("data-state"),
      dataMode: await msg.getAttribute("data-mode"),
      answer: await msg.locator("[data-testid=answer]").textContent(),
      hasReasoning,
      reasoningOpen: hasReasoning ? await reasoning.evaluate((d) => d.open) : null,
      reasoningSummary: hasReasoning ? await msg.locator("[data-testid=reasoning-summary]").textContent() : null,
      reasoningText: hasReasoning ? await msg.locator("[data-testid=reasoning-text]").textContent() : null,
      usage,
      errors: await msg.locator("[data-testid=error]").allTextContents(),
      notices: await msg.locator("[data-testid=notice]").allTextContents(),
      stopEnabledWhileStreaming,
      sendDisabledWhileStreaming,
      sendEnabledAfter: await page.isEnabled("#send"),
      ms: Date.now() - started,
    };
  }

  result.fast = await turn("fast", "Hello! Who are you?");
  result.expert = await turn("expert", "Why is the sky blue? Think it through.");
  result.userMessages = await page.locator("[data-testid=user-message]").allTextContents();
  await page.screenshot({ path: path.join(out, "web-chat.png") });

  // the reasoning block opens and closes from the keyboard
  const second = page.locator("[data-testid=assistant-message]").nth(1);
  if (await second.locator("[data-testid=reasoning-summary]").count()) {
    const isOpen = () => second.locator("[data-testid=reasoning]").evaluate((d) => d.open);
    const before = await isOpen();
    await second.locator("[data-testid=reasoning-summary]").focus();
    await page.keyboard.press("Enter");
    const after = await isOpen();
    result.reasoningToggle = { before, after };
    if (after) await page.screenshot({ path: path.join(out, "web-chat-reasoning-open.png") });
    else {
      await page.keyboard.press("Enter");
      await page.screenshot({ path: path.join(out, "web-chat-reasoning-open.png") });
    }
  }

  // Stop aborts a stream under way (clicked once the first delta is on the page); the page keeps working
  await page.fill("#max-tokens", "2000");
  await page.dispatchEvent("#max-tokens", "change");
  await page.click("label[for=mode-expert]");
  await page.fill("#prompt", "Write a very long essay.");
  await page.press("#prompt", "Enter");
  await page.waitForFunction(() => {
    const m = document.querySelectorAll("[data-testid=assistant-message]")[2];
    return m && (m.dataset.state !== "streaming" || m.textContent.length > 0 && (m.querySelector("[data-testid=reasoning-text]")?.textContent.length > 0 || m.querySelector("[data-testid=answer]").textContent.length > 0));
  });
  const third = page.locator("[data-testid=assistant-message]").nth(2);
  const stateBeforeStop = await third.getAttribute("data-state");
  if (stateBeforeStop === "streaming") await page.click("#stop");
  await finished(2);
  result.stopped = {
    stateBeforeStop,
    state: await third.getAttribute("data-state"),
    summary: (await third.locator("[data-testid=reasoning-summary]").allTextContents())[0] ?? null,
    errors: await third.locator("[data-testid=error]").allTextContents(),
    sendEnabled: await page.isEnabled("#send"),
  };

  // an error answer is shown inline from the error JSON (here: more tokens than the context holds)
  await page.fill("#max-tokens", "100000000");
  await page.dispatchEvent("#max-tokens", "change");
  await page.fill("#prompt", "This asks for too much.");
  await page.press("#prompt", "Enter");
  await finished(3);
  const fourth = page.locator("[data-testid=assistant-message]").nth(3);
  result.errorTurn = {
    state: await fourth.getAttribute("data-state"),
    errors: await fourth.locator("[data-testid=error]").allTextContents(),
    role: await fourth.locator("[data-testid=error]").first().getAttribute("role"),
  };

  // a narrow screen: everything still reachable, nothing wider than the viewport
  await page.setViewportSize({ width: 390, height: 844 });
  result.narrow = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    sendVisible: !!document.getElementById("send").offsetParent,
  }));
  await page.screenshot({ path: path.join(out, "web-chat-narrow.png") });
  result.totalMs = Date.now() - t0;
  await context.close();
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
