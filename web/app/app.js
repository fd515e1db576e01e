// The key app's screens, in the seed's order: activation (steps 1–12), unlock, requests with the swipe to
// approve, reject, receipt, settings, help, "Glemt kode", change code, deregister, and the X-3 notice.

import { TEXTS, text } from './i18n.js';
import { BLOCKED_CODES } from './policy.js';
import { Api, ApiError, creationOptions, credentialJson, load, requestOptions, save, wipe } from './device.js';

/** The app always locks after this long (R-APP4), whatever the settings. */
const LOCK_AFTER_MS = 5 * 60 * 1000;

const api = new Api();
const main = document.getElementById('screen');
const left = document.getElementById('left');
const right = document.getElementById('help-button');
const helpDialog = document.getElementById('help');

let settings = { lockOnClose: true, fingerprint: false, notifications: false, lang: 'da' };
let helpKey = 'welcome';
let lockTimer = null;
let listening = null;
let opaqueModule = null;
/** Between two screens of one flow (ticket, key-card key asked for, the first code typed …). */
let flow = {};

const t = (key, vars) => text(settings.lang, key, vars);

// ---------------------------------------------------------------- building blocks

/** An element: `h('p', { class: 'x', onclick: f }, 'text', child)`. Text is always text, never HTML. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function button(label, onclick, kind = 'primary', extra = {}) {
  return h('button', { type: 'button', class: `btn ${kind}`, onclick, ...extra }, label);
}

let fieldCount = 0;
function field(label, input) {
  const id = `f${++fieldCount}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

function codeInput(name) {
  return h('input', {
    name, type: 'password', inputmode: 'numeric', pattern: '[0-9]{4}', maxlength: '4', autocomplete: 'off',
    required: true, class: 'code',
  });
}

function message(kind, textContent) {
  return h('p', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, textContent);
}

/** A form whose submit runs `onsubmit(form)` with errors shown above its buttons. */
function form(children, onsubmit) {
  const errorBox = h('div', { class: 'form-error', 'aria-live': 'assertive' });
  const f = h('form', { novalidate: true }, errorBox, ...children);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(f, async () => {
      errorBox.replaceChildren();
      try {
        await onsubmit(f);
      } catch (err) {
        errorBox.replaceChildren(message('error', explain(err)));
        if (err instanceof ApiError && err.code === 'locked') lockNow();
      }
    });
  });
  return f;
}

async function busy(el, fn) {
  const controls = [...el.querySelectorAll('button, input')];
  controls.forEach((c) => { c.disabled = true; });
  el.setAttribute('aria-busy', 'true');
  try {
    await fn();
  } finally {
    controls.forEach((c) => { c.disabled = false; });
    el.removeAttribute('aria-busy');
  }
}

/** A refusal in the user's words. */
function explain(err) {
  if (!(err instanceof ApiError)) return err.message ?? String(err);
  if (err.code === 'offline') return t('offline');
  if (err.code === 'too_many_devices') {
    return t('errors.too_many_devices', { max: err.body.max, devices: (err.body.devices ?? []).join(', ') });
  }
  if (err.code === 'platform_unsupported' || err.code === 'invalid') return `${t(`errors.${err.code}`)} (${err.message})`;
  if (err.code === 'wrong_code') return t('wrongCode', { remaining: err.body.remaining ?? 0 });
  if (err.code === 'wrong_match_code') return t('wrongMatch');
  if (err.code === 'cooling_off') return t('errors.cooling_off', { time: formatTime(err.body.until) });
  if (err.code === 'expired' || err.code === 'already_decided' || err.code === 'not_found') return t('requestGone');
  const known = TEXTS.da.errors[err.code];
  return known ? t(`errors.${err.code}`) : t('errors.unknown', { code: err.code });
}

