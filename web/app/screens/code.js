// The app code (seed step 7–8, "Skift kode", "Glemt kode"): choose four digits, repeat them, register them by
// OPAQUE (the code never leaves the phone). Each way here is a flow of its own: the first code during
// activation, a new one after "Glemt kode", and a change from the settings.

import { save } from '../device.js';
import { go, register } from '../router.js';
import { api, armLock, t, timeInWords } from '../state.js';
import { button, checkNewCode, codeInput, errorBox, field, form, formatTime, h, message, opaque, show } from '../ui.js';

/**
 * @typedef {object} CodeFlow
 * @property {string} title - text key of the first screen's title
 * @property {'gear' | 'none'} top - the button top left
 * @property {(() => void) | null} cancel - where "Annuller" goes, if anywhere
 * @property {string} [resetToken] - the "Glemt kode" proof that allows the new code
 * @property {() => void | Promise<void>} done - what follows, the app unlocked with the new code
 */

/** The first code, during activation: no gear (the settings would ask for the code not yet chosen). */
const FIRST_CODE = { title: 'codeTitle', top: 'none', cancel: null, done: () => go('afterFirstCode') };

/** "Skift kode" from the settings (the app is unlocked). */
const CHANGE_CODE = { title: 'newCodeTitle', top: 'none', cancel: () => go('home'), done: codeChanged };

/** "Glemt kode": user ID, password and a key-card key give the device a new key and allow one new code. */
const FORGOT = {
  topic: 'forgot', keyTopic: 'forgotKey', title: 'forgotTitle', intro: 'forgotText', keyIntro: 'forgotKeyText',
  action: 'reset', top: 'none', cancel: () => go('unlock'),
  async withKey(ticket, key) {
    const { resetToken, readyAt, now } = await api.forgotCode(ticket, key);
    await save('device', api.device);
    chooseCode({ title: 'newCodeTitle', top: 'none', cancel: null, resetToken, done: () => codeReset(readyAt, now) });
  },
};

/** Starts "Glemt kode". */
function forgotCode() {
  go('login', FORGOT);
}

/** Choose a code (then repeat it as `first`) for `flow`. */
function chooseCode(flow, first) {
  const code = codeInput('code');
  const title = first ? t('codeRepeatTitle') : t(flow.title);
  show('code', title, form([
    first ? null : h('p', {}, t('codeText')),
    field(t('codeLabel'), code),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('next')),
      flow.cancel ? button(t('cancel'), flow.cancel, 'secondary') : null),
  ], async () => {
    if (!first) {
      checkNewCode(code.value);
      chooseCode(flow, code.value);
      return;
    }
    if (code.value !== first) {
      chooseCode(flow);
      errorBox().replaceChildren(message('error', t('codeMismatch')));
      return;
    }
    const o = await opaque();
    await api.registerCode(o, first, flow.resetToken);
    await save('device', api.device);
    await api.unlock(o, first);
    armLock();
    await flow.done();
  }), { top: flow.top });
  code.focus();
}

function codeChanged() {
  show('receipt', t('codeChangedTitle'), [
    h('div', { class: 'tick', 'aria-hidden': 'true' }, '✓'),
    h('p', {}, t('codeChangedText')),
    h('div', { class: 'actions' }, button(t('ok'), () => go('home'))),
  ]);
}

/** The receipt after "Glemt kode": the code is changed, and the app cools off (the activation wait) first. */
function codeReset(readyAt, now) {
  show('receipt', t('codeChangedTitle'), [
    h('div', { class: 'tick', 'aria-hidden': 'true' }, '✓'),
    h('p', {}, t('codeChangedText')),
    message('info', t('codeResetWait', { wait: timeInWords(readyAt - now), time: formatTime(readyAt) })),
    h('div', { class: 'actions' }, button(t('ok'), () => go('home'))),
  ]);
}

register({ firstCode: () => chooseCode(FIRST_CODE), changeCode: () => chooseCode(CHANGE_CODE), forgotCode });
