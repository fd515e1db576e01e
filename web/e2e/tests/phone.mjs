// What the phone-app browser tests share: the phone they run on, screenshots checked with axe, and the
// steps a user takes again and again (log in, type the key the card shows, activate).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { outDir } from './harness.mjs';

/** A 390×844 Android phone, in Danish. */
export const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'da-DK',
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
};

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Saves the screen as NAME.png (`fullPage`: the whole page) and checks it with axe (WCAG 2 A/AA: labels,
 * contrast, roles, names).
 */
export async function screenshot(page, name, { fullPage = false } = {}) {
  await page.screenshot({ path: join(outDir, `${name}.png`), fullPage });
  // Evaluated through the DevTools protocol, so the app's CSP (scripts from the server only) stays as it is.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `accessibility of ${name}`);
}

/**
 * A `shot(name, page)` for one test file: saves `PREFIX-NAME.png` (axe-checked), and the first time a screen
 * of a kind (its help topic, `main[data-screen]`) is shot, opens its help "?" too: the help must say something
 * of its own (not a missing text's key), and is saved as `PREFIX-help-TOPIC.png` (axe-checked with the dialog
 * open). `helped` holds the topics whose help was shown.
 */
export function shooter(prefix, mainPage) {
  const helped = new Set();
  const shot = async (name, page = mainPage()) => {
    await screenshot(page, `${prefix}-${name}`);
    const topic = await page.locator('#screen').getAttribute('data-screen').catch(() => null);
    if (!topic || helped.has(topic)) return;
    helped.add(topic);
    await page.getByRole('button', { name: /^(Hjælp|Help)$/ }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const body = (await dialog.locator('.help-body').textContent()).trim();
    assert.ok(body.length > 20 && !body.startsWith('helpTexts.'), `the help on ${topic} says something: ${body}`);
    await screenshot(page, `${prefix}-help-${topic}`);
    await dialog.getByRole('button', { name: /^(Luk|Close)$/ }).click();
    await dialog.waitFor({ state: 'hidden' });
  };
  shot.helped = helped;
  return shot;
}

/** On how many lines `text` (inside the element `locator`) is painted. */
export function linesOf(locator, text) {
  return locator.evaluate((el, wanted) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const nodes = [];
    for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
    const whole = nodes.map((n) => n.data).join('');
    const at = whole.indexOf(wanted);
    if (at < 0) return 0;
    // The text may span several text nodes: find where it starts and ends.
    const place = (offset) => {
      for (const n of nodes) {
        if (offset <= n.data.length) return [n, offset];
        offset -= n.data.length;
      }
      return [nodes.at(-1), nodes.at(-1).data.length];
    };
    const range = document.createRange();
    range.setStart(...place(at));
    range.setEnd(...place(at + wanted.length));
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
  }, text);
}

/** Types the key the key screen asks for, from `card`. */
export async function typeKey(page, card) {
  const prompt = await page.locator('.key-prompt').textContent();
  const number = prompt.match(/(\d{4})\s*$/)[1];
  await page.getByLabel(/^(Nøgle|Key) \d{4}$/).fill(card.keys[number]);
}

export async function logIn(page, { userId, password }) {
  await page.getByLabel('Bruger-id').fill(userId);
  await page.getByLabel('Adgangskode').fill(password);
  await page.getByRole('button', { name: 'Næste' }).click();
}