/** Shows a screen: its help topic, the button top left (`gear`, `reject` or none), a title and content. */
function show(topic, title, content, { top = 'gear', onReject } = {}) {
  helpKey = topic;
  main.dataset.screen = topic;
  left.replaceChildren();
  if (top === 'gear') {
    left.append(h('button', { type: 'button', class: 'icon', 'aria-label': t('settings'), title: t('settings'), onclick: openSettings },
      h('span', { 'aria-hidden': 'true' }, '⚙')));
  } else if (top === 'reject') {
    left.append(h('button', { type: 'button', class: 'reject-top', onclick: onReject }, t('reject')));
  }
  right.setAttribute('aria-label', t('help'));
  right.title = t('help');
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading, ...[content].flat().filter((c) => c !== null && c !== undefined && c !== false));
  heading.focus();
  document.documentElement.lang = settings.lang;
}

function showHelp() {
  const body = helpDialog.querySelector('.help-body');
  helpDialog.querySelector('h2').textContent = t('helpTitle');
  helpDialog.querySelector('.help-close').textContent = t('close');
  body.textContent = t(`helpTexts.${helpKey}`);
  helpDialog.showModal();
}
right.addEventListener('click', showHelp);
helpDialog.querySelector('.help-close').addEventListener('click', () => helpDialog.close());

async function saveSettings() {
  await save('settings', settings);
}

function formatTime(serverSeconds) {
  return api.localDate(serverSeconds).toLocaleTimeString(settings.lang === 'da' ? 'da-DK' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

async function opaque() {
  if (!opaqueModule) {
    opaqueModule = await import('./opaque.js');
    await opaqueModule.ready;
  }
  return opaqueModule;
}

function checkNewCode(code) {
  if (!/^\d{4}$/.test(code)) throw new Error(t('codeFormat'));
  if (BLOCKED_CODES.includes(code)) throw new Error(t('codeWeak'));
}

// ---------------------------------------------------------------- activation (seed steps 1–12)

function welcome(notice) {
  show('welcome', t('activateTitle'), [
    notice ? message('info', notice) : null,
    h('p', {}, t('welcomeText')),
    h('div', { class: 'actions' }, button(t('start'), terms)),
    h('p', { class: 'lang' }, button(t('language'), () => switchLanguage(() => welcome(notice)), 'link')),
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
    loginScreen('activate1');
  }));
  const id = `f${++fieldCount}`;
  box.id = id;
  box.nextSibling.setAttribute('for', id);
}

/** User ID + password, for activation (`activate1`, `activate2`) or "Glemt kode" (`forgot`). */
function loginScreen(purpose) {
  const user = h('input', { name: 'user', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const title = purpose === 'activate2' ? t('loginLastTitle') : t('loginTitle');
  show(purpose === 'forgot' ? 'forgot' : 'login', title, form([
    field(t('userId'), user),
    field(t('password'), pass),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('next')),
      purpose === 'forgot' ? button(t('cancel'), unlockScreen, 'secondary') : null),
  ], async () => {
    if (!user.value.trim() || !pass.value) throw new Error(t('errors.rejected'));
    const ticket = await api.login(user.value.trim(), pass.value);
    flow = { ticket: ticket.ticket, card: ticket.key_card };
    keyScreen(purpose);
  }), { top: purpose === 'forgot' ? 'none' : 'gear' });
  user.focus();
}

function keyScreen(purpose) {
  const { serial, key_number: number } = flow.card;
  const key = h('input', { name: 'key', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, class: 'key', maxlength: '6' });
  const action = purpose === 'forgot' ? t('reset') : t('activate');
  show(purpose === 'forgot' ? 'forgot' : 'key', t('keyTitle'), form([
    h('p', { class: 'key-prompt' }, t('keyPrompt', { serial, number })),
    field(t('keyLabel', { number }), key),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, action)),
  ], async () => {
    const typed = key.value.replace(/\s/g, '');
    if (purpose === 'activate1') {
      await api.startActivation(flow.ticket, typed);
      await save('device', api.device);
      flow = {};
      waitScreen();
    } else if (purpose === 'activate2') {
      await api.completeActivation(flow.ticket, typed);
      await save('device', api.device);
      flow = {};
      startListening();
      chooseCode('first');
    } else {
      const resetToken = await api.forgotCode(flow.ticket, typed);
      await save('device', api.device);
      flow = { resetToken };
      chooseCode('forgot');
    }
  }), { top: purpose === 'forgot' ? 'none' : 'gear' });
  key.focus();
}

