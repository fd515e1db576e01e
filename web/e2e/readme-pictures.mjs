// The README's pictures (docs/screenshots/*.png) are screenshots the browser tests take (web/e2e/out/):
// this list says which. After a run of the tests, `npm run readme-pictures` copies them over, so that the
// tour in README.md shows the app as it is now. tests/readme-pictures.test.mjs checks that every picture the
// README shows is in this list (and every one in the list is shown).
import { copyFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
export const docsDir = join(repo, 'docs/screenshots');
const outDir = join(here, 'out');

/** docs/screenshots/NAME → the screenshot in web/e2e/out/ (and the test that takes it). */
export const README_PICTURES = {
  // "A short tour" (demo-login.test.mjs)
  'login-step1.png': 'login-step1.png',
  'login-step2-keycard.png': 'login-step2-keycard.png',
  'demo-bank-logged-in.png': 'demo-bank-logged-in.png',
  'login-phone-en-error.png': 'login-phone-en-error.png',
  // "The key app" (phone-app.test.mjs)
  'app-start.png': 'app-01-start.png',
  'app-wait.png': 'app-04-wait.png',
  'app-ready.png': 'app-10-ready.png',
  'app-request.png': 'app-11-request.png',
  'app-receipt.png': 'app-12-receipt.png',
  'app-settings.png': 'app-16-settings.png',
  'app-forgot.png': 'app-20a-forgot-login.png',
  'app-code-reset.png': 'app-21-code-changed.png',
  'app-help.png': 'app-15-help.png',
  // the log-in box with a key app (app-login.test.mjs)
  'login-step2-app.png': 'login-step2-app.png',
  'login-step3-waiting.png': 'login-step3-waiting.png',
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const missing = Object.values(README_PICTURES).filter((from) => !existsSync(join(outDir, from)));
  if (missing.length > 0) {
    console.error(`run the browser tests first (npm test); web/e2e/out/ lacks ${missing.join(', ')}`);
    process.exit(1);
  }
  for (const [to, from] of Object.entries(README_PICTURES)) {
    copyFileSync(join(outDir, from), join(docsDir, to));
    console.log(`docs/screenshots/${to} ← web/e2e/out/${from}`);
  }
}
