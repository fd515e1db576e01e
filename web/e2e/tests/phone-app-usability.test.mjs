// The phone key app as a new user meets it: what it says before anyone is refused (the limit of
// three devices, the oldest iOS and Android), the key card's serial written as on the card, the guide from
// any help "?", no gear while the first code is chosen, settings reachable from the lock screen with a back
// button in the header and the language last, the support's phone number and web address, a too-old phone
// refused in Danish only — at Start, before anything is typed (R-APP3) —, headings without a focus frame, a
// disabled "Næste" that can still be read, and a fourth device refused, naming the three (R-APP2).
// Every screen is saved as web/e2e/out/usability-*.png and checked with axe (help too: usability-help-*.png).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, launchChromium, startTestServer } from './harness.mjs';
import { PHONE, linesOf, logIn, shooter, typeKey } from './phone.mjs';

const CODE = '7391';
let server;
let browser;
let app;

const shot = shooter('usability', () => app);
const heading = (page = app) => page.locator('h1');

/** The contrast ratio (WCAG 2) of an element's text against its background, both as the browser paints them. */
function contrastOf(locator) {
  return locator.evaluate((el) => {
    const rgb = (c) => c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const style = getComputedStyle(el);
    let bg = style.backgroundColor;
    for (let p = el; p && /rgba\(0, 0, 0, 0\)|transparent/.test(bg); p = p.parentElement) bg = getComputedStyle(p).backgroundColor;
    if (style.opacity !== '1') return 0; // a see-through control: its colours are not what is painted
    const [a, b] = [lum(rgb(style.color)), lum(rgb(bg))].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
  });
}

