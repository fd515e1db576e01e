// The web key app's signing module (web/app/signing.js) builds exactly the bytes of the proto test vectors,
// verifies their signatures, and a WebCrypto device key it makes is accepted by the real server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, repo, startDemo } from './harness.mjs';

let demo;
let browser;
const signingJs = readFileSync(join(repo, 'web/app/signing.js'), 'utf8');
const vectors = JSON.parse(readFileSync(join(repo, 'crates/proto/test-vectors/signed-request.json'), 'utf8'));

before(async () => {
  demo = await startDemo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await demo?.stop();
});

/** A page on the demo server's origin (a secure context) with signing.js loaded as `window.signing`. */
async function pageWithSigning() {
  const page = await browser.newPage();
  await page.route(`${demo.base}/__signing_test/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname.endsWith('/signing.js')) {
      return route.fulfill({ contentType: 'text/javascript', body: signingJs });
    }
    return route.fulfill({
      contentType: 'text/html',
      body: '<!doctype html><script type="module">import * as s from "./signing.js"; window.signing = s; window.ready = true;</script>',
    });
  });
  await page.goto(`${demo.base}/__signing_test/index.html`);
  await page.waitForFunction(() => window.ready === true);
  return page;
}

test('the canonical bytes and signatures of the proto test vectors hold in the browser', async () => {
  const page = await pageWithSigning();
  const results = await page.evaluate(async ({ vectors }) => {
    const s = window.signing;
    const out = [];
    for (const c of vectors.cases) {
      const bytes = await s.canonicalBytes({
        method: c.method, pathAndQuery: c.path_and_query, deviceId: c.device_id,
        timestamp: c.timestamp, nonce: c.nonce, body: s.fromB64url(c.body_base64url),
      });
      const text = new TextDecoder().decode(bytes);
      const verifies = await s.verify(vectors.public_key_sec1_base64url, bytes, c.signature_base64url);
      const tampered = bytes.slice();
      tampered[20] ^= 1;
      const tamperedVerifies = await s.verify(vectors.public_key_sec1_base64url, tampered, c.signature_base64url);
      out.push({ name: c.name, same: text === c.canonical, verifies, tamperedVerifies });
    }
    return out;
  }, { vectors });
  assert.equal(results.length, 3);
  for (const r of results) {
    assert.deepEqual(r, { name: r.name, same: true, verifies: true, tamperedVerifies: false });
  }
  await page.close();
});

test('a non-extractable WebCrypto device key signs calls the server accepts, once', async () => {
  const card = JSON.parse(readFileSync(join(demo.dataDir, 'demo-keycard.json'), 'utf8'));
  const page = await pageWithSigning();
  const outcome = await page.evaluate(async ({ card }) => {
    const s = window.signing;
    const post = (path, body) => fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const login = await (await post('/api/app/v1/login', { user_id: 'demo', password: 'demo-adgangskode' })).json();
    const keys = await s.newDeviceKey();
    let extractable = true;
    try { await crypto.subtle.exportKey('pkcs8', keys.privateKey); } catch { extractable = false; }
    const started = await post('/api/app/v1/activation', {
      ticket: login.ticket, key: card.keys[login.key_card.key_number], public_key: await s.publicKeyB64(keys.publicKey),
      platform: 'web', os_version: '1', name: 'Chromium',
    });
    const device = await started.json();
    const now = (await (await fetch('/api/app/v1/time')).json()).now;
    const nonce = s.b64url(crypto.getRandomValues(new Uint8Array(18)));
    const bytes = await s.canonicalBytes({ method: 'GET', pathAndQuery: '/api/app/v1/device', deviceId: device.device_id, timestamp: now, nonce, body: new Uint8Array() });
    const headers = {
      'noegle-device': device.device_id, 'noegle-timestamp': String(now), 'noegle-nonce': nonce,
      'noegle-signature': await s.sign(keys.privateKey, bytes),
    };
    const first = await fetch('/api/app/v1/device', { headers });
    const replay = await fetch('/api/app/v1/device', { headers });
    return { extractable, created: started.status, status: (await first.json()).status, first: first.status, replay: replay.status, replayError: (await replay.json()).error };
  }, { card });
  assert.deepEqual(outcome, { extractable: false, created: 201, status: 'pending', first: 200, replay: 401, replayError: 'replayed_request' });
  await page.close();
});
