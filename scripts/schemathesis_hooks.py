"""Schemathesis hooks for nøgle's app API (used by scripts/test).

A key app of the demo user is activated through the API once (log-in ticket, a key from the demo key card,
the second log-in with no wait), and every call to an operation that needs a device's signature is then
signed with its P-256 key over noegle-proto's bytes — so schemathesis tests what lies behind the signature,
not only the 401 in front of it. A signature header the case leaves out (to see it refused) stays out. Calls that would end the device (DELETE /device) or hold a stream open
(GET /events) stay unsigned.

Needs NOEGLE_ST_CARD: the demo key card as JSON (`noegle demo` writes it to its data directory).
"""

import base64
import hashlib
import json
import os
import secrets
import time

import requests
import schemathesis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from schemathesis.core import NotSet
from schemathesis.transport.prepare import prepare_url

UNSIGNED = {
    ("GET", "/api/app/v1/time"),
    ("POST", "/api/app/v1/login"),
    ("POST", "/api/app/v1/activation"),
    ("POST", "/api/app/v1/app-code/login/start"),
    ("POST", "/api/app/v1/app-code/login/finish"),
    ("DELETE", "/api/app/v1/app-code/session"),
    ("POST", "/api/app/v1/app-code/forgot"),
    ("POST", "/api/app/v1/fingerprint/login/start"),
    ("POST", "/api/app/v1/fingerprint/login/finish"),
    ("GET", "/api/app/v1/push/key"),
    # Kept unsigned on purpose: the device must live through the run, and a stream never ends.
    ("DELETE", "/api/app/v1/device"),
    ("GET", "/api/app/v1/events"),
}

_device = {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def canonical(method: str, path_and_query: str, device_id: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The bytes a device signs (crates/proto/src/signing.rs)."""
    digest = hashlib.sha256(body).hexdigest()
    return f"NOEGLE-DEVICE-V1\n{method.upper()}\n{path_and_query}\n{device_id}\n{timestamp}\n{nonce}\n{digest}\n".encode()


def signature_headers(method: str, path_and_query: str, body: bytes) -> dict:
    key, device_id = _device["key"], _device["id"]
    timestamp, nonce = int(time.time()), b64url(secrets.token_bytes(18))
    der = key.sign(canonical(method, path_and_query, device_id, timestamp, nonce, body), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return {
        "noegle-device": device_id,
        "noegle-timestamp": str(timestamp),
        "noegle-nonce": nonce,
        "noegle-signature": b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big")),
    }


def activate(base: str) -> None:
    """Activates a key app of the demo user; keeps its key and device id."""
    with open(os.environ["NOEGLE_ST_CARD"], encoding="utf-8") as f:
        card = json.load(f)

    def ticket():
        r = requests.post(f"{base}/api/app/v1/login", json={"user_id": "demo", "password": "demo-adgangskode"}, timeout=30)
        r.raise_for_status()
        t = r.json()
        return t["ticket"], card["keys"][t["key_card"]["key_number"]]

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    t, k = ticket()
    r = requests.post(f"{base}/api/app/v1/activation", timeout=30, json={
        "ticket": t, "key": k, "public_key": b64url(public), "platform": "web", "os_version": "1", "name": "Schemathesis",
    })
    r.raise_for_status()
    _device.update(key=key, id=r.json()["device_id"])
    t, k = ticket()
    path = "/api/app/v1/activation/complete"
    body = json.dumps({"ticket": t, "key": k}).encode()
    headers = {"content-type": "application/json", **signature_headers("POST", path, body)}
    requests.post(f"{base}{path}", data=body, headers=headers, timeout=30).raise_for_status()


@schemathesis.hook
def before_call(context, case, kwargs):
    if (case.method.upper(), case.path) in UNSIGNED:
        return
    base = case.operation.base_url.rstrip("/")
    if not _device:
        activate(base)
    # Sign exactly the bytes and the path and query that will be sent (the body goes out as these bytes).
    body = b""
    if not isinstance(case.body, NotSet):
        body = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        case.body = body
    prepared = requests.Request(case.method, prepare_url(case, base), params=case.query or None).prepare()
    # Each signature header the case carries gets its valid value; one the case leaves out on purpose (to see
    # it refused) stays out.
    given = {name.lower(): name for name in (case.headers or {})}
    signed = signature_headers(case.method, prepared.path_url, body)
    case.headers = {**(case.headers or {}), **{given[n]: v for n, v in signed.items() if n in given}}
