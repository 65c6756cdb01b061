// --backend: 'auto' picks WebGPU on a hardware GPU, else the CPU, and says which.

import { createBackend, registeredBackends, type Backend } from '../backends/backend.js';
import { WebGpuBackend } from '../backends/webgpu/index.js';
import { engine, setBackend } from '../tensor/engine.js';
import { excerpt } from '../util/text.js';
import { CliError } from './flags.js';

/** Preference order for --backend auto. */
const AUTO_ORDER = ['webgpu', 'cpu'];

export interface SelectedBackend {
  backend: Backend;
  /** Why auto passed over a preferred backend (empty when it did not). */
  notes: string[];
}

/**
 * False on Linux when there is no GPU device node and no Vulkan driver was
 * named: probing Dawn there finds nothing and only prints driver warnings.
 */
async function mayHaveGpu(): Promise<boolean> {
  if (process.platform !== 'linux' || process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES) return true;
  const { readdir } = await import('node:fs/promises');
  const list = (dir: string) => readdir(dir).catch(() => [] as string[]);
  const [dev, dri] = await Promise.all([list('/dev'), list('/dev/dri')]);
  return dev.some((name) => /^nvidia\d/.test(name)) || dri.some((name) => name.startsWith('renderD'));
}

/**
 * Whether Dawn finds an adapter, asked in a child process. When it finds none,
 * Dawn writes Vulkan loader warnings and C++ source locations straight to file
 * descriptor 2, which JavaScript cannot redirect in-process; in a child they
 * are caught and summed up in one line. Costs about 0.1 s. Null when the probe
 * itself cannot run (no 'webgpu' package: the in-process load says so).
 */
async function probeDawnAdapter(): Promise<{ found: boolean; reason: string } | null> {
  let url: string;
  try {
    url = import.meta.resolve('webgpu');
  } catch {
    return null;
  }
  const { spawn } = await import('node:child_process');
  const { tmpdir } = await import('node:os');
  const script = `const dawn = await import(${JSON.stringify(url)});
const adapter = await dawn.create([]).requestAdapter({ powerPreference: 'high-performance' });
process.stdout.write(adapter ? 'adapter' : 'none', () => process.exit(0));`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
      // The Vulkan loader complains at every start without it (as findGpu sets it in-process).
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? tmpdir() },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
    child.stderr.setEncoding('utf8').on('data', (text: string) => { if (stderr.length < 65_536) stderr += text; });
    child.on('error', () => resolve(null));
    child.on('close', (code, signal) => {
      if (stdout === 'adapter') return resolve({ found: true, reason: '' });
      // Dawn's first warning says why ("vkCreateInstance: Found no drivers!"); its stack lines do not.
      const first = stderr.split('\n').map((line) => line.replace(/^Warning:\s*/, '').trim()).find((line) => line !== '' && !line.startsWith('at '));
      const how = stdout === 'none' ? '' : signal ? `the probe was killed by ${signal}` : `the probe exited with code ${code}`;
      resolve({ found: false, reason: [first ? `Dawn: ${excerpt(first, 160)}` : '', how].filter(Boolean).join('; ') });
    });
  });
}

/** Throws (one clean line, no Dawn output) when Dawn would find no adapter in this process. */
async function requireDawnAdapter(): Promise<void> {
  const probe = await probeDawnAdapter();
  if (probe && !probe.found) {
    throw new Error(`webgpu: no adapter${probe.reason ? ` (${probe.reason})` : ''}; on Linux without a GPU, install a Vulkan driver such as ` +
      'SwiftShader and set VK_DRIVER_FILES');
  }
}

export async function selectBackend(name: string): Promise<SelectedBackend> {
  if (name === 'auto') {
    const notes: string[] = [];
    for (const candidate of AUTO_ORDER.filter((n) => registeredBackends().includes(n))) {
      try {
        if (candidate === 'webgpu') {
          if (!(await mayHaveGpu())) {
            notes.push('webgpu skipped: no GPU device on this machine');
            continue;
          }
          await requireDawnAdapter();
          const adapter = await WebGpuBackend.probe();
          if (adapter.isSoftware) {
            notes.push(`webgpu skipped: ${adapter.adapterName} is a software implementation (use --backend webgpu to force it)`);
            continue;
          }
        }
        const backend = await createBackend(candidate);
        engine.useBackend(backend);
        return { backend, notes };
      } catch (error) {
        notes.push(`${candidate} unavailable: ${(error as Error).message}`);
      }
    }
    throw new CliError(`no backend could start (${notes.join('; ')})`);
  }
  if (!registeredBackends().includes(name)) {
    throw new CliError(`unknown backend '${name}': expected auto, ${registeredBackends().join(', ')}`);
  }
  try {
    if (name === 'webgpu') await requireDawnAdapter();
    return { backend: await setBackend(name), notes: [] };
  } catch (error) {
    throw new CliError(`backend '${name}' could not start: ${(error as Error).message}`);
  }
}
