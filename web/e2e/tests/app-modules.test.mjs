// The phone app's modules import one another in one direction: a screen reaches another screen only through
// router.js, only app.js loads the screens, and no import circle is left (read from the sources; no browser).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { repo } from './harness.mjs';

const appDir = join(repo, 'web/app');

/** Every module of the app (its path under web/app) with the modules of the app it imports. */
function importGraph() {
  const files = readdirSync(appDir, { recursive: true })
    .filter((f) => f.endsWith('.js') && !f.startsWith('node_modules') && f !== 'sw.js');
  const graph = new Map();
  for (const file of files) {
    const source = readFileSync(join(appDir, file), 'utf8');
    const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)]
      .map((m) => m[1] ?? m[2] ?? m[3])
      .filter((s) => s.startsWith('.'));
    graph.set(file, specifiers.map((s) => relative(appDir, normalize(join(appDir, dirname(file), s)))));
  }
  return graph;
}

const isScreen = (file) => file.startsWith('screens/');

test('no screen imports another screen; only app.js loads the screens', () => {
  const graph = importGraph();
  assert.ok(graph.has('router.js') && [...graph.keys()].filter(isScreen).length >= 6, 'the screens and the router are read');
  for (const [file, imports] of graph) {
    for (const target of imports.filter(isScreen)) {
      assert.equal(file, 'app.js', `${file} imports the screen ${target}: go through router.js instead`);
    }
  }
  assert.deepEqual(graph.get('router.js'), [], 'the router imports nothing');
});

test('the app modules import one another without a circle', () => {
  const graph = importGraph();
  const done = new Set();
  const visit = (file, path) => {
    if (path.includes(file)) assert.fail(`an import circle: ${[...path.slice(path.indexOf(file)), file].join(' → ')}`);
    if (done.has(file)) return;
    for (const target of graph.get(file) ?? []) visit(target, [...path, file]);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file, []);
});
