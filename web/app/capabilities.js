// What the phone may offer besides the code: a fingerprint (a WebAuthn platform credential, verified by the
// server) and Web Push notifications.

import { creationOptions, credentialJson, requestOptions } from './device.js';
import { api, app, saveSettings, t } from './state.js';

export async function fingerprintSupported() {
  try {
    return Boolean(window.PublicKeyCredential && await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable());
  } catch {
    return false;
  }
}

export async function registerFingerprint() {
  await api.registerFingerprint(async (options) => credentialJson(await navigator.credentials.create(creationOptions(options))));
  app.settings.fingerprint = true;
  await saveSettings();
}

export async function removeFingerprint() {
  await api.removeFingerprint();
  app.settings.fingerprint = false;
  await saveSettings();
}

export function unlockWithFingerprint() {
  return api.unlockWithFingerprint(async (options) => credentialJson(await navigator.credentials.get(requestOptions(options))));
}

export function pushAvailable() {
  return 'Notification' in window && 'serviceWorker' in navigator && 'PushManager' in window;
}

export async function setNotifications(on) {
  const reg = await navigator.serviceWorker.ready;
  if (on) {
    if (await Notification.requestPermission() !== 'granted') throw new Error(t('notificationsDenied'));
    const key = await api.pushKey();
    let sub;
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch {
      throw new Error(t('notificationsFailed'));
    }
    await api.setPushSubscription(sub.toJSON());
  } else {
    await (await reg.pushManager.getSubscription())?.unsubscribe();
    await api.setPushSubscription(null);
  }
  app.settings.notifications = on;
  await saveSettings();
}
