// What the key app keeps on the device (IndexedDB: the device record with its non-extractable WebCrypto key,
// and the settings) and how it talks to the server: plain and signed calls to /api/app/v1/, the OPAQUE code
// steps, the live channel, and WebAuthn's JSON ↔ binary conversions.

import { b64url, canonicalBytes, fromB64url, newDeviceKey, publicKeyB64, sign } from './signing.js';

const DB_NAME = 'noegle-app';
const STORE = 'kv';

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req?.result);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

/** Reads one stored value (undefined when absent). */
export const load = (key) => tx('readonly', (s) => s.get(key));
/** Stores one value (structured clone: CryptoKeys stay non-extractable). */
export const save = (key, value) => tx('readwrite', (s) => s.put(value, key));

/** Deletes everything the app keeps on this device. */
export function wipe() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(DB_NAME);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve();
  });
}

/** A refusal from the server (or `offline`): `code` is the API's stable error code. */
export class ApiError extends Error {
  constructor(status, code, message, body = {}) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** The platform and OS version the app reports at activation (R-APP3). */
export function platform() {
  const ua = navigator.userAgent;
  const ios = ua.match(/(?:iPhone|iPad|iPod).*? OS (\d+)[_.](\d+)/);
  if (ios) return { platform: 'ios', os_version: `${ios[1]}.${ios[2]}` };
  const android = ua.match(/Android (\d+(?:\.\d+)*)/);
  if (android) return { platform: 'android', os_version: android[1] };
  return { platform: 'web', os_version: (ua.match(/Chrom(?:e|ium)\/([\d.]+)/) ?? ua.match(/Version\/([\d.]+)/) ?? [])[1] ?? '0' };
}

/**
 * Whether this device's OS is older than the server's minimum (`about().minimum`, R-APP3), compared as the
 * server compares (4 < 4.4 < 4.4.2): answers `{ platform, minimum, version }` when it is, otherwise null.
 */
export function belowMinimum(minimum) {
  const { platform: p, os_version: version } = platform();
  const need = minimum?.[p];
  if (!need) return null;
  const parts = (v) => String(v).trim().split('.').map((n) => (/^\d+$/.test(n) ? Number(n) : NaN));
  const [have, want] = [parts(version), parts(need)];
  if ([...have, ...want].some(Number.isNaN)) return null; // the server decides
  const refused = { platform: p === 'ios' ? 'iOS' : 'Android', minimum: need, version };
  for (let i = 0; i < Math.min(have.length, want.length); i++) {
    if (have[i] !== want[i]) return have[i] < want[i] ? refused : null;
  }
  return have.length < want.length ? refused : null;
}

/** A short name for this device, shown to the user among their devices. */
export function deviceName() {
  const ua = navigator.userAgent;
  if (/iPhone/.test(ua)) return 'iPhone';
  if (/iPad/.test(ua)) return 'iPad';
  const android = ua.match(/Android[^;)]*;\s*([^;)]+?)(?:\s+Build|[;)])/);
  if (android) return android[1].trim().slice(0, 40);
  return `Browser (${platform().platform})`;
}

/** The client of the app API for one device (or none yet). */
export class Api {
  constructor() {
    this.device = null; // { deviceId, serial, status, readyAt, expiresAt, name, keys }
    this.session = null; // { token, until } — `until` in the page's milliseconds
    this.offset = 0; // server seconds minus local seconds
    this.syncedAt = null;
    this.told = null; // the last answer of /about: the numbers the app tells users
  }

  localSeconds() {
    return Math.floor(Date.now() / 1000);
  }

  /** The server's time, learned from /time (phones' clocks are often off; the app follows the server). */
  async serverNow(force = false) {
    const local = this.localSeconds();
    if (force || this.syncedAt === null || local - this.syncedAt > 30 || local < this.syncedAt) {
      const t = await this.call('GET', '/api/app/v1/time');
      this.offset = t.now - this.localSeconds();
      this.syncedAt = this.localSeconds();
    }
    return this.localSeconds() + this.offset;
  }

  /** A server time as a local Date (for display). */
  localDate(serverSeconds) {
    return new Date((serverSeconds - this.offset) * 1000);
  }

  async headers(method, path, bytes, signed) {
    const h = {};
    if (bytes) h['content-type'] = 'application/json';
    if (this.session) h['noegle-app-session'] = this.session.token;
    if (signed) {
      const timestamp = await this.serverNow();
      const nonce = b64url(crypto.getRandomValues(new Uint8Array(18)));
      const deviceId = this.device.deviceId;
      const toSign = await canonicalBytes({ method, pathAndQuery: path, deviceId, timestamp, nonce, body: bytes ?? new Uint8Array() });
      Object.assign(h, {
        'noegle-device': deviceId,
        'noegle-timestamp': String(timestamp),
        'noegle-nonce': nonce,
        'noegle-signature': await sign(this.device.keys.privateKey, toSign),
      });
    }
    return h;
  }

