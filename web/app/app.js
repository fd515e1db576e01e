// The phone key app: starts on the screen the device's state calls for, routes live-channel events to the
// screen shown, and locks when the app closes (when the user wants that). The screens are in screens/ (each
// reached by name through router.js), the building blocks in ui.js, the state in state.js, and every call
// to the server in device.js.

import { load, save } from './device.js';
import { notify, routeEvents, startListening } from './live.js';
import { api, app, t } from './state.js';
import { go } from './router.js';
import { find, showFailure } from './ui.js';
// Each screen module registers its screens with the router as it loads.
import './screens/activation.js';
import './screens/code.js';
import './screens/login.js';
import './screens/requests.js';
import './screens/settings.js';
import './screens/unlock.js';

// "Lås når appen lukker": hidden counts as closed.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && app.settings.lockOnClose && api.session) go('lock');
});

routeEvents((name) => {
  if (name === 'request') {
    notify(t('requestWaiting'));
    if (app.screen === 'ready') go('home');
    else if (app.screen === 'unlock' && !find('.message.info')) go('unlock', 'request');
  } else if (name === 'pending_activation' && app.screen === 'ready') {
    go('home');
  }
});

async function boot() {
  app.settings = { ...app.settings, ...(await load('settings')) };
  // The numbers the texts state come from the server (/about); offline, the ones it told last.
  api.told = (await load('about')) ?? null;
  await api.about().then((about) => save('about', about), () => { /* offline */ });
  if (navigator.serviceWorker) {
    navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => { /* the app works without */ });
  }
  api.device = (await load('device')) ?? null;
  if (!api.device) return go('welcome');
  if (api.device.status === 'pending') return go('wait');
  startListening();
  go('unlock');
}

boot().catch(showFailure);
