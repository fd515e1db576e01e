// The live channel: a signed server-sent-events stream, kept open with back-off while the app has a
// device, and the system notification shown when the app is not in view.

import { ApiError } from './device.js';
import { api } from './state.js';

let listening = null;
let onEvent = () => {};
let once = null;

/** Every event goes to `handler` (the app's router of events to screens). */
export function routeEvents(handler) {
  onEvent = handler;
}

/** Keeps the live channel open (reconnecting with back-off) while the app has a device. */
export function startListening() {
  if (listening) return;
  const controller = new AbortController();
  listening = controller;
  (async () => {
    let delay = 1000;
    while (!controller.signal.aborted && api.device) {
      try {
        await api.listen((name) => {
          delay = 1000;
          once?.(name);
          onEvent(name);
          // A pending device has heard all it will hear: the next stream comes after the second log-in.
          if (name === 'activation_ready') stopListening();
        }, controller.signal);
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err instanceof ApiError && err.code === 'unknown_device') return;
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

/** Listens, and hands every event to `handler` too until the channel stops (a screen waiting for one). */
export function listenFor(handler) {
  once = handler;
  startListening();
}

export function stopListening() {
  listening?.abort();
  listening = null;
  once = null;
}

/** A system notification — only while the app is not in view; never personal data. */
export async function notify(body) {
  if (document.visibilityState === 'visible' || !('Notification' in window) || Notification.permission !== 'granted') return;
  const reg = await navigator.serviceWorker?.getRegistration();
  await reg?.showNotification('nøgle', { body, tag: 'noegle', icon: 'icon.svg' });
}
