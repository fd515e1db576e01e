// What the phone app's device.js says on the wire, held to the served OpenAPI document: a fetch that records
// each call (the body sent, the answer) and every field read from an answer, and the checks of both against
// the document (a body sent validates against its operation's requestBody; a field read is declared).
import Ajv2020 from 'ajv/dist/2020.js';

/** A JSON Pointer token. */
const token = (s) => s.replaceAll('~', '~0').replaceAll('/', '~1');

/** Properties no answer field is named after: the language's own (`then` of a promise, `toJSON`, …). */
const IGNORED = new Set(['then', 'toJSON', 'constructor', ...Object.getOwnPropertyNames(Object.prototype)]);

/** `value`, with every field read from it added to `reads` as a path (`a.b`, `list[].c`). */
function watched(value, path, reads) {
  if (value === null || typeof value !== 'object') return value;
  const isList = Array.isArray(value);
  return new Proxy(value, {
    get(target, prop, receiver) {
      const child = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || IGNORED.has(prop)) return child;
      if (isList && !/^\d+$/.test(prop)) return child; // length, map, …: the list itself
      const at = isList ? `${path}[]` : (path ? `${path}.${prop}` : prop);
      if (!isList) reads.add(at);
      return watched(child, at, reads);
    },
  });
}

/**
 * Replaces `globalThis.fetch` with one that sends relative paths to `base`, and records in `calls` each call:
 * `{ method, path, sent, status, answer, reads }` (`reads`: the answer's fields read since).
 */
export function recordFetch(base, calls) {
  const real = globalThis.fetch;
  globalThis.fetch = async (path, init = {}) => {
    const r = await real(new URL(path, base), init);
    const call = { method: init.method ?? 'GET', path: String(path), status: r.status, reads: new Set() };
    if (init.body) call.sent = JSON.parse(new TextDecoder().decode(init.body));
    calls.push(call);
    if (!(r.headers.get('content-type') ?? '').startsWith('application/json')) return r;
    call.answer = JSON.parse(await r.text());
    const answer = watched(call.answer, '', call.reads);
    return { ok: r.ok, status: r.status, headers: r.headers, json: async () => answer };
  };
  return () => { globalThis.fetch = real; };
}

/** The document's operation for a call: its path template and a JSON Pointer to it. */
function operation(doc, { method, path }) {
  const bare = path.split('?')[0];
  for (const template of Object.keys(doc.paths)) {
    const pattern = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    const op = doc.paths[template][method.toLowerCase()];
    if (pattern.test(bare) && op) return { template, op, pointer: `#/paths/${encodeURIComponent(token(template))}/${method.toLowerCase()}` };
  }
  return null;
}

/** Follows `$ref`s within the document. */
function resolve(doc, schema) {
  let s = schema;
  while (s?.$ref) s = s.$ref.slice(2).split('/').map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~')).reduce((o, k) => o?.[k], doc);
  return s;
}

/** Whether `path` (`a.b`, `list[].c`) is declared in `schema`: `true`, `false`, or `free` (a free-form object). */
function declared(doc, schema, steps) {
  const s = resolve(doc, schema);
  if (!s) return false;
  if (steps.length === 0) return true;
  const branches = [...(s.allOf ?? []), ...(s.anyOf ?? []), ...(s.oneOf ?? [])];
  if (branches.length > 0) {
    const found = branches.map((b) => declared(doc, b, steps));
    return found.includes(true) || (found.includes('free') ? 'free' : false);
  }
  const [step, ...rest] = steps;
  if (step === '[]') return s.items ? declared(doc, s.items, rest) : 'free';
  if (s.properties && step in s.properties) return declared(doc, s.properties[step], rest);
  if (typeof s.additionalProperties === 'object') return declared(doc, s.additionalProperties, rest);
  return !s.properties && s.additionalProperties === undefined ? 'free' : false;
}

const stepsOf = (path) => path.replaceAll('[]', '.[]').split('.').filter(Boolean);

/**
 * Checks every recorded call against `doc`; answers `{ problems, free }`: what does not hold, and the fields
 * read from answers the document leaves free-form (as it says: WebAuthn options).
 */
export function checkCalls(doc, calls) {
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  ajv.addSchema(doc, 'openapi');
  const problems = [];
  const free = new Set();
  for (const call of calls) {
    const name = `${call.method} ${call.path.split('?')[0]}`;
    const found = operation(doc, call);
    if (!found) {
      problems.push(`${name}: no such operation in the document`);
      continue;
    }
    const { template, op, pointer } = found;
    if (call.sent !== undefined) {
      const json = op.requestBody?.content?.['application/json'];
      if (!json) problems.push(`${name}: sends a body the document does not take`);
      else {
        const validate = ajv.getSchema(`openapi${pointer}/requestBody/content/application~1json/schema`);
        if (!validate(call.sent)) problems.push(`${name}: the body sent does not validate: ${ajv.errorsText(validate.errors)}`);
      }
    }
    const response = resolve(doc, op.responses?.[String(call.status)] ?? op.responses?.default);
    if (!response) {
      problems.push(`${name}: answered ${call.status}, which the document does not name`);
      continue;
    }
    const schema = response.content?.['application/json']?.schema;
    for (const path of call.reads) {
      const state = schema ? declared(doc, schema, stepsOf(path)) : false;
      if (state === 'free') free.add(`${template} ${call.status}: ${path}`);
      else if (!state) problems.push(`${name} (${call.status}): reads \`${path}\`, which the answer's schema does not declare`);
    }
  }
  return { problems, free: [...free] };
}
