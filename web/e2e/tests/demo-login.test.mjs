// A person logs in to Demo Bank through the log-in box with a password and a key from the key card.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, startDemo } from './harness.mjs';
import { screenshot } from './phone.mjs';

let demo;
let browser;

before(async () => {
  demo = await startDemo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

async function openLoginBox(page) {
  await page.goto(`${demo.base}/demo/`);
  await page.getByRole('link', { name: 'Log på med nøgle' }).click();
  await page.waitForURL(`${demo.base}/login`);
}

// The Danish box at a desktop size and on a 390×844 phone, each step saved as a screenshot
// and checked with axe.
for (const [size, viewport, suffix] of [['desktop', { width: 1024, height: 768 }, ''], ['phone', { width: 390, height: 844 }, '-phone']]) {
  test(`log in to Demo Bank with password and key card, and see name and amr (${size})`, async () => {
    const context = await browser.newContext({ locale: 'da-DK', viewport, isMobile: size === 'phone' });
    const page = await context.newPage();
    const fits = async () => assert.ok(
      await page.evaluate(() => document.scrollingElement.scrollWidth <= window.innerWidth), 'no sideways scrolling');
    await openLoginBox(page);
    await assert.doesNotReject(page.getByText('Demo Bank').first().waitFor());
    await fits();
    await screenshot(page, `login-step1${suffix}`);

    await page.getByLabel('Bruger-id').fill('demo');
    await page.getByLabel('Adgangskode').fill('demo-adgangskode');
    await page.getByRole('button', { name: 'Næste' }).click();

    const number = (await page.locator('.number').textContent()).trim();
    assert.match(number, /^\d{4}$/);
    const serial = (await page.locator('.serial').textContent()).replaceAll('-', '');
    assert.equal(serial, demo.card.serial);
    await fits();
    await screenshot(page, `login-step2-keycard${suffix}`);

    await page.getByLabel(`Nøgle ${number}`).fill(demo.card.keys[number]);
    await page.getByRole('button', { name: 'Log på' }).click();

    await page.waitForURL(/\/demo\/callback/);
    assert.equal(await page.locator('#name').textContent(), 'Demo Bruger');
    assert.equal(await page.locator('#amr').textContent(), 'pwd otp mfa');
    await screenshot(page, `demo-bank-logged-in${suffix}`);
    await context.close();
  });
}

test('a wrong password is refused with a clear message, in English by choice, on a phone', async () => {
  const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  await openLoginBox(page);
  assert.equal(await page.locator('h1').textContent(), 'Log in with nøgle');
  await page.getByLabel('User ID').fill('demo');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Next' }).click();
  const alert = page.getByRole('alert');
  assert.match(await alert.textContent(), /user ID or password is wrong/);
  assert.equal(await page.getByLabel('User ID').inputValue(), 'demo', 'the typed user ID is kept');
  await screenshot(page, 'login-phone-en-error', { fullPage: true });

  // The switch back to Danish keeps the user in the same step.
  await page.getByRole('link', { name: 'Dansk' }).click();
  assert.equal(await page.locator('h1').textContent(), 'Log på med nøgle');
  await context.close();
});

test('cancel returns to Demo Bank with access_denied', async () => {
  const context = await browser.newContext({ locale: 'da-DK' });
  const page = await context.newPage();
  await openLoginBox(page);
  await page.getByRole('button', { name: 'Afbryd' }).click();
  await page.waitForURL(/\/demo\/callback/);
  assert.match(await page.locator('.error').textContent(), /access_denied/);
  await context.close();
});

test('the language switch never leaves our origin, however its way back is disguised', async () => {
  const context = await browser.newContext({ locale: 'da-DK' });
  const page = await context.newPage();
  const origin = new URL(demo.base).origin;
  // Browsers drop tabs and newlines from a URL, so `/\t/evil.example/` would read as `//evil.example/`.
  for (const back of ['/%09/evil.example/', '/%0a/evil.example/', '/%5Cevil.example/', '//evil.example/']) {
    const response = await page.goto(`${demo.base}/lang/en?back=${back}`);
    assert.equal(new URL(page.url()).origin, origin, `back=${back} stays on ${origin}, not ${page.url()}`);
    assert.ok(response.status() < 500, `back=${back}: ${response.status()}`);
  }
  await context.close();
});
