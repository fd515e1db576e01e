// The app code's OPAQUE works across the two clients: the browser (@serenity-kit/opaque) unlocks a device whose
// code the Rust key app registered, and the Rust key app unlocks a device whose code the browser registered.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binary, launchChromium, startDemo } from './harness.mjs';

const CODE = '7391';
let demo;
let browser;
let page;

function noegleapp(dir, args, input) {
  return spawnSync(binary('noegleapp'), args, { input, encoding: 'utf8', env: { ...process.env, NOEGLEAPP_DIR: dir } });
}

before(async () => {
  demo = await startDemo({ NOEGLE_ACTIVATION_WAIT_SECS: '0' });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.route(`${demo.base}/__opaque_test/**`, (route) => {
    const path = new URL(route.request().url()).pathname;
    // The OPAQUE client and the signing module exactly as the server embeds and serves them to the key app.
    for (const file of ['opaque.js', 'signing.js']) {
      if (path.endsWith(`/${file}`)) return route.fetch({ url: `${demo.base}/app/${file}` }).then((response) => route.fulfill({ response }));
    }
    return route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><script type="module">import * as o from "./opaque.js"; import * as s from "./signing.js"; await o.ready; window.opaque = o; window.signing = s; window.ready = true;</script>',
    });
  });
  await page.goto(`${demo.base}/__opaque_test/index.html`);
  await page.waitForFunction(() => window.ready === true);
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

test('the browser unlocks a device whose code the Rust key app registered', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'noegle-opaque-')), 'app');
  const card = join(demo.dataDir, 'demo-keycard.json');
  const login = ['--user-id', 'demo', '--password-stdin', '--keycard-json', card];
  assert.equal(noegleapp(dir, ['activate', 'start', '--server', demo.base, ...login], 'demo-adgangskode\n').status, 0);
  const done = noegleapp(dir, ['activate', 'complete', ...login], `demo-adgangskode\n${CODE}\n`);
  assert.equal(done.status, 0, done.stderr);
  // The device id and the unlock token every unlock of the device names.
  const { device_id: deviceId, unlock_token: unlockToken } = JSON.parse(readFileSync(join(dir, 'device.json'), 'utf8'));

  const result = await page.evaluate(async ({ deviceId, unlockToken, code }) => {
    const { client } = window.opaque;
    const post = async (path, body) => {
      const r = await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: await r.json() };
    };
    const attempt = async (password) => {
      const { clientLoginState, startLoginRequest } = client.startLogin({ password });
      const start = await post('/api/app/v1/app-code/login/start', { device_id: deviceId, message: startLoginRequest, unlock_token: unlockToken });
      const finished = client.finishLogin({ clientLoginState, loginResponse: start.body.message, password });
      if (!finished) return { opened: false };
      const finish = await post('/api/app/v1/app-code/login/finish', { device_id: deviceId, message: finished.finishLoginRequest, unlock_token: unlockToken });
      return { opened: true, status: finish.status, session: typeof finish.body.app_session === 'string' };
    };
    return { wrong: await attempt('0000'), right: await attempt(code) };
  }, { deviceId, unlockToken, code: CODE });
  assert.deepEqual(result, { wrong: { opened: false }, right: { opened: true, status: 200, session: true } });
});

test('the Rust key app unlocks a device whose code the browser registered', async () => {
  const card = JSON.parse(readFileSync(join(demo.dataDir, 'demo-keycard.json'), 'utf8'));
  const { deviceId, unlockToken } = await page.evaluate(async ({ card, code }) => {
    const s = window.signing;
    const { client } = window.opaque;
    const json = (r) => r.json();
    const post = (path, body, headers = {}) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const keys = await s.newDeviceKey();
    const signed = async (method, path, body) => {
      const bytes = body ? new TextEncoder().encode(JSON.stringify(body)) : new Uint8Array();
      const now = (await json(await fetch('/api/app/v1/time'))).now;
      const nonce = s.b64url(crypto.getRandomValues(new Uint8Array(18)));
      const sig = await s.sign(keys.privateKey, await s.canonicalBytes({ method, pathAndQuery: path, deviceId: window.deviceId, timestamp: now, nonce, body: bytes }));
      const headers = { 'noegle-device': window.deviceId, 'noegle-timestamp': String(now), 'noegle-nonce': nonce, 'noegle-signature': sig };
      return json(await fetch(path, { method, headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? bytes : undefined }));
    };
    const login = async () => json(await post('/api/app/v1/login', { user_id: 'demo', password: 'demo-adgangskode' }));
    let t = await login();
    const started = await json(await post('/api/app/v1/activation', {
      ticket: t.ticket, key: card.keys[t.key_card.key_number], public_key: await s.publicKeyB64(keys.publicKey),
      platform: 'web', os_version: '1', name: 'Chromium',
    }));
    window.deviceId = started.device_id;
    t = await login();
    await signed('POST', '/api/app/v1/activation/complete', { ticket: t.ticket, key: card.keys[t.key_card.key_number] });
    const { clientRegistrationState, registrationRequest } = client.startRegistration({ password: code });
    const response = await signed('POST', '/api/app/v1/app-code/register/start', { message: registrationRequest });
    const { registrationRecord } = client.finishRegistration({ clientRegistrationState, registrationResponse: response.message, password: code });
    const set = await signed('POST', '/api/app/v1/app-code/register/finish', { message: registrationRecord });
    if (!set.code_set) throw new Error(JSON.stringify(set));
    return { deviceId: window.deviceId, unlockToken: set.unlock_token };
  }, { card, code: CODE });

  // A Rust key app that knows only the device id and its unlock token: its OPAQUE login against the browser's record decides
  // whether the server opens a session; the device key it then tries to open is not the browser's, so
  // "cannot be opened" means the code check itself succeeded, and "wrong code" that it failed.
  const dir = mkdtempSync(join(tmpdir(), 'noegle-opaque-rust-'));
  mkdirSync(join(dir, 'app'));
  writeFileSync(join(dir, 'app', 'device.json'), JSON.stringify({
    server: demo.base, device_id: deviceId, serial: null, status: 'active', ready_at: null, private_key: null, unlock_token: unlockToken,
    sealed_key: { nonce: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
  }));
  const wrong = noegleapp(join(dir, 'app'), ['requests', '--code-stdin'], '0000\n');
  assert.match(wrong.stderr, /wrong code/);
  const right = noegleapp(join(dir, 'app'), ['requests', '--code-stdin'], `${CODE}\n`);
  assert.match(right.stderr, /device key cannot be opened/, right.stderr);
});
