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

/** Saves the screen as NAME.png and checks it with axe (WCAG 2 A/AA: labels, contrast, roles, names). */
export async function screenshot(page, name) {
  await page.screenshot({ path: join(outDir, `${name}.png`) });
  // Evaluated through the DevTools protocol, so the app's CSP (scripts from the server only) stays as it is.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa'] } });
    return r.violations.map((v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  assert.deepEqual(violations, [], `accessibility of ${name}`);
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
