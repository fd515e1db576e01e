// Unlocking with the code or the fingerprint, and locking (R-APP4): the app always locks after 5 minutes,
// and when it closes if the user wants that.

import { ApiError, save } from '../device.js';
import { unlockWithFingerprint } from '../capabilities.js';
import { api, app, saveSettings, t } from '../state.js';
import { button, closeHelp, codeInput, errorBox, explain, field, form, h, message, opaque, show } from '../ui.js';
import { FIRST_CODE, chooseCode, forgotCode } from './code.js';
import { home } from './requests.js';

let lockTimer = null;
/** Blocked by 5 wrong codes (until a new code is chosen with "Glemt kode"). */
let blocked = false;

/** The lock screen; `notice` is `request` (a request waits) or `blocked` (5 wrong codes). */
export function unlockScreen(notice) {
  if (api.session) return home();
  if (notice === 'blocked' || blocked) return blockedScreen();
  const code = codeInput('code');
  const fingerprintButton = app.settings.fingerprint
    ? button(t('unlockFingerprint'), async () => {
      const box = errorBox();
      try {
        await unlockWithFingerprint();
        armLock();
        home();
      } catch (err) {
        box.replaceChildren(message('error', err instanceof ApiError ? explain(err) : t('fingerprintFailed')));
        if (err instanceof ApiError && err.code === 'no_fingerprint') {
          app.settings.fingerprint = false;
          await saveSettings();
          unlockScreen();
          errorBox().replaceChildren(message('error', explain(err)));
          return;
        }
        code.focus();
      }
    }, 'secondary')
    : null;
  show('unlock', t('lockedTitle'), [
    notice === 'request' ? message('info', t('requestWaiting')) : null,
    form([
      h('p', {}, t('unlockText')),
      field(t('codeLabel'), code),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn primary' }, t('unlock')),
        fingerprintButton,
        button(t('forgotCode'), forgotCode, 'link')),
    ], async () => {
      if (!/^\d{4}$/.test(code.value)) throw new Error(t('codeFormat'));
      try {
        await api.unlock(await opaque(), code.value);
        await save('device', api.device);
      } catch (err) {
        code.value = '';
        if (err instanceof ApiError && err.code === 'device_blocked') return unlockScreen('blocked');
        // Activated, but the app closed before a code was chosen: choose it now.
        if (err instanceof ApiError && err.code === 'no_code') return chooseCode(FIRST_CODE);
        throw err;
      }
      armLock();
      home();
    }),
  ]);
  code.focus();
}

/** Blocked after 5 wrong codes: no code can unlock it, so none is asked for; "Glemt kode" is the way on. */
function blockedScreen() {
  blocked = true;
  show('blocked', t('blockedTitle'), [
    message('error', t('blocked')),
    h('p', {}, t('blockedText')),
    h('div', { class: 'actions' }, button(t('forgotCode'), forgotCode)),
  ]);
}

/** The app stays unlocked at most 5 minutes (R-APP4). */
export function armLock() {
  blocked = false;
  clearTimeout(lockTimer);
  lockTimer = setTimeout(lockNow, Math.max(0, api.session.until - Date.now()));
}

/** Locks now (the server forgets the session) and shows the lock screen with `notice`. */
export async function lockNow(notice) {
  clearTimeout(lockTimer);
  closeHelp();
  await api.lock();
  if (api.device?.status === 'active') unlockScreen(notice);
}

/** Stops the lock timer (the device is forgotten). */
export function disarmLock() {
  clearTimeout(lockTimer);
}
