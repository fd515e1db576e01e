// The building blocks every screen is made of: elements, buttons, fields, messages, forms that show their
// errors, the frame of a screen (the top-left button, the heading, help "?"), and refusals in the user's words.

import { TEXTS } from './i18n.js';
import { BLOCKED_CODES } from './policy.js';
import { ApiError } from './device.js';
import { go } from './router.js';
import { api, app, t } from './state.js';

const main = document.getElementById('screen');
const left = document.getElementById('left');
const right = document.getElementById('help-button');
const helpDialog = document.getElementById('help');

/** An element: `h('p', { class: 'x', onclick: f }, 'text', child)`. Text is always text, never HTML. */
export function h(tag, props = {}, ...children) {
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

export function button(label, onclick, kind = 'primary', extra = {}) {
  return h('button', { type: 'button', class: `btn ${kind}`, onclick, ...extra }, label);
}

let fieldCount = 0;
/** A fresh element id. */
export function newId() {
  return `f${++fieldCount}`;
}

export function field(label, input) {
  const id = newId();
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

export function codeInput(name) {
  return h('input', {
    name, type: 'password', inputmode: 'numeric', pattern: '[0-9]{4}', maxlength: '4', autocomplete: 'off',
    required: true, class: 'code',
  });
}

/** The text `key` with `vars` put in; a value that is an element stays one (a serial kept on one line). */
export function textWith(key, vars) {
  const marked = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v instanceof Node ? `\u0000${k}\u0000` : v]));
  return t(key, marked).split('\u0000').map((part, i) => (i % 2 === 1 ? vars[part] : part));
}

/** A serial number, never broken over two lines. */
export function serialNumber(serial) {
  return h('span', { class: 'serial-number' }, serial);
}

export function message(kind, textContent) {
  return h('p', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, textContent);
}

/** The first element of the screen shown that `selector` matches. */
export function find(selector) {
  return main.querySelector(selector);
}

/** The error box of the screen shown. */
export function errorBox() {
  return find('.form-error');
}

/** A form whose submit runs `onsubmit(form)` with errors shown above its buttons. */
export function form(children, onsubmit) {
  const box = h('div', { class: 'form-error', 'aria-live': 'assertive' });
  const f = h('form', { novalidate: true }, box, ...children);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    await busy(f, async () => {
      box.replaceChildren();
      try {
        await onsubmit(f);
      } catch (err) {
        box.replaceChildren(message('error', explain(err)));
        if (err instanceof ApiError && err.code === 'locked') go('lock');
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
export function explain(err) {
  if (!(err instanceof ApiError)) return err.message ?? String(err);
  if (err.code === 'offline') return t('offline');
  if (err.code === 'too_many_devices') {
    return t('errors.too_many_devices', { max: err.body.max, devices: (err.body.devices ?? []).join(', ') });
  }
  if (err.code === 'platform_unsupported') {
    const { platform, minimum, version } = err.body;
    return minimum ? t('errors.platform_too_old', { platform, minimum, version }) : t('errors.platform_unsupported');
  }
  if (err.code === 'invalid') return `${t('errors.invalid')} (${err.message})`;
  if (err.code === 'wrong_code') return t('wrongCode', { remaining: err.body.remaining ?? 0 });
  if (err.code === 'wrong_match_code') return t('wrongMatch');
  if (err.code === 'cooling_off') return t('errors.cooling_off', { time: formatTime(err.body.until) });
  if (err.code === 'expired' || err.code === 'already_decided' || err.code === 'not_found') return t('requestGone');
  const known = TEXTS.da.errors[err.code];
  return known ? t(`errors.${err.code}`) : t('errors.unknown', { code: err.code });
}

/**
 * Shows a screen: its help topic, the button top left (`gear`; `reject` with `onReject`; `back` with
 * `onBack`; or `none`), a title and content.
 */
export function show(topic, title, content, { top = 'gear', onReject, onBack } = {}) {
  app.screen = topic;
  main.dataset.screen = topic;
  left.replaceChildren();
  if (top === 'gear') {
    left.append(h('button', { type: 'button', class: 'icon', 'aria-label': t('settings'), title: t('settings'), onclick: () => go('settings') },
      h('span', { 'aria-hidden': 'true' }, '⚙')));
  } else if (top === 'reject') {
    left.append(h('button', { type: 'button', class: 'reject-top', onclick: onReject }, t('reject')));
  } else if (top === 'back') {
    left.append(h('button', { type: 'button', class: 'back-top', onclick: onBack },
      h('span', { 'aria-hidden': 'true' }, '‹ '), t('back')));
  }
  right.setAttribute('aria-label', t('help'));
  right.title = t('help');
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading, ...[content].flat().filter((c) => c !== null && c !== undefined && c !== false));
  heading.focus();
  document.documentElement.lang = app.settings.lang;
}

/** Replaces the content of the screen shown with a message (when the app cannot start). */
export function showFailure(err) {
  main.replaceChildren(message('error', String(err)));
}

function showHelp() {
  const body = helpDialog.querySelector('.help-body');
  helpDialog.querySelector('h2').textContent = t('helpTitle');
  helpDialog.querySelector('.help-close').textContent = t('close');
  helpDialog.querySelector('.help-guide').textContent = t('showGuide');
  body.textContent = t(`helpTexts.${app.screen}`);
  helpDialog.showModal();
}
right.addEventListener('click', showHelp);
// Closed, the help holds no text: nothing of an earlier screen's help lingers in the page.
helpDialog.addEventListener('close', () => helpDialog.querySelector('.help-body').replaceChildren());
helpDialog.querySelector('.help-close').addEventListener('click', () => helpDialog.close());
// The guide (seed step 10) from any screen's help; afterwards the app goes on where the device's state says.
helpDialog.querySelector('.help-guide').addEventListener('click', () => {
  helpDialog.close();
  go('guide', 0, () => go('resume'));
});

/** Closes the help if it is open (the app locked). */
export function closeHelp() {
  if (helpDialog.open) helpDialog.close();
}

export function formatTime(serverSeconds) {
  return api.localDate(serverSeconds).toLocaleTimeString(app.settings.lang === 'da' ? 'da-DK' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

let opaqueModule = null;
/** The OPAQUE client (WebAssembly), loaded on first use. */
export async function opaque() {
  if (!opaqueModule) {
    opaqueModule = await import('./opaque.js');
    await opaqueModule.ready;
  }
  return opaqueModule;
}

/** Refuses a new code that is not four digits or is too easy to guess. */
export function checkNewCode(code) {
  if (!/^\d{4}$/.test(code)) throw new Error(t('codeFormat'));
  if (BLOCKED_CODES.includes(code)) throw new Error(t('codeWeak'));
}
