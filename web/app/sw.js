// The key app's service worker: an offline shell (the app's own files, network first so an update is never
// missed), and Web Push — which carries no personal data, only that something waits in the app.

const CACHE = 'noegle-app-v2';
const SHELL = ['./', 'index.html', 'app.css', 'app.js', 'state.js', 'router.js', 'ui.js', 'slider.js', 'live.js',
  'capabilities.js', 'screens/activation.js', 'screens/code.js', 'screens/login.js', 'screens/requests.js', 'screens/settings.js',
  'screens/unlock.js', 'device.js', 'i18n.js', 'signing.js', 'policy.js', 'opaque.js',
  'manifest.webmanifest', 'icon.svg', 'icon-192.png', 'icon-512.png'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  // Only the app's own files; the API is never cached.
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !url.pathname.startsWith('/app/')) return;
  event.respondWith(fetch(event.request)
    .then((response) => {
      if (response.ok) {
        const copy = response.clone();
        caches.open(CACHE).then((c) => c.put(event.request, copy));
      }
      return response;
    })
    .catch(() => caches.match(event.request, { ignoreSearch: true })));
});

const WORDS = {
  request: { da: 'En anmodning venter på din godkendelse i nøgleappen.', en: 'A request is waiting for your approval in the key app.' },
  activation_ready: { da: 'Din nøgleapp er klar til at blive færdiggjort.', en: 'Your key app is ready to be finished.' },
  pending_activation: { da: 'En ny enhed er ved at blive aktiveret som din nøgleapp.', en: 'A new device is being activated as your key app.' },
};

self.addEventListener('push', (event) => {
  let name = 'request';
  try {
    name = event.data?.json().event ?? name;
  } catch { /* an empty push still means: look in the app */ }
  const lang = (self.navigator.language ?? 'da').startsWith('da') ? 'da' : 'en';
  const body = (WORDS[name] ?? WORDS.request)[lang];
  event.waitUntil(self.registration.showNotification('nøgle', { body, tag: 'noegle', icon: 'icon.svg' }));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: 'window' }).then((list) => {
    const open = list.find((c) => new URL(c.url).pathname.startsWith('/app/'));
    return open ? open.focus() : self.clients.openWindow('/app/');
  }));
});