function waitScreen() {
  const d = api.device;
  const status = h('p', { class: 'wait-status', 'aria-live': 'polite' });
  const next = h('button', { type: 'button', class: 'btn primary', disabled: true, onclick: () => loginScreen('activate2') }, t('next'));
  const refresh = async () => {
    try {
      const fresh = await api.refreshDevice();
      await save('device', api.device);
      if (main.dataset.screen !== 'wait') return;
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
      pushAvailable() && !settings.notifications
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
          await api.signed('DELETE', '/api/app/v1/device');
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

/** Choose a code and repeat it: `first` (activation), `forgot` or `change`. */
function chooseCode(purpose, first) {
  const code = codeInput('code');
  const title = first ? t('codeRepeatTitle') : purpose === 'first' ? t('codeTitle') : t('newCodeTitle');
  show('code', title, form([
    first ? null : h('p', {}, t('codeText')),
    field(t('codeLabel'), code),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('next')),
      purpose === 'change' ? button(t('cancel'), home, 'secondary') : null),
  ], async () => {
    if (!first) {
      checkNewCode(code.value);
      chooseCode(purpose, code.value);
      return;
    }
    if (code.value !== first) {
      chooseCode(purpose);
      main.querySelector('.form-error').replaceChildren(message('error', t('codeMismatch')));
      return;
    }
    const o = await opaque();
    await api.registerCode(o, first, purpose === 'forgot' ? flow.resetToken : undefined);
    await save('device', api.device);
    await api.unlock(o, first);
    armLock();
    flow = {};
    if (purpose === 'first') {
      if (await fingerprintSupported()) fingerprintChoice();
      else guide(0, activated);
    } else {
      show('receipt', t('codeChangedTitle'), [
        h('div', { class: 'tick', 'aria-hidden': 'true' }, '✓'),
        h('p', {}, t('codeChangedText')),
        h('div', { class: 'actions' }, button(t('ok'), home)),
      ]);
    }
  }), { top: purpose === 'first' ? 'gear' : 'none' });
  code.focus();
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
    h('div', { class: 'actions' }, button(t('ok'), home)),
  ]);
}

// ---------------------------------------------------------------- unlock and lock (R-APP4)

function unlockScreen(notice) {
  if (api.session) return home();
  const code = codeInput('code');
  const blocked = notice === 'blocked';
  const fingerprintButton = settings.fingerprint && !blocked
    ? button(t('unlockFingerprint'), async () => {
      const box = main.querySelector('.form-error');
      try {
        await unlockWithFingerprint();
        armLock();
        home();
      } catch (err) {
        box.replaceChildren(message('error', err instanceof ApiError ? explain(err) : t('fingerprintFailed')));
        if (err instanceof ApiError && err.code === 'no_fingerprint') {
          settings.fingerprint = false;
          await saveSettings();
          unlockScreen();
          main.querySelector('.form-error').replaceChildren(message('error', explain(err)));
          return;
        }
        code.focus();
      }
    }, 'secondary')
    : null;
  show('unlock', t('lockedTitle'), [
    notice === 'request' ? message('info', t('requestWaiting')) : null,
    blocked ? message('error', t('blocked')) : null,
    form([
      h('p', {}, t('unlockText')),
      field(t('codeLabel'), code),
      h('div', { class: 'actions' },
        h('button', { type: 'submit', class: 'btn primary', disabled: blocked }, t('unlock')),
        fingerprintButton,
        button(t('forgotCode'), () => loginScreen('forgot'), 'link')),
    ], async () => {
      if (!/^\d{4}$/.test(code.value)) throw new Error(t('codeFormat'));
      try {
        await api.unlock(await opaque(), code.value);
        await save('device', api.device);
      } catch (err) {
        code.value = '';
        if (err instanceof ApiError && err.code === 'device_blocked') return unlockScreen('blocked');
        // Activated, but the app closed before a code was chosen: choose it now.
        if (err instanceof ApiError && err.code === 'no_code') return chooseCode('first');
        throw err;
      }
      armLock();
      home();
    }),
  ]);
  if (blocked) return;
  code.focus();
}

