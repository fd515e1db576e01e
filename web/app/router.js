// The one way from screen to screen: each screen module registers its screens by name, and any module goes to
// one with `go(name, ...args)`. So no screen imports another (tests/app-modules.test.mjs keeps it so), and
// this module imports nothing.

const routes = new Map();

/** Registers screens (and the few ways between them, such as `lock`) by name: `register({ home })`. */
export function register(entries) {
  for (const [name, show] of Object.entries(entries)) {
    if (routes.has(name)) throw new Error(`the screen "${name}" is registered twice`);
    routes.set(name, show);
  }
}

/** Shows the screen `name` with `args`; answers what it answers (a promise for screens that load). */
export function go(name, ...args) {
  const show = routes.get(name);
  if (!show) throw new Error(`no screen "${name}" is registered`);
  return show(...args);
}
