// A platform authenticator in software for tests that run the phone app's device.js in node: it answers the
// server's WebAuthn options as a browser's PublicKeyCredential would (ES256, attestation "none", user
// verified), so that a fingerprint can be registered and used without a browser.
import { b64url, fromB64url } from '../../app/signing.js';

const subtle = globalThis.crypto.subtle;
const bytes = (...parts) => Uint8Array.from(parts.flatMap((p) => [...p]));
const sha256 = async (data) => new Uint8Array(await subtle.digest('SHA-256', data));
const utf8 = (s) => new TextEncoder().encode(s);
const uint32 = (n) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** The CBOR (RFC 8949) of the few kinds WebAuthn needs here: integers, text, bytes, maps. */
function cbor(v) {
  const head = (major, n) => (n < 24 ? [(major << 5) | n] : n < 256 ? [(major << 5) | 24, n] : [(major << 5) | 25, n >> 8, n & 255]);
  if (typeof v === 'number') return v >= 0 ? head(0, v) : head(1, -1 - v);
  if (typeof v === 'string') return [...head(3, utf8(v).length), ...utf8(v)];
  if (v instanceof Uint8Array) return [...head(2, v.length), ...v];
  return [...head(5, v.size), ...[...v].flatMap(([k, x]) => [...cbor(k), ...cbor(x)])];
}

/** An ECDSA signature as r||s (WebCrypto) in DER (WebAuthn). */
function der(raw) {
  const int = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.slice(i);
    return v[0] & 0x80 ? [2, v.length + 1, 0, ...v] : [2, v.length, ...v];
  };
  const body = [...int(raw.slice(0, 32)), ...int(raw.slice(32))];
  return Uint8Array.from([0x30, body.length, ...body]);
}

/** One authenticator with one credential at `origin`; `create` and `get` take the server's options JSON. */
export function softAuthenticator(origin) {
  let credential = null; // { id, keys, userId }
  const clientData = (type, challenge) => utf8(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
  return {
    async create({ publicKey: pk }) {
      const keys = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
      const point = new Uint8Array(await subtle.exportKey('raw', keys.publicKey));
      const id = globalThis.crypto.getRandomValues(new Uint8Array(16));
      credential = { id, keys, userId: fromB64url(pk.user.id) };
      const cose = new Map([[1, 2], [3, -7], [-1, 1], [-2, point.slice(1, 33)], [-3, point.slice(33)]]);
      const authData = bytes(await sha256(utf8(pk.rp.id)), [0x45], uint32(0), new Uint8Array(16), [0, id.length], id, cbor(cose));
      const attestationObject = Uint8Array.from(cbor(new Map([['fmt', 'none'], ['attStmt', new Map()], ['authData', authData]])));
      return { id: b64url(id), rawId: id, type: 'public-key', response: { clientDataJSON: clientData('webauthn.create', pk.challenge), attestationObject } };
    },
    async get({ publicKey: pk }) {
      const clientDataJSON = clientData('webauthn.get', pk.challenge);
      const authenticatorData = bytes(await sha256(utf8(pk.rpId)), [0x05], uint32(1));
      const signed = bytes(authenticatorData, await sha256(clientDataJSON));
      const raw = new Uint8Array(await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, credential.keys.privateKey, signed));
      const response = { clientDataJSON, authenticatorData, signature: der(raw), userHandle: credential.userId };
      return { id: b64url(credential.id), rawId: credential.id, type: 'public-key', response };
    },
  };
}
