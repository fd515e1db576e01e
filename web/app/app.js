// The phone key app: starts on the screen the device's state calls for, routes live-channel events to the
// screen shown, and locks when the app closes (when the user wants that). The screens are in screens/, the
// building blocks in ui.js, the state in state.js, and every call to the server in device.js.

import { load } from './device.js';
import { notify, routeEvents, startListening } from './live.js';
import { api, app, t } from './state.js';
import { find, showFailure } from './ui.js';
import { waitScreen, welcome } from './screens/activation.js';
import { home } from './screens/requests.js';
import { lockNow, unlockScreen } from './screens/unlock.js';

// "Lås når appen lukker": hidden counts as closed.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && app.settings.lockOnClose && api.session) lockNow();
});

routeEvents((name) => {
  if (name === 'request') {
    notify(t('requestWaiting'));
    if (app.screen === 'ready') home();
    else if (app.screen === 'unlock' && !find('.message.info')) unlockScreen('request');
  } else if (name === 'pending_activation' && app.screen === 'ready') {
    home();
  }
});

async function boot() {
  app.settings = { ...app.settings, ...(await load('settings')) };
  if (navigator.serviceWorker) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => { /* the app works without */ });
  }
  api.device = (await load('device')) ?? null;
  if (!api.device) return welcome();
  if (api.device.status === 'pending') return waitScreen();
  startListening();
  unlockScreen();
}

boot().catch(showFailure);
