// `kat train --checkpoint-every N` / `--resume FILE`: which flags a resumed run
// takes from the file, and the one clear refusal when the flags given differ.

import { checkOutputPath } from '../io/files.js';
import { decodeSafetensors } from '../io/safetensors.js';
import { DEFAULT_MAX_BYTES } from '../io/sources.js';
import { readRegularFile } from '../io/sources_node.js';
import { describeSpec } from '../models/checkpoint.js';
import type { ModelSpec } from '../models/registry.js';
import { decodeResumeCheckpoint, type ResumeCheckpoint } from '../train/resume.js';
import type { TrainConfig } from '../train/trainer.js';
import { quote } from '../util/text.js';
import { TRAIN_FLAGS } from './commands/train_flags.js';
import { checkFlagValue, CliError, type FlagValues } from './flags.js';

/** The train flags marked so in their table. */
function markedFlags(marker: 'setting' | 'carried'): readonly string[] {
  return Object.entries(TRAIN_FLAGS).filter(([, spec]) => 'resume' in spec && spec.resume === marker).map(([name]) => name);
}

/** Flags that decide what a run computes: a resumed run takes them from the file and refuses different ones. */
export const RESUME_SETTINGS = markedFlags('setting');

/** Flags a resumed run also takes from the file unless given again, without them having to match. */
export const RESUME_CARRIED = markedFlags('carried');

export interface ResumedRun extends ResumeCheckpoint {
  path: string;
  /** The flags of the run, as recorded. */
  flags: FlagValues;
  /** The resolved settings of the run, as recorded. */
  settings: Record<string, unknown>;
  data: Record<string, unknown>;
}

/** Where `--checkpoint-every` writes beside `--out`: NAME.resume.safetensors. */
export function resumePathFor(out: string): string {
  return `${out.endsWith('.safetensors') ? out.slice(0, -'.safetensors'.length) : out}.resume.safetensors`;
}

export async function readResumeFile(path: string): Promise<ResumedRun> {
  const fail = (message: string): never => {
    throw new CliError(`train: --resume ${message}`);
  };
  let resume: ResumeCheckpoint;
  try {
    const bytes = await readRegularFile(path, DEFAULT_MAX_BYTES, 'checkpoint');
    resume = decodeResumeCheckpoint(bytes, `checkpoint '${path}'`, decodeSafetensors(bytes, `checkpoint '${path}'`));
  } catch (error) {
    return fail((error as Error).message);
  }
  const { flags, settings, data } = resume.run;
  const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isRecord(flags) || !isRecord(settings) || !isRecord(data) ||
    !Object.values(flags).every((v) => ['string', 'number', 'boolean'].includes(typeof v))) {
    fail(`checkpoint '${path}': its training state does not record the run's flags`);
  }
  return { ...resume, path, flags: flags as FlagValues, settings: settings as Record<string, unknown>, data: data as Record<string, unknown> };
}

/** The flags of a resumed run: those given, and the recorded run's for the rest. */
export function resumeFlags(given: FlagValues, resumed: ResumedRun): FlagValues {
  const flags: FlagValues = { ...given };
  for (const name of [...RESUME_SETTINGS, ...RESUME_CARRIED]) {
    if (flags[name] !== undefined || resumed.flags[name] === undefined) continue;
    // Checked as the parser checks the command line: the file may be old, edited or hostile.
    checkFlagValue('train', name, resumed.flags[name], TRAIN_FLAGS, `--resume '${resumed.path}'`);
    flags[name] = resumed.flags[name];
  }
  // Files from before weight averaging: their runs had none.
  if (flags.ema === undefined && !Object.hasOwn(resumed.settings, 'ema')) flags.ema = 0;
  return flags;
}

/** The flags to record: a later resume fills in what its command line leaves out from these. */
export function recordedFlags(flags: FlagValues): FlagValues {
  const out: FlagValues = {};
  for (const name of [...RESUME_SETTINGS, ...RESUME_CARRIED]) if (flags[name] !== undefined) out[name] = flags[name];
  return out;
}