  /** One call; `signed` adds the device's signature. Throws ApiError on any refusal. */
  async call(method, path, body, { signed = false, retried = false } = {}) {
    const bytes = body === undefined ? null : new TextEncoder().encode(JSON.stringify(body));
    let r;
    try {
      r = await fetch(path, { method, headers: await this.headers(method, path, bytes, signed), body: bytes, cache: 'no-store' });
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(0, 'offline', String(e));
    }
    if (r.status === 204) return null;
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      if (data.error === 'clock_skew' && signed && !retried) {
        await this.serverNow(true);
        return this.call(method, path, body, { signed, retried: true });
      }
      throw new ApiError(r.status, data.error ?? (r.status === 429 ? 'rate_limited' : 'unknown'), data.message, data);
    }
    return data;
  }

  signed(method, path, body) {
    return this.call(method, path, body, { signed: true });
  }

  /** User ID + password → a ticket and the key-card key to type. */
  login(userId, password) {
    return this.call('POST', '/api/app/v1/login', { user_id: userId, password });
  }

  /** First activation stage: a new non-extractable key pair, and a pending device on the server. */
  async startActivation(ticket, key) {
    const keys = await newDeviceKey();
    const d = await this.call('POST', '/api/app/v1/activation', {
      ticket, key, public_key: await publicKeyB64(keys.publicKey), ...platform(), name: deviceName(),
    });
    this.device = { ...fromServer(d), keys };
    return this.device;
  }

  /** Second activation stage, signed by the pending device. */
  async completeActivation(ticket, key) {
    const d = await this.signed('POST', '/api/app/v1/activation/complete', { ticket, key });
    Object.assign(this.device, fromServer(d));
    return this.device;
  }

  /** The device as the server has it now. */
  async refreshDevice() {
    Object.assign(this.device, fromServer(await this.signed('GET', '/api/app/v1/device')));
    return this.device;
  }

  /** Registers `code` by OPAQUE (the code never leaves the device). */
  async registerCode(opaque, code, resetToken) {
    const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password: code });
    const r = await this.signed('POST', '/api/app/v1/app-code/register/start', { message: registrationRequest });
    const { registrationRecord } = opaque.client.finishRegistration({
      clientRegistrationState, registrationResponse: r.message, password: code,
    });
    const body = { message: registrationRecord };
    if (resetToken) body.reset_token = resetToken;
    const done = await this.signed('POST', '/api/app/v1/app-code/register/finish', body);
    // Every unlock names it, so that no one who merely knows the device id can use up its attempts.
    this.device.unlockToken = done.unlock_token;
  }

  /** Unlocks with `code` by OPAQUE: opens an app session (as long as /about says, R-APP4). */
  async unlock(opaque, code) {
    const deviceId = this.device.deviceId;
    const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password: code });
    const unlockToken = this.device.unlockToken;
    const start = await this.call('POST', '/api/app/v1/app-code/login/start', { device_id: deviceId, message: startLoginRequest, unlock_token: unlockToken });
    const finished = opaque.client.finishLogin({ clientLoginState, loginResponse: start.message, password: code });
    if (!finished) {
      throw new ApiError(401, 'wrong_code', 'wrong code', { remaining: start.remaining_if_wrong });
    }
    const s = await this.call('POST', '/api/app/v1/app-code/login/finish', { device_id: deviceId, message: finished.finishLoginRequest, unlock_token: unlockToken });
    if (s.unlock_token) this.device.unlockToken = s.unlock_token; // set up before unlock tokens
    this.openSession(s);
  }

  /** The session the server opened; never longer than the session length /about told. */
  openSession(s) {
    const secs = Math.min(s.expires_in, this.told?.app_session_secs ?? s.expires_in);
    this.session = { token: s.app_session, until: Date.now() + secs * 1000 };
  }

  /** Ends the app session (the server forgets it too). */
  async lock() {
    if (!this.session) return;
    try {
      await this.call('DELETE', '/api/app/v1/app-code/session');
    } catch { /* offline: the session ends on the server by itself */ }
    this.session = null;
  }

  /**
   * "Glemt kode": a fresh device key for a ticket + key; answers the reset token for one new code, and when
   * (server time) the app may approve again (`readyAt`, seen at `now`).
   */
  async forgotCode(ticket, key) {
    const keys = await newDeviceKey();
    const r = await this.call('POST', '/api/app/v1/app-code/forgot', {
      device_id: this.device.deviceId, ticket, key, public_key: await publicKeyB64(keys.publicKey),
    });
    this.device.keys = keys;
    return { resetToken: r.reset_token, readyAt: r.ready_at, now: r.now };
  }

  /**
   * What the app tells users: the device limit, the oldest iOS and Android, the support's contact, the
   * session length, the activation wait and the wrong codes that block; kept as `told`.
   */
  async about() {
    this.told = await this.call('GET', '/api/app/v1/about');
    return this.told;
  }

  /** The user's pending requests (an unlocked app). */
  requests() {
    return this.signed('GET', '/api/app/v1/requests');
  }

  /** The user's unconfirmed devices: pending activations and devices cooling off after "Glemt kode". */
  unconfirmed() {
    return this.signed('GET', '/api/app/v1/activations');
  }

  /** Stops an unconfirmed device of the user. */
  stopDevice(deviceId) {
    return this.signed('POST', `/api/app/v1/activations/${encodeURIComponent(deviceId)}/cancel`);
  }

  /** Approves or rejects request `r`, echoing what the server sent with it. */
  decide(r, decision, extra = {}) {
    return this.signed('POST', `/api/app/v1/requests/${encodeURIComponent(r.request_id)}/decision`, {
      decision, request_nonce: r.nonce, client_id: r.client_id, expires_at: r.expires_at, match_code: null, not_me: false, ...extra,
    });
  }

  /** Deregisters this device (or ends its activation). */
  deregister() {
    return this.signed('DELETE', '/api/app/v1/device');
  }

  /** Registers a fingerprint: `create` turns the server's options into a credential. */
  async registerFingerprint(create) {
    const options = await this.signed('POST', '/api/app/v1/fingerprint/register/start', {});
    await this.signed('POST', '/api/app/v1/fingerprint/register/finish', { credential: await create(options) });
  }

  /** The device no longer unlocks with the fingerprint. */
  removeFingerprint() {
    return this.signed('DELETE', '/api/app/v1/fingerprint');
  }

  /** Unlocks with the fingerprint: `get` turns the server's options into an assertion. */
  async unlockWithFingerprint(get) {
    const deviceId = this.device.deviceId;
    const options = await this.call('POST', '/api/app/v1/fingerprint/login/start', { device_id: deviceId });
    const credential = await get(options);
    this.openSession(await this.call('POST', '/api/app/v1/fingerprint/login/finish', { device_id: deviceId, credential }));
  }

  /** The server's VAPID key, for a push subscription. */
  async pushKey() {
    return (await this.call('GET', '/api/app/v1/push/key')).key;
  }

  /** Stores this device's push subscription (`null`: no more Web Push). */
  setPushSubscription(subscription) {
    return subscription ? this.signed('PUT', '/api/app/v1/push', subscription) : this.signed('DELETE', '/api/app/v1/push');
  }

  /** Reads the live channel (signed server-sent events) and calls `onEvent(name)` until `signal` aborts. */
  async listen(onEvent, signal) {
    const path = '/api/app/v1/events';
    const r = await fetch(path, { headers: await this.headers('GET', path, null, true), signal, cache: 'no-store' });
    if (!r.ok) {
      const data = await r.json().catch(() => ({}));
      throw new ApiError(r.status, data.error ?? 'unknown', data.message, data);
    }
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = block.split('\n').find((l) => l.startsWith('event:'))?.slice(6).trim();
        if (name) onEvent(name);
      }
    }
  }
}