/** The app stays unlocked at most 5 minutes (R-APP4). */
function armLock() {
  clearTimeout(lockTimer);
  lockTimer = setTimeout(lockNow, Math.max(0, api.session.until - Date.now()));
}

async function lockNow(notice) {
  clearTimeout(lockTimer);
  if (helpDialog.open) helpDialog.close();
  await api.lock();
  if (api.device?.status === 'active') unlockScreen(notice);
}

// "Lås når appen lukker": hidden counts as closed.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && settings.lockOnClose && api.session) lockNow();
});

// ---------------------------------------------------------------- requests (R-APP5, X-1, X-2, X-3)

async function home() {
  if (!api.session) return unlockScreen();
  const list = h('div', { class: 'requests', 'aria-live': 'polite' });
  const notices = h('div', { class: 'notices' });
  show('ready', t('readyTitle'), [
    notices,
    h('div', { class: 'radar', 'aria-hidden': 'true' }),
    h('p', {}, t('readyText')),
    list,
    h('div', { class: 'actions' }, button(t('refresh'), () => refreshRequests(list, notices), 'secondary')),
  ]);
  await refreshRequests(list, notices);
}

async function refreshRequests(list, notices) {
  try {
    const [{ requests }, { pending }] = await Promise.all([
      api.signed('GET', '/api/app/v1/requests'),
      api.signed('GET', '/api/app/v1/activations'),
    ]);
    notices.replaceChildren(...pending.filter((d) => d.device_id !== api.device.deviceId).map((d) => pendingNotice(d, notices)));
    if (requests.length > 0 && main.dataset.screen === 'ready') return requestScreen(requests[0]);
    list.replaceChildren(message('info', t('noRequests')));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'locked') return lockNow();
    if (err instanceof ApiError && err.code === 'unknown_device') return deviceGone();
    // Waiting after "Glemt kode" is expected, not an error.
    list.replaceChildren(message(err instanceof ApiError && err.code === 'cooling_off' ? 'info' : 'error', explain(err)));
  }
}

/** X-3: another device of the user waits its hour (a new activation, or "Glemt kode"); "Afbryd" ends it. */
function pendingNotice(d, notices) {
  const box = h('section', { class: 'notice warn', role: 'alert' },
    h('h2', {}, t(d.reason === 'code_reset' ? 'codeResetTitle' : 'pendingActivationTitle')),
    h('p', {}, t(d.reason === 'code_reset' ? 'codeResetText' : 'pendingActivationText', { name: d.name, serial: d.serial })),
    button(t('abort'), async () => {
      try {
        await api.signed('POST', `/api/app/v1/activations/${encodeURIComponent(d.device_id)}/cancel`);
        box.replaceWith(message('info', t(d.reason === 'code_reset' ? 'abortedReset' : 'aborted', { name: d.name })));
      } catch (err) {
        box.append(message('error', explain(err)));
      }
    }, 'danger'));
  return box;
}

function requestScreen(r) {
  const match = r.match_code_required ? codeInput('match') : null;
  if (match) {
    match.maxLength = 2;
    match.pattern = '[0-9]{2}';
    match.type = 'text';
  }
  const errorBox = h('div', { class: 'form-error', 'aria-live': 'assertive' });
  const slider = swipe(t('approve'), async (reset) => {
    errorBox.replaceChildren();
    const typed = match?.value.trim() ?? null;
    if (match && !/^\d{2}$/.test(typed)) {
      errorBox.replaceChildren(message('error', t('matchMissing')));
      match.focus();
      return reset();
    }
    try {
      await decide(r, 'approve', { match_code: typed });
      receipt(true);
    } catch (err) {
      errorBox.replaceChildren(message('error', explain(err)));
      if (err instanceof ApiError && err.code === 'locked') return lockNow();
      if (err instanceof ApiError && ['expired', 'already_decided', 'not_found'].includes(err.code)) {
        return setTimeout(home, 2500);
      }
      if (match) {
        match.value = '';
        match.focus();
      }
      reset();
    }
  });
  show('request', t('requestTitle'), [
    h('dl', { class: 'request' },
      h('dt', {}, t('service')), h('dd', { class: 'service' }, r.client_name),
      h('dt', {}, t('action')), h('dd', { class: 'action' }, r.action),
      h('dt', {}, t('time')), h('dd', {}, formatTime(r.created_at), h('span', { class: 'expires' }, ` · ${t('expires', { time: formatTime(r.expires_at) })}`))),
    match ? h('div', { class: 'match' }, field(t('matchLabel'), match), h('p', { class: 'hint' }, t('matchHint'))) : null,
    r.match_code ? message('info', t('matchShown', { code: r.match_code })) : null,
    errorBox,
    slider,
  ], { top: 'reject', onReject: () => rejectScreen(r) });
  match?.focus();
}

