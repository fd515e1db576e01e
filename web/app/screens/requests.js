// Requests (R-APP5, X-1–X-3): the ready screen with the user's other unconfirmed devices, a request with the
// swipe to approve (and the match code to type), rejecting with "Det var ikke mig", and the receipt.

import { ApiError } from '../device.js';
import { swipe } from '../slider.js';
import { go, register } from '../router.js';
import { api, app, t } from '../state.js';
import { button, codeInput, explain, field, find, form, formatTime, h, message, serialNumber, show, textWith } from '../ui.js';

/** The ready screen ("Klar"): waits for requests; shows the first one there is. */
async function home() {
  if (!api.session) return go('unlock');
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
    const [{ requests }, { pending }] = await Promise.all([api.requests(), api.unconfirmed()]);
    notices.replaceChildren(...pending.filter((d) => d.device_id !== api.device.deviceId).map((d) => pendingNotice(d)));
    if (requests.length > 0 && app.screen === 'ready') return requestScreen(requests[0]);
    list.replaceChildren(message('info', t('noRequests')));
  } catch (err) {
    if (err instanceof ApiError && err.code === 'locked') return go('lock');
    if (err instanceof ApiError && err.code === 'unknown_device') return go('deviceGone');
    // Waiting after "Glemt kode" is expected, not an error.
    list.replaceChildren(message(err instanceof ApiError && err.code === 'cooling_off' ? 'info' : 'error', explain(err)));
  }
}

/** another device of the user waits its hour (a new activation, or "Glemt kode"); "Afbryd" ends it. */
function pendingNotice(d) {
  const reset = d.reason === 'code_reset';
  const box = h('section', { class: 'notice warn', role: 'alert' },
    h('h2', {}, t(reset ? 'codeResetTitle' : 'pendingActivationTitle')),
    h('p', {}, textWith(reset ? 'codeResetText' : 'pendingActivationText', { name: d.name, serial: serialNumber(d.serial) })),
    button(t('abort'), async () => {
      try {
        await api.stopDevice(d.device_id);
        box.replaceWith(message('info', t(reset ? 'abortedReset' : 'aborted', { name: d.name })));
      } catch (err) {
        box.append(message('error', explain(err)));
      }
    }, 'danger'));
  return box;
}

/** A request: who asks, what for, when; the match code to type where the policy asks for it; the swipe. */
function requestScreen(r) {
  const match = r.match_code_required ? codeInput('match') : null;
  if (match) {
    match.maxLength = 2;
    match.pattern = '[0-9]{2}';
    match.type = 'text';
  }
  const errors = h('div', { class: 'form-error', 'aria-live': 'assertive' });
  const slider = swipe(t('approve'), t('slideHint'), async (reset) => {
    errors.replaceChildren();
    const typed = match?.value.trim() ?? null;
    if (match && !/^\d{2}$/.test(typed)) {
      errors.replaceChildren(message('error', t('matchMissing')));
      match.focus();
      return reset();
    }
    try {
      await api.decide(r, 'approve', { match_code: typed });
      receipt(true);
    } catch (err) {
      errors.replaceChildren(message('error', explain(err)));
      if (err instanceof ApiError && err.code === 'locked') return go('lock');
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
    errors,
    slider,
  ], { top: 'reject', onReject: () => rejectScreen(r) });
  match?.focus();
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
    await api.decide(r, 'reject', { not_me: notMe.checked });
    receipt(false);
  }), { top: 'none' });
  find('.field').classList.add('check');
}

function receipt(approved) {
  show('receipt', approved ? t('approvedTitle') : t('rejectedTitle'), [
    h('div', { class: approved ? 'tick' : 'cross', 'aria-hidden': 'true' }, approved ? '✓' : '✕'),
    h('p', {}, approved ? t('approvedText') : t('rejectedText')),
    h('div', { class: 'actions' }, button(t('ok'), home)),
  ]);
}

register({ home });