/** A run's settings resolved (defaults applied), by flag name: what a resumed run must match. */
export function trainingSettings(flags: FlagValues, resolved: { model: string; dataset: string; gridUpdates: number; config: TrainConfig }):
  Record<string, unknown> {
  const { config } = resolved;
  const settings: Record<string, unknown> = {
    model: resolved.model, dataset: resolved.dataset, 'grid-update': resolved.gridUpdates, epochs: config.epochs, 'batch-size': config.batchSize,
    lr: config.lr, 'weight-decay': config.weightDecay, optimizer: config.optimizer, warmup: config.warmupEpochs,
    'label-smoothing': config.labelSmoothing, clip: config.clipNorm, shift: config.shift, flip: config.flip, rotate: config.rotate ?? 0,
    scale: config.scale ?? 0, ema: config.ema ?? 0, seed: config.seed,
  };
  for (const name of RESUME_SETTINGS) if (!(name in settings)) settings[name] = flags[name] ?? null;
  return settings;
}

const show = (value: unknown) => (value === null || value === undefined ? 'unset' : quote(String(value)));

/** Refuses flags that would make the resumed run another run (one error naming every difference). */
export function checkResumeSettings(resumed: ResumedRun, settings: Record<string, unknown>): void {
  const differences = RESUME_SETTINGS.filter((name) => !Object.is(settings[name] ?? null, resumed.settings[name] ?? null))
    .map((name) => `--${name} ${show(settings[name])} (the file's run: ${show(resumed.settings[name])})`);
  if (differences.length > 0) {
    throw new CliError(`train: --resume '${resumed.path}' continues another run: ${differences.join(', ')}; ` +
      'leave these flags out to take them from the file, or start a new run without --resume');
  }
}

interface DataShape {
  count: number; channels: number; height: number; width: number; classes: number; images?: Float32Array; labels?: Float32Array; pixels?: Uint8Array;
}

/** 64 bits of a hash over float32 arrays' bits (not cryptographic: it catches an edited file, not an attacker). */
function fingerprint(arrays: (Float32Array | Uint8Array)[]): string {
  let a = 0x811c9dc5;
  let b = 0x9e3779b9;
  for (const array of arrays) {
    // Whole 32-bit words, then the tail bytes (a uint8 array need be neither aligned nor a multiple of 4).
    const whole = Math.floor(array.byteLength / 4);
    const aligned = array.byteOffset % 4 === 0 ? array : new Uint8Array(array.buffer.slice(array.byteOffset, array.byteOffset + array.byteLength));
    const words = new Uint32Array(aligned.buffer, aligned.byteOffset, whole);
    const tail = new Uint8Array(aligned.buffer, aligned.byteOffset + 4 * whole, array.byteLength - 4 * whole);
    for (let i = 0; i < words.length + tail.length; i++) {
      const word = i < words.length ? words[i]! : tail[i - words.length]!;
      a = Math.imul(a ^ word, 0x01000193);
      b = Math.imul(b ^ word, 0x85ebca6b) ^ (b >>> 13);
    }
  }
  return `${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The data a run saw, to tell a changed dataset file from the one the run
 * started on: sizes, and a hash of the values for data held in memory
 * (streamed image folders are not read twice for it).
 */
export function dataSummary(train: DataShape, test: DataShape): Record<string, unknown> {
  const summary: Record<string, unknown> = {
    train: train.count, test: test.count, shape: [train.channels, train.height, train.width], classes: train.classes,
  };
  // Byte datasets are hashed as their bytes (their float images are made only on demand).
  const values = (d: DataShape) => d.pixels ?? d.images;
  if (values(train) && train.labels && values(test) && test.labels) summary.hash = fingerprint([values(train)!, train.labels, values(test)!, test.labels]);
  return summary;
}

/** Refuses a resumed run whose data or model came out differently from the recorded ones. */
export function checkResumeModel(resumed: ResumedRun, spec: ModelSpec, data: Record<string, unknown>): void {
  if (JSON.stringify(data) !== JSON.stringify(resumed.data)) {
    throw new CliError(`train: --resume '${resumed.path}': the data now has ${JSON.stringify(data)}, but the run trained on ` +
      `${JSON.stringify(resumed.data)} (has the dataset changed?)`);
  }
  if (spec.name !== resumed.spec.name || JSON.stringify(spec.config) !== JSON.stringify(resumed.spec.config)) {
    throw new CliError(`train: --resume '${resumed.path}' holds ${describeSpec(resumed.spec)}, but these flags and data make ${describeSpec(spec)}`);
  }
}

/** Refuses a resume file path that cannot be written before the run starts, not at its first checkpoint. */
export async function checkResumeTarget(path: string, out: string): Promise<void> {
  try {
    await checkOutputPath(path, { inputs: [out] });
  } catch (error) {
    throw new CliError(`train: --checkpoint-every writes ${(error as Error).message}`);
  }
}
