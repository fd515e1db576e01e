// A password + key-card log-in made from the app (seed steps 3–5 and 9, and "Glemt kode"): user ID and
// password, then the key the server asks for. What the key leads to is the flow's own: a `Login` names its
// screens' help topics, its title, its action, whether it can be cancelled, and `withKey(ticket, key)`.

import { ApiError } from '../device.js';
import { register } from '../router.js';
import { api, t } from '../state.js';
import { field, form, h, serialNumber, show, textWith } from '../ui.js';

/**
 * @typedef {object} Login
 * @property {string} topic - help topic of the password screen
 * @property {string} keyTopic - help topic of the key screen
 * @property {string} title - text key of the password screen's title
 * @property {string} [intro] - text key of a paragraph under the password screen's title
 * @property {string} [keyIntro] - text key of a paragraph under the key screen's prompt
 * @property {string} action - text key of the key screen's button
 * @property {'gear' | 'none'} top - the button top left
 * @property {(() => void) | null} cancel - where "Annuller" goes, if the flow can be cancelled
 * @property {(ticket: string, key: string) => Promise<void>} withKey - what the key is for
 */

/** User ID + password for `login`. */
function passwordScreen(login) {
  const user = h('input', { name: 'user', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  show(login.topic, t(login.title), form([
    login.intro ? h('p', {}, t(login.intro)) : null,
    field(t('userId'), user),
    field(t('password'), pass),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn primary' }, t('next')),
      login.cancel ? h('button', { type: 'button', class: 'btn secondary', onclick: login.cancel }, t('cancel')) : null),
  ], async () => {
    if (!user.value.trim() || !pass.value) throw new Error(t('loginMissing'));
    // This step asks for no key, so its refusal speaks of none.
    const ticket = await api.login(user.value.trim(), pass.value).catch(refusedAs('errors.rejected_password'));
    keyScreen(login, ticket);
  }), { top: login.top });
  user.focus();
}

/** A key card's serial as printed on the card and shown in the log-in box: `123-456-7890`. */
function displaySerial(serial) {
  return /^\d{10}$/.test(serial) ? `${serial.slice(0, 3)}-${serial.slice(3, 6)}-${serial.slice(6)}` : serial;
}

/** The key-card key the server asked for, with the ticket of the password step. */
function keyScreen(login, ticket) {
  const { key_number: number } = ticket.key_card;
  const serial = displaySerial(ticket.key_card.serial);
  const key = h('input', { name: 'key', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, class: 'key', maxlength: '6' });
  show(login.keyTopic, t('keyTitle'), form([
    h('p', { class: 'key-prompt' }, textWith('keyPrompt', { serial: serialNumber(serial), number })),
    field(t('keyLabel', { number }), key),
    login.keyIntro ? h('p', { class: 'hint' }, t(login.keyIntro)) : null,
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, t(login.action))),
  ], async () => {
    await login.withKey(ticket.ticket, key.value.replace(/\s/g, '')).catch(refusedAs('errors.rejected_key'));
  }), { top: login.top });
  key.focus();
}

/** Rethrows a refusal ("rejected") in the words of the step it came from; any other error as it is. */
function refusedAs(textKey) {
  return (err) => {
    throw err instanceof ApiError && err.code === 'rejected' ? new Error(t(textKey)) : err;
  };
}

register({ login: passwordScreen });
