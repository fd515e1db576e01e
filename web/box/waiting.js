// The log-in box's waiting page: asks every 2 seconds whether the key app has answered, and only then loads
// the page again — no flicker, and a screen reader is not interrupted while nothing changes. Without
// scripts the page refreshes itself instead (its <noscript> meta refresh).
const ask = async () => {
  try {
    const r = await fetch('/login/state', { cache: 'no-store', credentials: 'same-origin' });
    if (r.ok && !(await r.json()).waiting) {
      window.location.replace('/login');
      return;
    }
  } catch {
    // Offline for a moment: ask again.
  }
  setTimeout(ask, 2000);
};
setTimeout(ask, 2000);