function decide(r, decision, extra = {}) {
  return api.signed('POST', `/api/app/v1/requests/${encodeURIComponent(r.request_id)}/decision`, {
    decision, request_nonce: r.nonce, client_id: r.client_id, expires_at: r.expires_at, match_code: null, not_me: false, ...extra,
  });
}

/**
 * The swipe to approve: drag the arrow to the right end ("Godkend"). As a slider it also works with the
 * keyboard: arrow keys move it, End (or Enter) moves it to the end. `onDone(reset)` runs at the end.
 */
function swipe(label, onDone) {
  const knob = h('div', {
    class: 'knob', role: 'slider', tabindex: '0', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100',
    'aria-valuenow': '0', 'aria-valuetext': t('slideHint'),
  }, h('span', { 'aria-hidden': 'true' }, '➜'));
  const track = h('div', { class: 'swipe' }, h('span', { class: 'swipe-label', 'aria-hidden': 'true' }, label), knob);
  let value = 0;
  let done = false;
  const max = () => track.clientWidth - knob.offsetWidth - 8;
  const set = (v) => {
    value = Math.max(0, Math.min(100, v));
    knob.style.transform = `translateX(${(max() * value) / 100}px)`;
    knob.setAttribute('aria-valuenow', String(Math.round(value)));
  };
  const reset = () => {
    done = false;
    track.classList.remove('done');
    knob.classList.add('snap');
    set(0);
  };
  const finish = () => {
    if (done) return;
    done = true;
    set(100);
    track.classList.add('done');
    onDone(reset);
  };
  let start = null;
  knob.addEventListener('pointerdown', (e) => {
    if (done) return;
    // Where the arrow is seen now (it may be gliding back), not where it is heading.
    const seen = ((knob.getBoundingClientRect().left - track.getBoundingClientRect().left - 4) / max()) * 100;
    knob.classList.remove('snap');
    set(seen);
    start = { x: e.clientX, value };
    knob.setPointerCapture(e.pointerId);
  });
  knob.addEventListener('pointermove', (e) => {
    if (start) set(start.value + ((e.clientX - start.x) / max()) * 100);
  });
  const release = () => {
    if (!start) return;
    start = null;
    if (value >= 90) finish();
    else {
      knob.classList.add('snap');
      set(0);
    }
  };
  knob.addEventListener('pointerup', release);
  knob.addEventListener('pointercancel', release);
  knob.addEventListener('keydown', (e) => {
    if (done) return;
    if (e.key === 'ArrowRight' || e.key === 'ArrowUp') set(value + 25);
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowDown' || e.key === 'Home') set(e.key === 'Home' ? 0 : value - 25);
    else if (e.key === 'End' || e.key === 'Enter') set(100);
    else return;
    e.preventDefault();
    if (value >= 100) finish();
  });
  return h('div', { class: 'swipe-wrap' }, track, h('p', { class: 'hint' }, t('slideHint')));
}

function rejectScreen(r) {
  const notMe = h('input', { type: 'checkbox', name: 'not_me' });
  show('reject', t('rejectTitle'), form([
    h('p', {}, t('rejectText', { service: r.client_name })),
    field(t('notMe'), notMe),
    h('p', { class: 'hint' }, t('notMeText')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn danger' }, t('reject')),
      button(t('cancel'), () => requestScreen(r), 'secondary')),
  ], async () => {
    await decide(r, 'reject', { not_me: notMe.checked });
    receipt(false);
  }), { top: 'none' });
  main.querySelector('.field').classList.add('check');
}

