// Activating the app (seed steps 1–12): welcome, terms, the first log-in with a key-card key, the wait for
// the second, the second log-in, then the code (screens/code.js), the fingerprint, the guide and the receipt.

import { ApiError, save, wipe } from '../device.js';
import { fingerprintSupported, pushAvailable, registerFingerprint, setNotifications } from '../capabilities.js';
import { listenFor, notify, startListening, stopListening } from '../live.js';
import { api, app, t } from '../state.js';
import { button, explain, form, formatTime, h, message, newId, show } from '../ui.js';
import { FIRST_CODE, chooseCode } from './code.js';
import { home } from './requests.js';
import { switchLanguage } from './settings.js';
import { passwordScreen } from './login.js';
import { unlockScreen } from './unlock.js';

/** The first log-in: its key starts a pending device. */
const FIRST_LOGIN = {
  topic: 'login', keyTopic: 'key', title: 'loginTitle', action: 'activate', top: 'gear', cancel: null,
  async withKey(ticket, key) {
    await api.startActivation(ticket, key);
    await save('device', api.device);
    waitScreen();
  },
};

/** The second log-in, after the wait: its key activates the device; then the code is chosen. */
const SECOND_LOGIN = {
  topic: 'login', keyTopic: 'key', title: 'loginLastTitle', action: 'activate', top: 'gear', cancel: null,
  async withKey(ticket, key) {
    await api.completeActivation(ticket, key);
    await save('device', api.device);
    startListening();
    chooseCode(FIRST_CODE);
  },
};

export function welcome(notice) {
  const limits = h('p', { class: 'limits' });
  show('welcome', t('activateTitle'), [
    notice ? message('info', notice) : null,
    h('p', {}, t('welcomeText')),
    limits,
    h('div', { class: 'actions' }, button(t('start'), terms)),
    h('p', { class: 'lang' }, button(t('language'), () => switchLanguage(() => welcome(notice)), 'link')),
  ]);
  // The limits a user would otherwise meet only as a refusal: three devices, the oldest iOS and Android.
  api.about().then(({ max_devices: max, minimum }) => {
    limits.textContent = t('welcomeLimits', { max, ios: minimum.ios, android: minimum.android });
  }, () => { /* offline: activation cannot start anyway, and says so */ });
}

function terms() {
  const box = h('input', { type: 'checkbox', name: 'accept' });
  show('terms', t('termsTitle'), form([
    h('div', { class: 'terms', tabindex: '0' }, ...t('terms').map((p) => h('p', {}, p))),
    h('div', { class: 'check' }, box, h('label', {}, t('acceptTerms'))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, t('next'))),
  ], async () => {
    if (!box.checked) throw new Error(t('acceptTermsFirst'));
    passwordScreen(FIRST_LOGIN);
  }));
  const id = newId();
  box.id = id;
  box.nextSibling.setAttribute('for', id);
}

/** The wait between the two log-ins (seed step 6): "Næste" opens when the server says the wait is over. */
export function waitScreen() {
  const d = api.device;
  const status = h('p', { class: 'wait-status', 'aria-live': 'polite' });
  const next = h('button', { type: 'button', class: 'btn primary', disabled: true, onclick: () => passwordScreen(SECOND_LOGIN) }, t('next'));
  const refresh = async () => {
    try {
      const fresh = await api.refreshDevice();
      await save('device', api.device);
      if (app.screen !== 'wait') return;
      if (fresh.status === 'active') {
        startListening();
        unlockScreen();
      } else if (fresh.ready) {
        ready();
      } else if (await api.serverNow() >= fresh.expiresAt) {
        throw new ApiError(410, 'activation_ended', 'the activation ended');
      } else {
        status.replaceChildren(t('waitUntil', { time: formatTime(fresh.readyAt) }));
      }
    } catch (err) {
      if (err instanceof ApiError && (err.code === 'unknown_device' || err.status === 410)) {
        await wipe();
        api.device = null;
        welcome(t('errors.activation_ended'));
      } else {
        status.replaceChildren(explain(err));
      }
    }
  };
  const ready = () => {
    status.replaceChildren(t('waitReady'));
    status.classList.add('ready');
    next.disabled = false;
    notify(t('readyNotice'));
  };
  show('wait', t('waitTitle'), [
    h('p', {}, t('waitText')),
    h('div', { class: 'clock', 'aria-hidden': 'true' }),
    status,
    h('div', { class: 'actions' }, next,
      pushAvailable() && !app.settings.notifications
        ? button(t('notifications'), async (e) => {
          const b = e.currentTarget;
          try {
            await setNotifications(true);
            b.remove();
          } catch (err) {
            status.replaceChildren(explain(err));
          }
        }, 'secondary')
        : null,
      button(t('cancelActivation'), async () => {
        try {
          await api.deregister();
        } catch { /* already ended */ }
        await wipe();
        api.device = null;
        stopListening();
        welcome();
      }, 'secondary')),
  ]);
  status.replaceChildren(t('waitUntil', { time: formatTime(d.readyAt) }));
  refresh();
  listenFor((name) => { if (name === 'activation_ready') refresh(); });
}

/** After the first code: the fingerprint offered where the phone has one, then the guide. */
export async function afterFirstCode() {
  if (await fingerprintSupported()) fingerprintChoice();
  else guide(0, activated);
}

function fingerprintChoice() {
  show('fingerprint', t('fingerprintTitle'), form([
    h('div', { class: 'fingerprint', 'aria-hidden': 'true' }),
    h('p', {}, t('fingerprintText')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('useFingerprint')),
      button(t('continueWithout'), () => guide(0, activated), 'secondary')),
  ], async () => {
    await registerFingerprint();
    guide(0, activated);
  }));
}

/** The 4-step guide (seed step 10); `done` follows the last "OK". */
export function guide(step, done) {
  const [title, body] = t('guide')[step];
  const last = step === 3;
  show('guide', t('guideTitle'), [
    h('p', { class: 'step' }, t('guideStep', { n: step + 1 })),
    h('h2', {}, title),
    h('p', {}, body),
    h('ol', { class: 'dots', 'aria-hidden': 'true' }, [0, 1, 2, 3].map((i) => h('li', { class: i === step ? 'on' : '' }))),
    h('div', { class: 'actions' }, button(last ? t('ok') : t('next'), () => (last ? done() : guide(step + 1, done)))),
  ]);
}

function activated() {
  show('activated', t('activatedTitle'), [
    h('div', { class: 'tick', 'aria-hidden': 'true' }, '✓'),
    h('p', {}, t('activatedText')),
    h('div', { class: 'actions' }, button(t('ok'), home)),
  ]);
}
