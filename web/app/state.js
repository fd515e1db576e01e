// The app's state, in one place: the server connection with the device and its session (`api`), the
// settings, the screen shown, and what one flow carries from screen to screen.

import { Api, save } from './device.js';
import { text } from './i18n.js';

/** The settings a fresh install starts with. */
export const DEFAULT_SETTINGS = { lockOnClose: true, fingerprint: false, notifications: false, lang: 'da' };

/** The server connection; it holds the device (`api.device`) and the app session (`api.session`). */
export const api = new Api();

export const app = {
  /** The user's settings (kept in IndexedDB). */
  settings: { ...DEFAULT_SETTINGS },
  /** The screen shown (its help topic). */
  screen: null,
};

/** A text in the user's language. */
export const t = (key, vars) => text(app.settings.lang, key, vars);

/** Keeps the settings. */
export function saveSettings() {
  return save('settings', app.settings);
}