function receipt(approved) {
  show('receipt', approved ? t('approvedTitle') : t('rejectedTitle'), [
    h('div', { class: approved ? 'tick' : 'cross', 'aria-hidden': 'true' }, approved ? '✓' : '✕'),
    h('p', {}, approved ? t('approvedText') : t('rejectedText')),
    h('div', { class: 'actions' }, button(t('ok'), home)),
  ]);
}

// ---------------------------------------------------------------- settings (R-APP6) and help (R-APP7)

function openSettings() {
  if (api.device?.status === 'active' && !api.session) return unlockScreen();
  settingsScreen();
}

function toggle(label, checked, onchange, description) {
  const input = h('input', { type: 'checkbox', role: 'switch' });
  input.checked = checked;
  input.addEventListener('change', async () => {
    const item = input.closest('li');
    item.querySelector('.message')?.remove();
    try {
      await onchange(input.checked);
    } catch (err) {
      input.checked = !input.checked;
      item.append(message('error', explain(err)));
    }
  });
  const f = field(label, input);
  f.classList.add('switch');
  return h('li', {}, f, description ? h('p', { class: 'hint' }, description) : null);
}

async function settingsScreen() {
  const active = api.device?.status === 'active';
  const items = [];
  if (active) {
    items.push(toggle(t('lockOnClose'), settings.lockOnClose, async (on) => {
      settings.lockOnClose = on;
      await saveSettings();
    }, t('lockOnCloseText')));
    if (await fingerprintSupported()) {
      items.push(toggle(t('fingerprintSetting'), settings.fingerprint, async (on) => {
        if (on) await registerFingerprint();
        else await removeFingerprint();
      }));
    }
    if (pushAvailable()) {
      items.push(toggle(t('notifications'), settings.notifications, async (on) => {
        await setNotifications(on);
      }, t('notificationsText')));
    }
    items.push(h('li', {}, button(t('changeCode'), () => chooseCode('change'), 'row')));
  }
  items.push(h('li', {}, button(t('support'), support, 'row')));
  items.push(h('li', {}, button(t('showGuide'), () => guide(0, settingsScreen), 'row')));
  items.push(h('li', {}, button(t('language'), () => switchLanguage(settingsScreen), 'row')));
  if (api.device) {
    items.push(h('li', { class: 'serial' }, h('span', {}, t('serial')), h('strong', { id: 'serial' }, api.device.serial)));
    items.push(h('li', {}, button(t('deregister'), deregisterScreen, 'row danger-text')));
  }
  show('settings', t('settings'), [
    h('ul', { class: 'settings' }, items),
    h('div', { class: 'actions' }, button(t('back'), back, 'secondary')),
  ], { top: 'none' });
}

function back() {
  if (!api.device) return welcome();
  if (api.device.status === 'pending') return waitScreen();
  return home();
}

function support() {
  show('settings', t('support'), [
    h('p', {}, t('supportText')),
    api.device ? h('p', {}, `${t('serial')}: `, h('strong', {}, api.device.serial)) : null,
    h('div', { class: 'actions' }, button(t('back'), settingsScreen, 'secondary')),
  ], { top: 'none' });
}

function deregisterScreen() {
  show('deregister', t('deregisterTitle'), form([
    h('p', {}, t('deregisterText')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn danger' }, t('deregister')),
      button(t('cancel'), settingsScreen, 'secondary')),
  ], async () => {
    try {
      await api.signed('DELETE', '/api/app/v1/device');
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'unknown_device')) throw err;
    }
    await forget();
    welcome(t('deregistered'));
  }), { top: 'none' });
}

/** Deletes every trace of the device here: the session, the push subscription, IndexedDB. */
async function forget() {
  clearTimeout(lockTimer);
  stopListening();
  api.session = null;
  api.device = null;
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    await (await reg?.pushManager?.getSubscription())?.unsubscribe();
  } catch { /* no push */ }
  await wipe();
  const lang = settings.lang;
  settings = { lockOnClose: true, fingerprint: false, notifications: false, lang };
}

