// The app's state, in one place: the server connection with the device and its session (`api`), the
// settings, the screen shown, whether wrong codes blocked the app, and the timer that locks it.

import { Api, save } from './device.js';
import { duration, text } from './i18n.js';
import { go } from './router.js';

/** The settings a fresh install starts with. */
export const DEFAULT_SETTINGS = { lockOnClose: true, fingerprint: false, notifications: false, lang: 'da' };

/** The server connection; it holds the device (`api.device`) and the app session (`api.session`). */
export const api = new Api();

export const app = {
  /** The user's settings (kept in IndexedDB). */
  settings: { ...DEFAULT_SETTINGS },
  /** The screen shown (its help topic). */
  screen: null,
  /** Blocked by wrong codes, until a new code is chosen with "Glemt kode" (the next unlock clears it). */
  blocked: false,
};

/** A length of time in words in the user's language: "en time", "30 minutter". */
export const timeInWords = (secs) => duration(app.settings.lang, secs);

/** The numbers the server told (/about) as the texts name them; none before it has told any. */
function told() {
  const about = api.told;
  if (!about) return {};
  return {
    max: about.max_devices,
    session: timeInWords(about.app_session_secs),
    wait: timeInWords(about.activation_wait_secs),
    attempts: about.code_attempts,
  };
}

/** A text in the user's language, with the numbers the server told and `vars` put in. */
export const t = (key, vars) => text(app.settings.lang, key, { ...told(), ...vars });

/** Keeps the settings. */
export function saveSettings() {
  return save('settings', app.settings);
}

/** Switches between Danish and English, then shows `then`. */
export async function switchLanguage(then) {
  app.settings.lang = app.settings.lang === 'da' ? 'en' : 'da';
  await saveSettings();
  then();
}

let lockTimer = null;

/** The app is unlocked: it locks itself when the app session ends (R-APP4). */
export function armLock() {
  app.blocked = false;
  clearTimeout(lockTimer);
  lockTimer = setTimeout(() => go('lock'), Math.max(0, api.session.until - Date.now()));
}

/** Stops the lock timer (the app locked, or the device is forgotten). */
export function disarmLock() {
  clearTimeout(lockTimer);
}
