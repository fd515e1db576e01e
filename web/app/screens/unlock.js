// Unlocking with the code or the fingerprint, and locking (R-APP4): the app always locks when its session
// ends (the length /about tells), and when it closes if the user wants that.

import { ApiError, save } from '../device.js';
import { unlockWithFingerprint } from '../capabilities.js';
import { go, register } from '../router.js';
import { api, app, armLock, disarmLock, saveSettings, t } from '../state.js';
import { button, closeHelp, codeInput, errorBox, explain, field, form, h, message, opaque, show } from '../ui.js';

/** The lock screen; `notice` is `request` (a request waits) or `blocked` (too many wrong codes). */
function unlockScreen(notice) {
  if (api.session) return go('home');
  if (notice === 'blocked' || app.blocked) return blockedScreen();
  const code = codeInput('code');
  const fingerprintButton = app.settings.fingerprint
    ? button(t('unlockFingerprint'), async () => {
      const box = errorBox();
      try {
        await unlockWithFingerprint();
        armLock();
        go('home');
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
        button(t('forgotCode'), () => go('forgotCode'), 'link')),
    ], async () => {
      if (!/^\d{4}$/.test(code.value)) throw new Error(t('codeFormat'));
      try {
        await api.unlock(await opaque(), code.value);
        await save('device', api.device);
      } catch (err) {
        code.value = '';
        if (err instanceof ApiError && err.code === 'device_blocked') return unlockScreen('blocked');
        // Activated, but the app closed before a code was chosen: choose it now.
        if (err instanceof ApiError && err.code === 'no_code') return go('firstCode');
        throw err;
      }
      armLock();
      go('home');
    }),
  ]);
  code.focus();
}

/** Blocked after too many wrong codes: no code can unlock it, so none is asked for; "Glemt kode" is the way on. */
function blockedScreen() {
  app.blocked = true;
  show('blocked', t('blockedTitle'), [
    message('error', t('blocked')),
    h('p', {}, t('blockedText')),
    h('div', { class: 'actions' }, button(t('forgotCode'), () => go('forgotCode'))),
  ]);
}

/** Locks now (the server forgets the session) and shows the lock screen with `notice`. */
async function lockNow(notice) {
  disarmLock();
  closeHelp();
  await api.lock();
  if (api.device?.status === 'active') unlockScreen(notice);
}

register({ unlock: unlockScreen, lock: lockNow });
