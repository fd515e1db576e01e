// The bytes a key app signs (crates/proto/src/signing.rs) and the device key in WebCrypto: ECDSA P-256 with
// SHA-256, a non-extractable private key, signatures as r||s (WebCrypto's native format).

const SCHEME = 'NOEGLE-DEVICE-V1';

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** base64url without padding. */
export function b64url(bytes) {
  let s = '';
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Decodes base64url without padding. */
export function fromB64url(text) {
  const s = atob(text.replaceAll('-', '+').replaceAll('_', '/') + '==='.slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** The exact bytes to sign for one request. `body` is a Uint8Array (empty for none). */
export async function canonicalBytes({ method, pathAndQuery, deviceId, timestamp, nonce, body }) {
  for (const [name, v] of [['method', method], ['path', pathAndQuery], ['device id', deviceId]]) {
    if (!v || /[\r\n]/.test(v)) throw new Error(`the ${name} must be non-empty and on one line`);
  }
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(nonce)) throw new Error('the nonce must be 16 to 64 base64url characters');
  const bodyHash = hex(await crypto.subtle.digest('SHA-256', body));
  const text = `${SCHEME}\n${method.toUpperCase()}\n${pathAndQuery}\n${deviceId}\n${timestamp}\n${nonce}\n${bodyHash}\n`;
  return new TextEncoder().encode(text);
}

/** A new device key pair; the private key can never leave WebCrypto. */
export function newDeviceKey() {
  return crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
}

/** The public key as the server wants it: base64url of the SEC1 uncompressed point. */
export async function publicKeyB64(publicKey) {
  return b64url(await crypto.subtle.exportKey('raw', publicKey));
}

/** Signs canonical bytes: r||s, base64url. */
export async function sign(privateKey, bytes) {
  return b64url(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, bytes));
}

/** Verifies a base64url r||s signature with a base64url SEC1 public key. */
export async function verify(publicKeyB64Text, bytes, signatureB64) {
  const key = await crypto.subtle.importKey('raw', fromB64url(publicKeyB64Text), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, fromB64url(signatureB64), bytes);
}
