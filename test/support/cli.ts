// Running the kat CLI as a user does (a child process), for the CLI tests.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled CLI entry point next to the compiled tests. */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function kat(...args: string[]): CliRun {
  return katWithEnv(process.env, ...args);
}

/** `kat` with its own environment (cache folders, hub endpoints). */
export function katWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): CliRun {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], { encoding: 'utf8', timeout: 120_000, env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `kat` as a child process that leaves this process's event loop running (for servers started by the test). */
export function katAsync(env: NodeJS.ProcessEnv, ...args: string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
    child.stderr.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** One parsed JSON object per output line. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Each command fails with a non-zero exit and exactly one `kat: ...` error line matching its pattern. */
export function assertBadInputs(cases: readonly (readonly [string[], RegExp])[]): void {
  for (const [args, pattern] of cases) {
    const run = kat(...args);
    assert.notEqual(run.code, 0, `${args.join(' ')} should fail`);
    const errors = run.stderr.trim().split('\n').filter((line) => line.startsWith('kat: '));
    assert.equal(errors.length, 1, `${args.join(' ')}: expected one error line, got:\n${run.stderr}`);
    assert.match(errors[0]!, pattern);
  }
}
