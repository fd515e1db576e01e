// The numbers the phone app states come from the server's /about (one source): with other numbers there —
// two devices, a 30-minute wait, 3 wrong codes, a 10-minute session — the welcome, the terms, the wait and
// the code screen (and their help) say those, and no other.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, startTestServer } from './harness.mjs';
import { PHONE, logIn, typeKey } from './phone.mjs';

let server;
let browser;
let app;

const OTHER = { max_devices: 2, activation_wait_secs: 1800, code_attempts: 3, app_session_secs: 600 };

before(async () => {
  server = await startTestServer(['--activation-wait', '1800']);
  browser = await launchChromium();
  const context = await browser.newContext(PHONE);
  // The server's own answer, with the numbers no constant of the app holds (the wait is the server's own).
  await context.route('**/api/app/v1/about', async (route) => {
    const told = await (await route.fetch()).json();
    await route.fulfill({ json: { ...told, ...OTHER } });
  });
  app = await context.newPage();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const help = async () => {
  await app.getByRole('button', { name: 'Hjælp' }).click();
  const text = await app.locator('.help-body').textContent();
  await app.getByRole('dialog').getByRole('button', { name: 'Luk' }).click();
  return text;
};

test('the welcome, the terms, the wait and the code (and their help) say the numbers /about tells', async () => {
  await app.goto(`${server.base}/app/`);
  await app.getByText('højst 2 enheder ad gangen.', { exact: false }).waitFor();
  assert.match(await help(), /tager lidt over 30 minutter, fordi du af sikkerhedshensyn skal vente 30 minutter mellem/);
  await app.getByRole('button', { name: 'Start' }).click();
  await app.getByText('på op til 2 enheder.', { exact: false }).waitFor();
  await app.getByLabel('Jeg accepterer ovenstående vilkår').check();
  await app.getByRole('button', { name: 'Næste' }).click();
  await logIn(app, { userId: server.user_id, password: server.password });
  await typeKey(app, server.card);
  await app.getByRole('button', { name: 'Aktivér nøgleapp' }).click();
  await app.locator('h1').filter({ hasText: 'Vent 30 minutter' }).waitFor();
  assert.match(await help(), /venter du 30 minutter, før du logger ind igen/);
  assert.equal(await app.getByText(/en time|5 minutter|5 forkerte/).count(), 0, 'no number of the app\'s own');

  await server.advance(1800);
  await app.locator('h1').filter({ hasText: 'Ventetiden er ovre' }).waitFor({ timeout: 10000 });
  await app.getByRole('button', { name: 'Næste' }).click();
  await logIn(app, { userId: server.user_id, password: server.password });
  await typeKey(app, server.card);
  await app.getByRole('button', { name: 'Aktivér nøgleapp' }).click();
  await app.locator('h1').filter({ hasText: 'Vælg en firecifret kode' }).waitFor({ timeout: 15000 });
  assert.match(await help(), /efter 3 forkerte forsøg spærres appen/);
});
