// The docs' examples (issue 22): every library example is a file under
// examples/library/ that this test runs, and that the docs show verbatim
// (a `<!-- example: PATH -->` line before the code block); every `npx kat`
// line of a shell block in README.md and docs/*.md names a command and flags
// that exist, with values the parser accepts. The shell lines are checked,
// not run: most of them train for minutes, download weights or need data
// sets and GPUs.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { findCommand } from '../src/cli/commands/index.js';
import { parseArguments, wantsHelp } from '../src/cli/flags.js';

/** The repository root (the compiled test lives in build/test/). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = 'examples/library';

interface Doc {
  path: string;
  text: string;
}

function docs(): Doc[] {
  const paths = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  return paths.map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }));
}

/** Fenced blocks of one language: their text, the line they start on, and the line before the fence. */
function fencedBlocks(doc: Doc, languages: readonly string[]): { code: string; line: number; before: string }[] {
  const lines = doc.text.split('\n');
  const blocks: { code: string; line: number; before: string }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line));
    assert.ok(end > i, `${doc.path}:${i + 1}: a code block that never closes`);
    if (languages.includes(open[1]!)) blocks.push({ code: lines.slice(i + 1, end).join('\n') + '\n', line: i + 1, before: lines[i - 1] ?? '' });
    i = end;
  }
  return blocks;
}

/** The example files, and where the docs show each. */
function exampleFiles(): string[] {
  return readdirSync(join(ROOT, EXAMPLES)).filter((f) => f.endsWith('.mjs')).sort().map((f) => `${EXAMPLES}/${f}`);
}