async function deviceGone() {
  await forget();
  welcome(t('errors.unknown_device'));
}

async function switchLanguage(then) {
  settings.lang = settings.lang === 'da' ? 'en' : 'da';
  await saveSettings();
  then();
}

// ---------------------------------------------------------------- fingerprint (WebAuthn, verified by the server)

async function fingerprintSupported() {
  try {
    return Boolean(window.PublicKeyCredential && await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable());
  } catch {
    return false;
  }
}

async function registerFingerprint() {
  const options = await api.signed('POST', '/api/app/v1/fingerprint/register/start', {});
  const credential = await navigator.credentials.create(creationOptions(options));
  await api.signed('POST', '/api/app/v1/fingerprint/register/finish', { credential: credentialJson(credential) });
  settings.fingerprint = true;
  await saveSettings();
}

async function removeFingerprint() {
  await api.signed('DELETE', '/api/app/v1/fingerprint');
  settings.fingerprint = false;
  await saveSettings();
}

async function unlockWithFingerprint() {
  const deviceId = api.device.deviceId;
  const options = await api.call('POST', '/api/app/v1/fingerprint/login/start', { device_id: deviceId });
  const credential = await navigator.credentials.get(requestOptions(options));
  const s = await api.call('POST', '/api/app/v1/fingerprint/login/finish', { device_id: deviceId, credential: credentialJson(credential) });
  api.openSession(s);
}

// ---------------------------------------------------------------- notifications: live channel, Web Push (X-6)

/** A system notification — only while the app is not in view; never personal data. */
async function notify(body) {
  if (document.visibilityState === 'visible' || !('Notification' in window) || Notification.permission !== 'granted') return;
  const reg = await navigator.serviceWorker?.getRegistration();
  await reg?.showNotification('nøgle', { body, tag: 'noegle', icon: 'icon.svg' });
}

function pushAvailable() {
  return 'Notification' in window && 'serviceWorker' in navigator && 'PushManager' in window;
}

async function setNotifications(on) {
  const reg = await navigator.serviceWorker.ready;
  if (on) {
    if (await Notification.requestPermission() !== 'granted') throw new Error(t('notificationsDenied'));
    const { key } = await api.call('GET', '/api/app/v1/push/key');
    let sub;
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    } catch {
      throw new Error(t('notificationsFailed'));
    }
    await api.signed('PUT', '/api/app/v1/push', sub.toJSON());
  } else {
    await (await reg.pushManager.getSubscription())?.unsubscribe();
    await api.signed('DELETE', '/api/app/v1/push');
  }
  settings.notifications = on;
  await saveSettings();
}

let handlers = [];
function listenFor(handler) {
  handlers = [handler];
  startListening();
}

/** Keeps the live channel open (reconnecting with back-off) while the app has a device. */
function startListening() {
  if (listening) return;
  const controller = new AbortController();
  listening = controller;
  (async () => {
    let delay = 1000;
    while (!controller.signal.aborted && api.device) {
      try {
        await api.listen((name) => {
          delay = 1000;
          handlers.forEach((f) => f(name));
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

function stopListening() {
  listening?.abort();
  listening = null;
  handlers = [];
}

function onEvent(name) {
  if (name === 'request') {
    notify(t('requestWaiting'));
    if (main.dataset.screen === 'ready') home();
    else if (main.dataset.screen === 'unlock' && !main.querySelector('.message.info')) unlockScreen('request');
  } else if (name === 'pending_activation' && main.dataset.screen === 'ready') {
    home();
  }
}

// ---------------------------------------------------------------- start

async function boot() {
  settings = { ...settings, ...(await load('settings')) };
  if (navigator.serviceWorker) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => { /* the app works without */ });
  }
  api.device = (await load('device')) ?? null;
  if (!api.device) return welcome();
  if (api.device.status === 'pending') return waitScreen();
  startListening();
  unlockScreen();
}

boot().catch((err) => {
  main.replaceChildren(message('error', String(err)));
});
