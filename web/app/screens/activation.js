// Activating the app (seed steps 1–12): welcome, terms, the first log-in with a key-card key, the wait for
// the second, the second log-in, then the code (screens/code.js), the fingerprint, the guide and the receipt.

import { ApiError, belowMinimum, save, wipe } from '../device.js';
import { fingerprintSupported, pushAvailable, registerFingerprint, setNotifications } from '../capabilities.js';
import { listenFor, notify, startListening, stopListening } from '../live.js';
import { go, register } from '../router.js';
import { api, app, switchLanguage, t } from '../state.js';
import { button, errorBox, explain, find, form, formatTime, h, message, newId, show } from '../ui.js';

/** The first log-in: its key starts a pending device. */
const FIRST_LOGIN = {
  topic: 'login', keyTopic: 'key', title: 'loginTitle', action: 'activate', top: 'gear', cancel: null,
  async withKey(ticket, key) {
    await api.startActivation(ticket, key);
    await save('device', api.device);
    go('wait');
  },
};

/** The second log-in, after the wait: its key activates the device; then the code is chosen. */
const SECOND_LOGIN = {
  topic: 'login', keyTopic: 'key', title: 'loginLastTitle', action: 'activate', top: 'gear', cancel: null,
  async withKey(ticket, key) {
    await api.completeActivation(ticket, key);
    await save('device', api.device);
    startListening();
    go('firstCode');
  },
};

function welcome(notice) {
  const limits = h('p', { class: 'limits' });
  // The limits a user would otherwise meet only as a refusal: three devices, the oldest iOS and Android.
  const about = api.about().catch(() => null); // offline: activation cannot start anyway, and says so
  const start = async () => {
    const old = belowMinimum((await about)?.minimum);
    if (old) tooOld(old);
    else terms();
  };
  show('welcome', t('activateTitle'), [
    notice ? message('info', notice) : null,
    h('p', {}, t('welcomeText')),
    limits,
    h('div', { class: 'actions' }, button(t('start'), start)),
    h('p', { class: 'lang' }, button(t('language'), () => switchLanguage(() => welcome(notice)), 'link')),
  ]);
  about.then((a) => {
    if (!a || app.screen !== 'welcome') return;
    const { max_devices: max, minimum } = a;
    limits.textContent = t('welcomeLimits', { max, ios: minimum.ios, android: minimum.android });
    const old = belowMinimum(minimum);
    if (old) tooOld(old);
  });
}

/** A phone below the OS minimum (R-APP3) is told at once, before it asks for anything; it offers no start. */
function tooOld(facts) {
  show('unsupported', t('unsupportedTitle'), [
    message('error', t('errors.platform_too_old', facts)),
    h('p', {}, t('unsupportedText')),
    h('p', { class: 'lang' }, button(t('language'), () => switchLanguage(() => tooOld(facts)), 'link')),
  ]);
}

function terms() {
  const box = h('input', { type: 'checkbox', name: 'accept' });
  show('terms', t('termsTitle'), form([
    h('div', { class: 'terms', tabindex: '0' }, ...t('terms').map((p) => h('p', {}, p))),
    h('div', { class: 'check' }, box, h('label', {}, t('acceptTerms'))),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, t('next'))),
  ], async () => {
    if (!box.checked) throw new Error(t('acceptTermsFirst'));
    go('login', FIRST_LOGIN);
  }));
  const id = newId();
  box.id = id;
  box.nextSibling.setAttribute('for', id);
  // Ticked, the request to tick it is answered: it goes.
  box.addEventListener('change', () => { if (box.checked) errorBox().replaceChildren(); });
}

/** The wait between the two log-ins (seed step 6): "Næste" opens when the server says the wait is over. */
function waitScreen() {
  const d = api.device;
  const status = h('p', { class: 'wait-status', 'aria-live': 'polite' });
  const next = h('button', { type: 'button', class: 'btn primary', disabled: true, onclick: () => go('login', SECOND_LOGIN) }, t('next'));
  const refresh = async () => {
    try {
      const fresh = await api.refreshDevice();
      await save('device', api.device);
      if (app.screen !== 'wait') return;
      if (fresh.status === 'active') {
        startListening();
        go('unlock');
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
  const text = h('p', {}, t('waitText'));
  const clock = h('div', { class: 'clock', 'aria-hidden': 'true' });
  // Over, the wait is no longer asked for: the screen says only that it is over and what comes next.
  const ready = () => {
    if (!next.disabled) return;
    find('h1').textContent = t('waitOverTitle');
    text.remove();
    clock.replaceWith(h('div', { class: 'tick', 'aria-hidden': 'true' }, '✓'));
    status.replaceChildren(t('waitReady'));
    status.classList.add('ready');
    next.disabled = false;
    notify(t('readyNotice'));
  };
  show('wait', t('waitTitle'), [
    text,
    clock,
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
async function afterFirstCode() {
  if (await fingerprintSupported()) fingerprintChoice();
  else guide(0, activated);
}

function fingerprintChoice() {
  show('fingerprint', t('fingerprintTitle'), form([
    fingerprintDrawing(),
    h('p', {}, t('fingerprintText')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('useFingerprint')),
      button(t('continueWithout'), () => guide(0, activated), 'secondary')),
  ], async () => {
    await registerFingerprint();
    guide(0, activated);
  }));
}

/** A fingerprint, drawn (SVG) as open rings that all lie inside its box, whatever the box's size. */
function fingerprintDrawing() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 100 100');
  svg.setAttribute('class', 'fingerprint');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  // Rings of radius 6 to 42 (stroke 4: at most 44 from the centre, 6 from the edge), each open below.
  for (const [i, r] of [6, 15, 24, 33, 42].entries()) {
    const gap = 40 + i * 6; // degrees left open at the bottom
    const point = (deg) => {
      const a = ((deg + 90) * Math.PI) / 180;
      return `${(50 + r * Math.cos(a)).toFixed(2)} ${(50 + r * Math.sin(a)).toFixed(2)}`;
    };
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', `M ${point(gap / 2)} A ${r} ${r} 0 1 1 ${point(360 - gap / 2)}`);
    svg.append(path);
  }
  return svg;
}

/** The 4-step guide (seed step 10); `done` follows the last "OK". */
function guide(step, done) {
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
    h('div', { class: 'actions' }, button(t('ok'), () => go('home'))),
  ]);
}

register({ welcome, wait: waitScreen, afterFirstCode, guide });
