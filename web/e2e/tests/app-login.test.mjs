// The key app end to end: the terminal key app is activated against `noegle demo`, and a log-in at Demo Bank
// in the browser is approved from it; Demo Bank shows amr with swk.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, launchChromium, startDemo } from './harness.mjs';
import { screenshot } from './phone.mjs';

let demo;
let browser;
const appDir = mkdtempSync(join(tmpdir(), 'noegleapp-e2e-'));
const CODE = '7391';

function noegleapp(args, input) {
  const r = spawnSync(binary('noegleapp'), args, { input, encoding: 'utf8', env: { ...process.env, NOEGLEAPP_DIR: join(appDir, 'app') } });
  assert.equal(r.status, 0, `noegleapp ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  // The wait between the two activation log-ins is set to nothing here; its rule is tested on a settable clock.
  demo = await startDemo({ NOEGLE_ACTIVATION_WAIT_SECS: '0' });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

test('a Demo Bank log-in approved in the terminal key app', async () => {
  const card = join(demo.dataDir, 'demo-keycard.json');
  const login = ['--user-id', 'demo', '--password-stdin', '--keycard-json', card];
  noegleapp(['activate', 'start', '--server', demo.base, ...login], 'demo-adgangskode\n');
  const done = noegleapp(['activate', 'complete', ...login], `demo-adgangskode\n${CODE}\n`);
  assert.match(done, /Din nøgleapp er nu aktiveret/);

  const context = await browser.newContext({ locale: 'da-DK', viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  await page.goto(`${demo.base}/demo/`);
  await page.getByRole('link', { name: 'Log på med nøgle' }).click();
  await page.getByLabel('Bruger-id').fill('demo');
  await page.getByLabel('Adgangskode').fill('demo-adgangskode');
  await page.getByRole('button', { name: 'Næste' }).click();
  await page.getByRole('button', { name: 'Skift til nøglekort' }).waitFor();
  await screenshot(page, 'login-step2-app');
  await page.getByRole('button', { name: 'Send anmodning til nøgleapp' }).click();

  const code = (await page.locator('#match-code').textContent()).trim();
  assert.match(code, /^\d{2}$/);
  assert.match(await page.locator('.notice').textContent(), /Log på Demo Bank/);
  await screenshot(page, 'login-step3-waiting');
  // The waiting page asks quietly (twice here) and does not load again while nothing changes.
  let loads = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) loads += 1; });
  for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/login/state'), { timeout: 10000 });
  assert.equal(loads, 0, 'no reload, no flicker while waiting');

  const shown = JSON.parse(noegleapp(['requests', '--json', '--code-stdin'], `${CODE}\n`));
  assert.equal(shown[0].client_name, 'Demo Bank');
  noegleapp(['approve', '--code-stdin', '--match-code', code], `${CODE}\n`);

  // The waiting page follows the request and continues by itself.
  await page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  assert.equal(await page.locator('#name').textContent(), 'Demo Bruger');
  assert.equal(await page.locator('#amr').textContent(), 'pwd swk mfa pin');
  await screenshot(page, 'demo-bank-app-login');
  await context.close();
});
