// Settings (R-APP6) in the seed's order — lock on close, fingerprint, notifications, change code, support,
// the guide, the language — with the serial and "Afregistrér", and what deregistering leaves behind: nothing.

import { ApiError, wipe } from '../device.js';
import { fingerprintSupported, pushAvailable, registerFingerprint, removeFingerprint, setNotifications } from '../capabilities.js';
import { stopListening } from '../live.js';
import { go, register } from '../router.js';
import { DEFAULT_SETTINGS, api, app, disarmLock, saveSettings, switchLanguage, t } from '../state.js';
import { button, explain, field, form, h, message, show } from '../ui.js';

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

/** The gear: the settings (while the app is locked, those that need no unlock). */
async function settingsScreen() {
  const active = api.device?.status === 'active';
  const locked = active && !api.session;
  const items = [];
  if (active && !locked) {
    items.push(toggle(t('lockOnClose'), app.settings.lockOnClose, async (on) => {
      app.settings.lockOnClose = on;
      await saveSettings();
    }, t('lockOnCloseText')));
    if (await fingerprintSupported()) {
      items.push(toggle(t('fingerprintSetting'), app.settings.fingerprint, async (on) => {
        if (on) await registerFingerprint();
        else await removeFingerprint();
      }));
    }
    if (pushAvailable()) {
      items.push(toggle(t('notifications'), app.settings.notifications, setNotifications, t('notificationsText')));
    }
    items.push(h('li', {}, button(t('changeCode'), () => go('changeCode'), 'row')));
  }
  items.push(h('li', {}, button(t('support'), support, 'row')));
  items.push(h('li', {}, button(t('showGuide'), () => go('guide', 0, settingsScreen), 'row')));
  if (api.device) {
    items.push(h('li', { class: 'serial' }, h('span', {}, t('serial')), h('strong', { id: 'serial', class: 'serial-number' }, api.device.serial)));
    if (!locked) items.push(h('li', {}, button(t('deregister'), deregisterScreen, 'row danger-text')));
  }
  // The language last: it is not one of the seed's settings.
  items.push(h('li', {}, button(t('language'), () => switchLanguage(settingsScreen), 'row')));
  show('settings', t('settings'), [
    locked ? message('info', t('settingsLocked')) : null,
    h('ul', { class: 'settings' }, items),
  ], { top: 'back', onBack: resume });
}

/** Back to where the device's state says the app is: the welcome, the wait, or requests (after unlock). */
function resume() {
  if (!api.device) return go('welcome');
  if (api.device.status === 'pending') return go('wait');
  return go('home');
}

/** "Hjælp og NemID support": who to contact, with the operator's phone number and web address. */
async function support() {
  const contact = h('div', { class: 'contact' });
  show('support', t('support'), [
    h('p', {}, t('supportText')),
    contact,
    api.device ? h('p', {}, `${t('serial')}: `, h('strong', { class: 'serial-number' }, api.device.serial)) : null,
  ], { top: 'back', onBack: settingsScreen });
  try {
    const { support: { phone, url } } = await api.about();
    // Only what the operator has set; with neither, the user is told so (not shown an empty line).
    const lines = [
      phone ? h('p', {}, `${t('supportPhone')}: `, h('a', { href: `tel:${phone.replace(/[^\d+]/g, '')}` }, phone)) : null,
      url ? h('p', {}, `${t('supportWeb')}: `, h('a', { href: url, rel: 'noopener', target: '_blank' }, url)) : null,
    ].filter(Boolean);
    contact.replaceChildren(...(lines.length > 0 ? lines : [h('p', {}, t('supportNone'))]));
  } catch { /* offline: the words above still say whom to ask */ }
}

function deregisterScreen() {
  show('deregister', t('deregisterTitle'), form([
    h('p', {}, t('deregisterText')),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn danger' }, t('deregister')),
      button(t('cancel'), settingsScreen, 'secondary')),
  ], async () => {
    try {
      await api.deregister();
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 'unknown_device')) throw err;
    }
    await forget();
    go('welcome', t('deregistered'));
  }), { top: 'back', onBack: settingsScreen });
}

/** Deletes every trace of the device here: the session, the push subscription, IndexedDB. */
async function forget() {
  disarmLock();
  stopListening();
  api.session = null;
  api.device = null;
  try {
    const reg = await navigator.serviceWorker?.getRegistration();
    await (await reg?.pushManager?.getSubscription())?.unsubscribe();
  } catch { /* no push */ }
  await wipe();
  app.settings = { ...DEFAULT_SETTINGS, lang: app.settings.lang };
}

/** The server no longer knows this device (deregistered elsewhere, or revoked). */
async function deviceGone() {
  await forget();
  go('welcome', t('errors.unknown_device'));
}

register({ settings: settingsScreen, resume, deviceGone });
