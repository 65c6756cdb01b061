// The API reference (issue 22): scripts/api-docs.mjs reads the declaration
// files tsc emits and documents every exported name of 'katjs' and
// 'katjs/node'; it fails on a name without a doc comment. Here it runs on
// declarations emitted fresh from src/ (dist/ may be older than the tree).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts/api-docs.mjs');

function apiDocs(dist: string, out: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [SCRIPT, '--dist', dist, '--out', out], { encoding: 'utf8', timeout: 60_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('API reference', () => {
  it('builds without warnings: every exported name has a doc comment', { timeout: 300_000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'katjs-api-'));
    try {
      const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
      const emit = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.json'), '--emitDeclarationOnly', '--sourceMap', 'false', '--outDir', join(dir, 'd')],
        { encoding: 'utf8', timeout: 240_000 });
      assert.equal(emit.status, 0, `tsc failed:\n${emit.stdout}\n${emit.stderr}`);
      const out = join(dir, 'api.md');
      const run = apiDocs(join(dir, 'd'), out);
      assert.equal(run.status, 0, `api-docs failed:\n${run.stdout}\n${run.stderr}`);
      assert.equal(run.stderr, '');
      const text = readFileSync(out, 'utf8');
      // Spot checks: names from both entry points, through export * and export { } from.
      for (const name of ['tensor', 'groupRational', 'createModel', 'trainModel', 'AdamW', 'exportOnnx', 'loadDataset', 'readCheckpointFile']) {
        assert.match(text, new RegExp(`^### ${name}$`, 'm'), `${name} missing from the reference`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lists every undocumented name, follows re-exports and renames, and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'katjs-api-'));
    try {
      writeFileSync(join(dir, 'index.d.ts'), "export * from './a.js';\nexport { b as renamed, type C } from './b.js';\n");
      writeFileSync(join(dir, 'node.d.ts'), "export { shared } from './b.js';\n");
      writeFileSync(join(dir, 'a.d.ts'), '/** Documented. */\nexport declare function a(x: { y: number }): { z: string };\nexport declare const bare: number;\n/** Q. */\nexport declare function q(): void;\n');
      writeFileSync(join(dir, 'b.d.ts'), "import { q } from './a.js';\nexport declare function b(): void;\n/** A C. */\nexport interface C {\n    x: number;\n}\n" +
        '/** Shared. */\nexport declare const shared: `k.${number}`;\nexport { q };\n');
      const out = join(dir, 'api.md');
      const run = apiDocs(dir, out);
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /katjs: bare \(const, src\/a\.ts\)/);
      assert.match(run.stderr, /katjs: renamed \(function, src\/b\.ts\)/);
      assert.doesNotMatch(run.stderr, /katjs: a |: C |shared/);
      const text = readFileSync(out, 'utf8');
      assert.match(text, /### renamed\n\nfunction \(declared as `b`\)/);
      assert.match(text, /Documented\.\n\n```ts\nfunction a\(x: \{ y: number \}\): \{ z: string \};\n```/);
      assert.match(text, /## `katjs\/node`\n\n1 exported names/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
