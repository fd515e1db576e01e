// The phone app's device.js against the served OpenAPI document (/api/openapi.json): device.js runs in node
// against noegle-testserver through activation, the code, unlocking, X-3, requests approved and rejected,
// "Glemt kode", the fingerprint (soft-authenticator.mjs), push, the live channel, locking and deregistering.
// Every body it sends must validate against its operation's requestBody, and every field it (or a screen, as
// this test does in their place) reads from an answer must be declared in that answer's schema. A field
// renamed on the server's side fails here.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
import { launchChromium, repo, startTestServer } from './harness.mjs';
import { logIn } from './phone.mjs';
import { checkCalls, recordFetch } from './api-contract.mjs';
import { softAuthenticator } from './soft-authenticator.mjs';

const appModule = (name) => import(pathToFileURL(join(repo, 'web/app', name)).href);
const CODE = '7391';
const NEW_CODE = '4826';

let server;
let browser;
const calls = [];
let restoreFetch;
let device; // web/app/device.js
let phone; // the Api of the device activated first
let doc; // the served OpenAPI document
let opaque; // the OPAQUE client the app loads (web/app/node_modules)

before(async () => {
  // device.js reads the phone from the user agent: an Android phone.
  Object.defineProperty(globalThis, 'navigator', {
    value: { userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A) Chrome/140.0 Mobile Safari/537.36' },
    configurable: true,
  });
  server = await startTestServer();
  browser = await launchChromium();
  doc = await (await fetch(`${server.base}/api/openapi.json`)).json();
  restoreFetch = recordFetch(server.base, calls);
  device = await appModule('device.js');
  opaque = await import(pathToFileURL(join(repo, 'web/app/node_modules/@serenity-kit/opaque/esm/index.js')).href);
  await opaque.ready;
});

after(async () => {
  restoreFetch?.();
  await browser?.close();
  await server?.stop();
});

/** Reads `fields` of `answer`, as a screen does (the reads are what the test checks). */
function read(answer, ...fields) {
  return fields.map((f) => f.split('.').reduce((o, k) => o?.[k], answer));
}

/** A password log-in and the key the server asks for, as screens/login.js reads them. */
async function ticketAndKey(api) {
  const ticket = await api.login(server.user_id, server.password);
  const [number] = read(ticket, 'key_card.key_number', 'key_card.serial');
  return [ticket.ticket, server.card.keys[number]];
}

/** A Demo Bank log-in sent to the key app from the log-in box; answers its match code and closes. */
async function bankRequest() {
  const context = await browser.newContext({ locale: 'da-DK' });
  const page = await context.newPage();
  await page.goto(`${server.base}/demo/`);
  await page.getByRole('link', { name: 'Log på med nøgle' }).click();
  await logIn(page, { userId: server.user_id, password: server.password });
  await page.getByRole('button', { name: 'Send anmodning til nøgleapp' }).click();
  const code = (await page.locator('#match-code').textContent()).trim();
  return { code, close: () => context.close() };
}

/** The first pending request, read as screens/requests.js reads it. */
async function firstRequest(api) {
  const { requests } = await api.requests();
  const [r] = requests;
  read(r, 'client_name', 'action', 'created_at', 'expires_at', 'match_code_required', 'match_code');
  return r;
}

/** Runs `fn`, which must be refused with `code`; reads the refusal as ui.js `explain` does. */
async function refused(code, fn) {
  await assert.rejects(fn, (err) => err instanceof device.ApiError && err.code === code);
}

test('activation, the code and unlocking send and read what the document says', async () => {
  const api = new device.Api();
  const about = await api.about();
  read(about, 'max_devices', 'minimum.android', 'minimum.ios', 'support.phone', 'support.url',
    'app_session_secs', 'activation_wait_secs', 'code_attempts');
  await refused('rejected', () => api.login(server.user_id, 'forkert'));
  await api.startActivation(...await ticketAndKey(api));
  assert.equal((await api.refreshDevice()).status, 'pending');
  await server.advance(about.activation_wait_secs);
  await api.completeActivation(...await ticketAndKey(api));
  await api.registerCode(opaque, CODE);
  await refused('wrong_code', () => api.unlock(opaque, '0000'));
  await api.unlock(opaque, CODE);
  assert.ok(api.session.until > Date.now());
  phone = api;
});

test('X-3, requests approved and rejected, push and the live channel', async () => {
  const api = phone;
  // Another device of the user waits its hour: the first sees it and stops it.
  const other = new device.Api();
  await other.startActivation(...await ticketAndKey(other));
  const { pending } = await api.unconfirmed();
  const [d] = pending.filter((p) => p.device_id !== api.device.deviceId);
  read(d, 'reason', 'name', 'serial');
  await api.stopDevice(d.device_id);

  const approve = await bankRequest();
  await refused('wrong_match_code', async () => api.decide(await firstRequest(api), 'approve', { match_code: approve.code === '00' ? '01' : '00' }));
  await api.decide(await firstRequest(api), 'approve', { match_code: approve.code });
  await approve.close();
  const reject = await bankRequest();
  await api.decide(await firstRequest(api), 'reject', { not_me: false });
  await reject.close();

  await api.pushKey();
  await api.setPushSubscription({ endpoint: 'https://push.example.org/send/abc', expirationTime: null, keys: { p256dh: 'BPxx', auth: 'AAAA' } }).catch(() => {});
  await api.setPushSubscription(null);
  const stop = new AbortController();
  const listening = api.listen(() => {}, stop.signal).catch(() => {});
  await new Promise((r) => setTimeout(r, 300));
  stop.abort();
  await listening;
});

test('the fingerprint, "Glemt kode", locking and deregistering send and read what the document says', async () => {
  const api = phone;
  // A software authenticator answers the server's options, as the browser does for capabilities.js.
  const authenticator = softAuthenticator(server.base);
  await api.registerFingerprint(async (options) => {
    read(options, 'publicKey.challenge', 'publicKey.user.id', 'publicKey.excludeCredentials');
    return device.credentialJson(await authenticator.create(options));
  });
  await api.lock();
  await api.unlockWithFingerprint(async (options) => {
    read(options, 'publicKey.challenge', 'publicKey.allowCredentials');
    return device.credentialJson(await authenticator.get(options));
  });
  await api.removeFingerprint();

  const { resetToken } = await api.forgotCode(...await ticketAndKey(api));
  await api.registerCode(opaque, NEW_CODE, resetToken);
  await api.unlock(opaque, NEW_CODE);
  await api.lock();
  await api.deregister();
});

test('every call device.js makes was made, and each holds to the served document', (t) => {
  const made = calls.filter((c) => c.path.startsWith('/api/app/'));
  const source = readFileSync(join(repo, 'web/app/device.js'), 'utf8');
  const named = [...source.matchAll(/['`](\/api\/app\/v1\/[^'`]*)['`]/g)].map((m) => m[1].replace(/\$\{[^}]+\}/g, 'X'));
  for (const path of named) {
    const pattern = new RegExp(`^${path.replace(/X/g, '[^/]+')}$`);
    assert.ok(made.some((c) => pattern.test(c.path)), `device.js calls ${path}, which this test did not make`);
  }
  const { problems, free } = checkCalls(doc, made);
  if (free.length > 0) t.diagnostic(`read from free-form answers: ${free.join('; ')}`);
  assert.deepEqual(problems, [], 'device.js and the served document disagree');
});