function fromServer(d) {
  return { deviceId: d.device_id, serial: d.serial, status: d.status, readyAt: d.ready_at, expiresAt: d.expires_at, name: d.name, ready: d.ready };
}

/** WebAuthn options from the server's JSON (base64url) to what `navigator.credentials` takes. */
export function creationOptions(json) {
  const pk = structuredClone(json.publicKey);
  pk.challenge = fromB64url(pk.challenge);
  pk.user.id = fromB64url(pk.user.id);
  pk.excludeCredentials = (pk.excludeCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) }));
  return { publicKey: pk };
}

/** WebAuthn request options from the server's JSON. */
export function requestOptions(json) {
  const pk = structuredClone(json.publicKey);
  pk.challenge = fromB64url(pk.challenge);
  pk.allowCredentials = (pk.allowCredentials ?? []).map((c) => ({ ...c, id: fromB64url(c.id) }));
  return { publicKey: pk };
}

/** A WebAuthn credential as JSON for the server (binary fields base64url). */
export function credentialJson(c) {
  const r = c.response;
  const response = { clientDataJSON: b64url(r.clientDataJSON) };
  if (r.attestationObject) response.attestationObject = b64url(r.attestationObject);
  if (r.authenticatorData) response.authenticatorData = b64url(r.authenticatorData);
  if (r.signature) response.signature = b64url(r.signature);
  if (r.userHandle) response.userHandle = b64url(r.userHandle);
  return { id: c.id, rawId: b64url(c.rawId), type: c.type, response, extensions: c.getClientExtensionResults?.() ?? {} };
}