describe('docs: library examples', () => {
  it('every JavaScript or TypeScript block in the docs is an example file, shown verbatim', () => {
    let shown = 0;
    // docs/api.md's blocks are declarations (scripts/api-docs.mjs writes them from dist/*.d.ts), not examples.
    for (const doc of docs().filter((d) => d.path !== 'docs/api.md')) {
      for (const block of fencedBlocks(doc, ['js', 'ts', 'javascript', 'typescript', 'mjs'])) {
        const marker = /^<!-- example: (\S+) -->$/.exec(block.before);
        assert.ok(marker, `${doc.path}:${block.line}: a code block without '<!-- example: examples/library/FILE.mjs -->' above it`);
        const path = marker[1]!;
        assert.ok(existsSync(join(ROOT, path)), `${doc.path}:${block.line}: ${path} does not exist`);
        assert.equal(block.code, readFileSync(join(ROOT, path), 'utf8'), `${doc.path}:${block.line}: the block differs from ${path}`);
        shown++;
      }
    }
    assert.ok(shown >= exampleFiles().length, 'fewer blocks than example files');
  });

  it('every example file is shown in the docs', () => {
    const text = docs().map((doc) => doc.text).join('\n');
    for (const path of exampleFiles()) assert.ok(text.includes(`<!-- example: ${path} -->`), `${path} is not shown in README.md or docs/`);
  });

  // Each example runs against the freshly compiled library (build/src), its
  // 'katjs' and 'katjs/node' imports pointed there; users run the same file
  // against dist/ (the package imports itself by name).
  const library = pathToFileURL(join(ROOT, 'build/src/index.js')).href;
  const node = pathToFileURL(join(ROOT, 'build/src/node.js')).href;
  for (const path of exampleFiles()) {
    it(`runs ${path}`, { timeout: 300_000 }, () => {
      const source = readFileSync(join(ROOT, path), 'utf8');
      const rewritten = source.replaceAll(`from 'katjs/node'`, `from '${node}'`).replaceAll(`from 'katjs'`, `from '${library}'`);
      assert.ok(!/from 'katjs/.test(rewritten), `${path}: an import of katjs this test cannot point at build/`);
      const dir = mkdtempSync(join(tmpdir(), 'katjs-example-'));
      try {
        const file = join(dir, path.split('/').pop()!);
        writeFileSync(file, rewritten);
        const run = spawnSync(process.execPath, [file], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
        assert.equal(run.status, 0, `${path} failed:\n${run.stdout}\n${run.stderr}`);
        assert.ok(run.stdout.trim().length > 0, `${path} printed nothing`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

/** The anchors of a markdown file's headings (outside code blocks). */
function anchors(text: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^```/.test(line)) fenced = !fenced;
    const heading = fenced ? null : /^#{1,6} (.*)$/.exec(line);
    if (heading) found.add(anchor(heading[1]!));
  }
  return found;
}

describe('docs: links', () => {
  it('every relative link in README.md, docs/*.md, FEATURES.md and BENCHMARKS.md reaches a file (and heading)', () => {
    const problems: string[] = [];
    const files = [...docs(), ...['FEATURES.md', 'BENCHMARKS.md'].map((path) => ({ path, text: readFileSync(join(ROOT, path), 'utf8') }))];
    let links = 0;
    for (const doc of files) {
      for (const match of doc.text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = match[1]!;
        if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
        links++;
        const [file, hash] = target.split('#', 2) as [string, string | undefined];
        const path = file === '' ? doc.path : join(doc.path, '..', file);
        if (!existsSync(join(ROOT, path))) {
          problems.push(`${doc.path}: ${target}: no such file`);
        } else if (hash !== undefined && !anchors(readFileSync(join(ROOT, path), 'utf8')).has(hash)) {
          problems.push(`${doc.path}: ${target}: no such heading`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(links >= 20, `only ${links} links`);
  });

  it('README.md stays short: at most 250 lines', () => {
    const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').length;
    assert.ok(lines <= 251, `README.md has ${lines} lines: move detail to docs/`);
  });
});

/** Splits a shell line into words: single and double quotes, backslash escapes; no expansion. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      assert.ok(end > i, `unbalanced quote in: ${line}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break; // a comment
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** One shell command of a block: continuation lines joined, comment-only and blank lines dropped. */
function shellCommands(code: string): string[] {
  const commands: string[] = [];
  let pending = '';
  for (const line of code.split('\n')) {
    if (line.trimEnd().endsWith('\\')) {
      pending += line.trimEnd().slice(0, -1) + ' ';
      continue;
    }
    const full = pending + line;
    pending = '';
    if (shellWords(full).length > 0) commands.push(full.trim());
  }
  return commands;
}

/**
 * Programs the shell blocks also run, which this test does not check, and why:
 * they are other projects' tools (installers, Python, git) or set a variable.
 */
const SKIPPED: Readonly<Record<string, string>> = {
  sudo: 'a system package install',
  'apt-get': 'a system package install',
  git: 'another repository',
  pip: 'Python packages',
  python: 'PyTorch / timm, not katjs',
  python3: 'PyTorch / timm, not katjs',
  torchrun: 'PyTorch / timm, not katjs',
  cd: 'a shell built-in',
};

/** Checks a `kat` command line's words: the command exists and the parser accepts its flags and arguments. */
function checkKat(where: string, args: string[]): void {
  const [name, ...rest] = args;
  assert.ok(name !== undefined, `${where}: 'kat' without a command`);
  if (name === 'help') {
    assert.ok(rest.length <= 1, `${where}: kat help takes one command`);
    if (rest[0] !== undefined) assert.ok(findCommand(rest[0]), `${where}: kat help ${rest[0]}: no such command`);
    return;
  }
  if (name === 'version' || name === '--version') return;
  const command = findCommand(name);
  assert.ok(command, `${where}: no kat command '${name}'`);
  if (wantsHelp(rest, command.flags)) return;
  let parsed: ReturnType<typeof parseArguments>;
  try {
    parsed = parseArguments(command.name, rest, command.flags);
  } catch (error) {
    assert.fail(`${where}: ${(error as Error).message}`);
  }
  if (!command.positional) assert.deepEqual(parsed.positional, [], `${where}: kat ${name} takes no arguments but flags`);
}

describe('docs: shell examples', () => {
  const scripts = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

  it('every npx kat line names a command and flags that exist; every other line is a known program', (t) => {
    let checked = 0;
    const skipped: string[] = [];
    const problems: string[] = [];
    for (const doc of docs()) {
      for (const block of fencedBlocks(doc, ['sh', 'bash', 'shell'])) {
        for (const command of shellCommands(block.code)) {
          const where = `${doc.path}:${block.line} '${command.slice(0, 100)}'`;
          try {
            const words = shellWords(command);
            const program = words[0]!;
            if (program === 'npx') {
              assert.equal(words[1], 'kat', `${where}: npx runs only kat in the docs`);
              checkKat(where, words.slice(2));
              checked++;
            } else if (program === 'node' && words[1] === 'dist/cli/main.js') {
              checkKat(where, words.slice(2));
              checked++;
            } else if (program === 'node') {
              assert.ok(existsSync(join(ROOT, words[1]!)), `${where}: no file ${words[1]}`);
              checked++;
            } else if (program === 'npm') {
              if (words[1] === 'run') assert.ok(scripts.includes(words[2]!), `${where}: no npm script '${words[2]}'`);
              else assert.ok(['install', 'test', 'ci'].includes(words[1]!), `${where}: npm ${words[1]}`);
              checked++;
            } else if (/^[A-Z_]+=/.test(program)) {
              // A variable (C=...) or an environment prefix (THREADS=1 python3 ...): judged by what follows.
              const next = words.find((word) => !/^[A-Z_]+=/.test(word));
              assert.ok(next === undefined || SKIPPED[next] !== undefined, `${where}: unchecked program ${next}`);
              skipped.push(command);
            } else {
              assert.ok(SKIPPED[program] !== undefined, `${where}: '${program}' is neither kat nor a known other program`);
              skipped.push(command);
            }
          } catch (error) {
            problems.push((error as Error).message.split('\n')[0]!);
          }
        }
      }
    }
    assert.deepEqual(problems, [], `stale shell examples:\n${problems.join('\n')}`);
    assert.ok(checked >= 50, `only ${checked} shell lines checked`);
    const programs = [...new Set(skipped.map((command) => shellWords(command)[0]!))];
    t.diagnostic(`${checked} shell lines checked; ${skipped.length} not (${programs.join(', ')}: other programs, or a variable)`);
  });

  it('the checker refuses what it should', () => {
    assert.throws(() => checkKat('t', ['trian']), /no kat command/);
    assert.throws(() => checkKat('t', ['train', '--epoch', '3']), /unknown flag/);
    assert.throws(() => checkKat('t', ['train', '--epochs', 'many']), /epochs/);
    assert.throws(() => checkKat('t', ['eval', 'file.safetensors']), /takes no arguments/);
    assert.doesNotThrow(() => checkKat('t', ['predict', '--checkpoint', 'x.pth', 'cat.jpg']));
    assert.deepEqual(shellWords(`npx kat train --out "a b" # comment`), ['npx', 'kat', 'train', '--out', 'a b']);
    assert.deepEqual(shellCommands('npx kat train \\\n  --epochs 3\n\n# note\n').map(shellWords), [['npx', 'kat', 'train', '--epochs', '3']]);
  });
});
