#!/usr/bin/env node
// The API reference, from the declaration files tsc emits: every name that
// 'katjs' (dist/index.d.ts) and 'katjs/node' (dist/node.d.ts) export, followed
// through `export ... from` and `export *` to its declaration, with its kind,
// its declaration and its /** doc comment */, written to docs/api.md.
// TypeDoc needs TypeScript 5's compiler API, which TypeScript 7 (native) does
// not have, hence this reader of the .d.ts text.
//
//   node scripts/api-docs.mjs [--dist DIR] [--out FILE]
//
// Exits 1, listing them, when an exported name has no doc comment (the
// reference is still written); 2 on a declaration it cannot read.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const options = { dist: join(ROOT, 'dist'), out: join(ROOT, 'docs/api.md') };
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if ((flag === '--dist' || flag === '--out') && value !== undefined) {
      options[flag.slice(2)] = resolve(value);
      i++;
    } else {
      process.stderr.write(`api-docs: unknown argument '${flag}': usage: node scripts/api-docs.mjs [--dist DIR] [--out FILE]\n`);
      process.exit(2);
    }
  }
  return options;
}

/**
 * Splits a declaration file into top-level statements, each with the doc
 * comment right before it (or undefined). Tracks strings, template literals,
 * comments and bracket depth; a statement ends at `;` at depth 0, or at a `}`
 * back to depth 0 that nothing continues (an interface, class, enum or
 * namespace body).
 */
export function statements(text) {
  const result = [];
  let i = 0;
  let doc;
  const n = text.length;
  while (i < n) {
    // Between statements: whitespace and comments; keep the last doc comment.
    if (/\s/.test(text[i])) { i++; continue; }
    if (text.startsWith('//', i)) { i = lineEnd(text, i); continue; }
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error('unterminated comment');
      const comment = text.slice(i, end + 2);
      doc = comment.startsWith('/**') && comment !== '/**/' ? comment : undefined;
      i = end + 2;
      continue;
    }
    const start = i;
    let depth = 0;
    for (;;) {
      if (i >= n) break;
      const c = text[i];
      if (c === '"' || c === "'") { i = stringEnd(text, i); continue; }
      if (c === '`') { i = templateEnd(text, i); continue; }
      if (text.startsWith('//', i)) { i = lineEnd(text, i); continue; }
      if (text.startsWith('/*', i)) { i = text.indexOf('*/', i + 2) + 2; continue; }
      if (c === '{' || c === '(' || c === '[') depth++;
      else if (c === '}' || c === ')' || c === ']') {
        depth--;
        if (depth === 0 && c === '}') {
          let j = i + 1;
          while (j < n && /[ \t\r\n]/.test(text[j])) j++;
          if (text[j] === ';') { i = j + 1; break; }
          if (j >= n || (/[A-Za-z_$@/]/.test(text[j]) && !text.startsWith('from', j))) { i++; break; }
        }
      } else if (c === ';' && depth === 0) { i++; break; }
      i++;
    }
    result.push({ text: text.slice(start, i).trim(), doc });
    doc = undefined;
  }
  return result;
}

function lineEnd(text, i) {
  const end = text.indexOf('\n', i);
  return end < 0 ? text.length : end + 1;
}

function stringEnd(text, i) {
  const quote = text[i];
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === quote) return j + 1;
  }
  throw new Error('unterminated string');
}

function templateEnd(text, i) {
  let depth = 0;
  for (let j = i + 1; j < text.length; j++) {
    const c = text[j];
    if (c === '\\') j++;
    else if (c === '$' && text[j + 1] === '{') { depth++; j++; }
    else if (c === '}' && depth > 0) depth--;
    else if (c === '`' && depth === 0) return j + 1;
  }
  throw new Error('unterminated template literal');
}

/** `a, b as c, type T` -> [{ name: 'a', as: 'a' }, { name: 'b', as: 'c' }, { name: 'T', as: 'T' }]. */
function specifiers(list) {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const [name, as] = s.replace(/^type\s+/, '').split(/\s+as\s+/);
    return { name, as: as ?? name };
  });
}

const DECLARATION = /^(export\s+)?(?:declare\s+)?(?:abstract\s+)?(function|class|interface|type|const|let|var|enum|namespace)\s+([A-Za-z_$][\w$]*)/;