before(async () => {
  server = await startTestServer(['--support-phone', '+45 70 20 70 20', '--support-url', 'https://support.example/noegle']);
  browser = await launchChromium();
  app = await (await browser.newContext(PHONE)).newPage();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('before starting: the limits are said, no heading wears a focus frame, and the guide is in the help', async () => {
  await app.goto(`${server.base}/app/`);
  await heading().filter({ hasText: 'Aktivér din nøgleapp' }).waitFor();
  await app.getByText('højst 3 enheder ad gangen. Den kræver iOS 9 eller Android 4.4 eller nyere.').waitFor();
  const focused = await app.evaluate(() => ({ tag: document.activeElement.tagName, outline: getComputedStyle(document.activeElement).outlineStyle }));
  assert.deepEqual(focused, { tag: 'H1', outline: 'none' }, 'the heading has focus for screen readers, without a frame');
  await shot('01-welcome');

  await app.getByRole('button', { name: 'Hjælp' }).click();
  await app.getByRole('dialog').getByRole('button', { name: 'Vis vejledning' }).click();
  for (let step = 1; step <= 4; step++) {
    await app.getByText(`Trin ${step} af 4`).waitFor();
    if (step === 1) await shot('02-guide-from-help');
    await app.getByRole('button', { name: step < 4 ? 'Næste' : 'OK' }).click();
  }
  await heading().filter({ hasText: 'Aktivér din nøgleapp' }).waitFor();
});

test('activation: the serial as on the card, a readable disabled "Næste", no gear while choosing the code', async () => {
  await app.getByRole('button', { name: 'Start' }).click();
  await app.getByLabel('Jeg accepterer ovenstående vilkår').check();
  await app.getByRole('button', { name: 'Næste' }).click();
  await logIn(app, { userId: server.user_id, password: server.password });
  const s = server.card.serial;
  const printed = `${s.slice(0, 3)}-${s.slice(3, 6)}-${s.slice(6)}`;
  await app.locator('.key-prompt').filter({ hasText: `Nøglekort ${printed}:` }).waitFor();
  assert.equal(await linesOf(app.locator('.key-prompt'), printed), 1, 'the card serial on one line');
  await shot('03-key-serial');
  await typeKey(app, server.card);
  await app.getByRole('button', { name: 'Aktivér nøgleapp' }).click();

  await heading().filter({ hasText: 'Vent en time' }).waitFor();
  const next = app.getByRole('button', { name: 'Næste' });
  assert.equal(await next.isDisabled(), true);
  const ratio = await contrastOf(next);
  assert.ok(ratio >= 4.5, `the disabled "Næste" reads at ${ratio.toFixed(2)}:1`);
  await shot('04-wait-disabled-next');
  await server.advance(3600);
  await heading().filter({ hasText: 'Ventetiden er ovre' }).waitFor({ timeout: 10000 });
  await next.click();
  await logIn(app, { userId: server.user_id, password: server.password });
  await typeKey(app, server.card);
  await app.getByRole('button', { name: 'Aktivér nøgleapp' }).click();

  await heading().filter({ hasText: 'Vælg en firecifret kode' }).waitFor();
  assert.equal(await app.locator('#left button').count(), 0, 'no gear: the settings would ask for a code not yet chosen');
  await shot('05-code-no-gear');
  for (const title of ['Vælg en firecifret kode', 'Gentag koden']) {
    await heading().filter({ hasText: title }).waitFor();
    await app.getByLabel('Kode (4 cifre)').fill(CODE);
    await app.getByRole('button', { name: 'Næste' }).click();
  }
  const fingerprint = app.getByRole('button', { name: 'Fortsæt uden' });
  const guide = app.getByText('Trin 1 af 4');
  await Promise.race([fingerprint.waitFor({ timeout: 15000 }), guide.waitFor({ timeout: 15000 })]);
  if (await fingerprint.isVisible()) await fingerprint.click();
  for (let step = 1; step <= 4; step++) {
    await app.getByText(`Trin ${step} af 4`).waitFor();
    await app.getByRole('button', { name: step < 4 ? 'Næste' : 'OK' }).click();
  }
  await app.getByRole('button', { name: 'OK' }).click();
  await heading().filter({ hasText: 'Klar til opdateringer' }).waitFor();
});

test('the gear on the lock screen opens the settings that need no code; back from the header', async () => {
  await app.reload();
  await heading().filter({ hasText: 'Lås nøgleappen op' }).waitFor();
  await app.getByRole('button', { name: 'Indstillinger' }).click();
  await heading().filter({ hasText: 'Indstillinger' }).waitFor();
  await app.getByText('Lås nøgleappen op for at ændre lås, fingeraftryk, meddelelser og kode').waitFor();
  for (const item of ['Hjælp og NemID support', 'Vis vejledning', 'English']) await app.getByRole('button', { name: item }).waitFor();
  for (const item of ['Skift kode for nøgleapp', 'Afmeld nøgleapp']) {
    assert.equal(await app.getByRole('button', { name: item }).count(), 0, `${item} needs the code`);
  }
  const back = app.getByRole('button', { name: 'Tilbage' });
  const box = await back.boundingBox();
  assert.ok(box.y >= 0 && box.y + box.height <= PHONE.viewport.height, 'back is on screen without scrolling');
  await shot('06-settings-locked');
  await back.click();
  await heading().filter({ hasText: 'Lås nøgleappen op' }).waitFor();
});

test('unlocked settings end with the language; support gives a phone number and a web address', async () => {
  await app.getByLabel('Kode (4 cifre)').fill(CODE);
  await app.getByRole('button', { name: 'Lås op', exact: true }).click();
  await heading().filter({ hasText: 'Klar til opdateringer' }).waitFor();
  await app.getByRole('button', { name: 'Indstillinger' }).click();
  await app.getByRole('button', { name: 'Skift kode for nøgleapp' }).waitFor();
  assert.equal((await app.locator('ul.settings > li').last().textContent()).trim(), 'English', 'the language comes last');
  const back = await app.getByRole('button', { name: 'Tilbage' }).boundingBox();
  assert.ok(back.y + back.height <= PHONE.viewport.height, 'back is on screen without scrolling');
  await shot('07-settings');
  await app.getByRole('button', { name: 'Hjælp og NemID support' }).click();
  const phone = app.getByRole('link', { name: '+45 70 20 70 20' });
  await phone.waitFor();
  assert.equal(await phone.getAttribute('href'), 'tel:+4570207020');
  assert.equal(await app.getByRole('link', { name: 'https://support.example/noegle' }).getAttribute('href'), 'https://support.example/noegle');
  await shot('08-support');
  await app.getByRole('button', { name: 'Tilbage' }).click();
  await heading().filter({ hasText: 'Indstillinger' }).waitFor();
});

test('a phone below the oldest Android is refused at Start, in Danish only, before anything is typed', async () => {
  const old = await browser.newContext({ ...PHONE, userAgent: 'Mozilla/5.0 (Linux; Android 4.3; Galaxy S3) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36' });
  const page = await old.newPage();
  await page.goto(`${server.base}/app/`);
  const refusal = page.getByRole('alert').filter({ hasText: 'Nøgleappen kræver Android 4.4 eller nyere. Denne enhed har 4.3.' });
  await refusal.waitFor();
  await heading(page).filter({ hasText: 'Nøgleappen kan ikke bruges på denne enhed' }).waitFor();
  assert.doesNotMatch(await refusal.textContent(), /needs|device has/, 'no English in the Danish sentence');
  // Nothing to start, so nothing is asked for (no user ID, password or key in vain).
  for (const name of ['Start', 'Næste', 'Aktivér nøgleapp']) {
    assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no "${name}"`);
  }
  assert.equal(await page.getByLabel('Bruger-id').count(), 0, 'no user ID asked for');
  await shot('09-too-old', page);
  // In English by choice.
  await page.getByRole('button', { name: 'English' }).click();
  await page.getByRole('alert').filter({ hasText: 'The key app needs Android 4.4 or newer. This device has 4.3.' }).waitFor();
  await shot('09b-too-old-en', page);
  await old.close();
  // An Android at the minimum may start.
  const fine = await browser.newContext({ ...PHONE, userAgent: 'Mozilla/5.0 (Linux; Android 4.4; Nexus 5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36' });
  const ok = await fine.newPage();
  await ok.goto(`${server.base}/app/`);
  await ok.getByText('Den kræver iOS 9 eller Android 4.4 eller nyere.').waitFor();
  await ok.getByRole('button', { name: 'Start' }).click();
  await heading(ok).filter({ hasText: 'Vilkår' }).waitFor();
  await fine.close();
});

/** The terminal key app activated as one more device of the user (both log-ins, the hour on the server's clock). */
function activateTerminalApp() {
  const dir = mkdtempSync(join(tmpdir(), 'noegleapp-usability-'));
  const card = join(dir, 'card.json');
  writeFileSync(card, JSON.stringify(server.card));
  const run = (args, input) => {
    const r = spawnSync(binary('noegleapp'), args, { input, encoding: 'utf8', env: { ...process.env, NOEGLEAPP_DIR: join(dir, 'app') } });
    assert.equal(r.status, 0, `noegleapp ${args.join(' ')}: ${r.stderr}`);
  };
  const login = ['--user-id', server.user_id, '--password-stdin', '--keycard-json', card];
  return {
    start: () => run(['activate', 'start', '--server', server.base, ...login], `${server.password}\n`),
    complete: () => run(['activate', 'complete', ...login], `${server.password}\n${CODE}\n`),
  };
}

test('a fourth device is refused with a clear message naming the three (R-APP2)', async () => {
  // The phone above is one; two terminal key apps make three.
  const more = [activateTerminalApp(), activateTerminalApp()];
  more.forEach((d) => d.start());
  await server.advance(3600);
  more.forEach((d) => d.complete());

  const fourth = await browser.newContext(PHONE);
  const page = await fourth.newPage();
  await page.goto(`${server.base}/app/`);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByLabel('Jeg accepterer ovenstående vilkår').check();
  await page.getByRole('button', { name: 'Næste' }).click();
  await logIn(page, { userId: server.user_id, password: server.password });
  await typeKey(page, server.card);
  await page.getByRole('button', { name: 'Aktivér nøgleapp' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'Du har allerede 3 aktive nøgleapps:' });
  await refusal.waitFor();
  assert.match(await refusal.textContent(), /Pixel 8/, 'the devices are named');
  assert.match(await refusal.textContent(), /Afmeld en af dem først\.$/);
  await shot('10-fourth-device', page);
  await fourth.close();
});

test('every kind of screen met here had its help "?" shown and saved (R-APP7)', () => {
  for (const topic of ['welcome', 'unsupported', 'key', 'wait', 'code', 'settings', 'support']) {
    assert.ok(shot.helped.has(topic), `help on ${topic}`);
  }
});