/** One declaration file: its declarations by name, imports, and exports (local or re-exported). */
function readModule(path, cache) {
  if (cache.has(path)) return cache.get(path);
  if (!existsSync(path)) throw new Error(`${path}: no such declaration file`);
  const module = { path, declarations: new Map(), imports: new Map(), exports: new Map(), order: [] };
  cache.set(path, module);
  const from = (spec) => resolve(dirname(path), spec.replace(/\.js$/, '.d.ts'));
  for (const statement of statements(readFileSync(path, 'utf8'))) {
    const text = statement.text;
    let m;
    if ((m = /^export\s+\*\s+from\s+['"]([^'"]+)['"]/.exec(text))) {
      module.order.push({ star: from(m[1]) });
    } else if ((m = /^export\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"]([^'"]+)['"]/.exec(text))) {
      for (const s of specifiers(m[1])) exportAs(module, s.as, { module: from(m[2]), name: s.name });
    } else if ((m = /^export\s+(?:type\s+)?\{([^}]*)\}\s*;?$/.exec(text))) {
      for (const s of specifiers(m[1])) exportAs(module, s.as, { local: s.name });
    } else if ((m = /^import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"]([^'"]+)['"]/.exec(text))) {
      for (const s of specifiers(m[1])) module.imports.set(s.as, { module: from(m[2]), name: s.name });
    } else if (/^import\s/.test(text) || text === 'export {};') {
      continue;
    } else if ((m = DECLARATION.exec(text))) {
      const [, exported, kind, name] = m;
      const list = module.declarations.get(name) ?? [];
      list.push({ kind, text, doc: statement.doc });
      module.declarations.set(name, list);
      if (exported && !module.exports.has(name)) exportAs(module, name, { local: name });
    } else if (/^export\s/.test(text)) {
      throw new Error(`${path}: cannot read the export '${text.slice(0, 80)}'`);
    }
  }
  return module;
}

function exportAs(module, name, target) {
  module.exports.set(name, target);
  module.order.push({ name });
}

/** Every name a module exports -> its declarations, following re-exports and imports. */
function exportedNames(path, cache, seen = new Set()) {
  const module = readModule(path, cache);
  const names = new Map();
  if (seen.has(path)) return names;
  seen.add(path);
  for (const entry of module.order) {
    if (entry.star !== undefined) {
      for (const [name, target] of exportedNames(entry.star, cache, new Set(seen))) if (!module.exports.has(name) && !names.has(name)) names.set(name, target);
    } else if (!names.has(entry.name)) names.set(entry.name, resolveExport(module, module.exports.get(entry.name), cache));
  }
  return names;
}

function resolveExport(module, target, cache) {
  if (target.module !== undefined) {
    const found = exportedNames(target.module, cache).get(target.name);
    if (!found) throw new Error(`${module.path}: '${target.name}' is not exported by ${target.module}`);
    return found;
  }
  const declarations = module.declarations.get(target.local);
  if (declarations) return { path: module.path, name: target.local, declarations };
  const imported = module.imports.get(target.local);
  if (imported) return resolveExport(module, { module: imported.module, name: imported.name }, cache);
  throw new Error(`${module.path}: exports '${target.local}', declared nowhere`);
}

/** The text of a doc comment without its delimiters and leading asterisks. */
function docText(comment) {
  return comment.replace(/^\/\*\*/, '').replace(/\*\/$/, '').split('\n')
    .map((line) => line.replace(/^\s*\* ?/, '')).join('\n').trim();
}

/** The declaration as shown: functions and constants in full, classes and interfaces with their members. */
function shown(declaration) {
  return declaration.text.replace(/^export\s+/, '').replace(/^declare\s+/, '');
}

const KIND_NAMES = { function: 'function', class: 'class', interface: 'interface', type: 'type', const: 'constant', let: 'variable', var: 'variable', enum: 'enum', namespace: 'namespace' };

function main() {
  const options = parseArgs(process.argv.slice(2));
  const cache = new Map();
  const entries = [['katjs', 'index.d.ts'], ['katjs/node', 'node.d.ts']];
  const lines = [
    '# API reference',
    '',
    '<!-- Generated by scripts/api-docs.mjs (npm run docs:api) from dist/*.d.ts: edit the doc comments in src/, not this file. -->',
    '',
    'Every name the two entry points export, in the order their index files list them, with the',
    'declaration tsc emits and its doc comment. Examples: [library.md](library.md).',
    '',
  ];
  const missing = [];
  let documented = 0;
  for (const [specifier, file] of entries) {
    const path = join(options.dist, file);
    let names;
    try {
      names = exportedNames(path, cache);
    } catch (error) {
      process.stderr.write(`api-docs: ${error.message}${existsSync(path) ? '' : ' (run npm run build first)'}\n`);
      process.exit(2);
    }
    lines.push(`## \`${specifier}\``, '', `${names.size} exported names.`, '');
    for (const [name, target] of names) {
      const source = relative(options.dist, target.path).replace(/\.d\.ts$/, '.ts');
      const declarations = target.declarations;
      const doc = declarations.find((d) => d.doc)?.doc;
      if (doc) documented++;
      else missing.push(`${specifier}: ${name} (${declarations[0].kind}, src/${source})`);
      const kind = KIND_NAMES[declarations[0].kind] ?? declarations[0].kind;
      lines.push(`### ${name}`, '', `${kind}${name !== target.name ? ` (declared as \`${target.name}\`)` : ''}, \`src/${source}\``, '');
      if (doc) lines.push(docText(doc), '');
      lines.push('```ts', ...declarations.map(shown), '```', '');
    }
  }
  writeFileSync(options.out, lines.join('\n'));
  const shownOut = relative(process.cwd(), options.out);
  process.stdout.write(`api-docs: ${shownOut.startsWith('..') ? options.out : shownOut}: ${documented} names documented, ${missing.length} without a doc comment\n`);
  if (missing.length > 0) {
    process.stderr.write(`api-docs: exported names without a doc comment:\n${missing.map((m) => `  ${m}\n`).join('')}`);
    process.exit(1);
  }
}

main();
