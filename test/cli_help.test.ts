// `kat CMD --help`, `kat CMD -h` and `kat help CMD` (issue 22): printed from the
// flag table the parser reads, so help and parser cannot disagree; an unknown
// flag names the closest known one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS, findCommand } from '../src/cli/commands/index.js';
import { TRAIN_FLAGS } from '../src/cli/commands/train.js';
import {
  checkFlagValue, closestFlag, CliError, describeRange, editDistance, numberFrom, parseArguments, wantsHelp, type FlagSpec, type FlagTable,
} from '../src/cli/flags.js';
import { commandHelp, flagDescription, wrap } from '../src/cli/help.js';
import { RESUME_CARRIED, RESUME_SETTINGS, resumeFlags, type ResumedRun } from '../src/cli/resume.js';
import { DEFAULT_TRAIN_CONFIG } from '../src/train/trainer.js';
import { kat } from './support/cli.js';

/** The flags a help page lists: the first word of each flag line, without -h, --help. */
function listedFlags(page: string): string[] {
  return page.split('\n').map((line) => /^ {2}(--[a-z0-9-]+)/.exec(line)?.[1]).filter((flag): flag is string => flag !== undefined);
}

/** A value the flag's type takes: the low end of a range (inside an exclusive one). */
function validValue(spec: FlagSpec): string | undefined {
  if (spec.type === 'boolean') return undefined;
  if (spec.type === 'string') return 'x';
  if (spec.type === 'number') return '1';
  return String(spec.type.minExclusive ? (spec.type.min + spec.type.max) / 2 : spec.type.min);
}

function parses(command: string, table: FlagTable, name: string): boolean {
  const value = validValue(table[name] ?? { type: 'string', help: '' });
  try {
    parseArguments(command, value === undefined ? [`--${name}`] : [`--${name}`, value], table);
    return true;
  } catch (error) {
    assert.ok(error instanceof CliError, String(error));
    return false;
  }
}

describe('kat CMD --help, kat CMD -h and kat help CMD', () => {
  for (const command of COMMANDS) {
    it(`${command.name}: all three print the same page, exit 0, listing exactly the flags of its table`, () => {
      const pages = [[command.name, '--help'], [command.name, '-h'], ['help', command.name]].map((args) => {
        const run = kat(...args);
        assert.equal(run.code, 0, `kat ${args.join(' ')}: ${run.stderr}`);
        assert.equal(run.stderr, '', `kat ${args.join(' ')} wrote to stderr`);
        return run.stdout;
      });
      assert.equal(pages[1], pages[0]);
      assert.equal(pages[2], pages[0]);
      const page = pages[0]!;
      assert.equal(page, commandHelp(command));
      assert.ok(page.startsWith(`usage: kat ${command.name} `), page.slice(0, 80));
      assert.ok(page.includes(command.summary.slice(0, 40)), 'the summary is missing');
      assert.deepEqual(listedFlags(page), Object.keys(command.flags).map((name) => `--${name}`));
      assert.match(page, /^ {2}-h, --help +show this help$/m);
      // Only this command's page: no other command's usage line.
      assert.equal(page.match(/usage: kat /g)?.length, 1);
      for (const line of page.trimEnd().split('\n')) assert.ok(line.length <= 100, `a line of ${line.length} characters: ${line}`);
    });
  }

  it('help wins over a mistyped flag, but not over a value spelt -h', () => {
    const table = findCommand('train')!.flags;
    assert.equal(wantsHelp(['--epoch', '3', '--help'], table), true);
    assert.equal(wantsHelp(['-h'], table), true);
    assert.equal(wantsHelp(['--out', '-h'], table), false);
    assert.equal(wantsHelp(['--out=--help'], table), false);
    assert.equal(wantsHelp(['--json', '-h'], table), true, '--json takes no value');
    const run = kat('train', '--epoch', '3', '--help');
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.startsWith('usage: kat train '));
  });

  it('kat help and kat --help list every command on one line each and point to kat help CMD', () => {
    const run = kat('help');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(kat('--help').stdout, run.stdout);
    assert.equal(kat().stdout, run.stdout);
    for (const command of COMMANDS) assert.match(run.stdout, new RegExp(`^ {2}${command.name} +\\S`, 'm'), command.name);
    assert.match(run.stdout, /kat help CMD/);
    // The overview lists commands, not flags.
    assert.doesNotMatch(run.stdout, /--epochs/);
    for (const line of run.stdout.trimEnd().split('\n')) assert.ok(line.length <= 100, line);
  });

  it('kat help of an unknown command, or of two, is a usage error', () => {
    const run = kat('help', 'nosuch');
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^kat: help: unknown command 'nosuch': expected one of train, compare, eval, predict, info, export, plot, formula, prune, bench, profile, demo, help, version\n$/);
    const extra = kat('help', 'train', 'extra');
    assert.equal(extra.code, 2);
    assert.equal(extra.stderr, "kat: help: unexpected argument 'extra': kat help CMD takes one command\n");
  });
});

describe('the flag table is the one source', () => {
  it('every flag a table lists parses, and a flag it does not list is refused', () => {
    for (const command of COMMANDS) {
      for (const name of Object.keys(command.flags)) assert.ok(parses(command.name, command.flags, name), `${command.name} --${name}`);
      // Each flag taken out of the table: the parser refuses it and help leaves it out.
      for (const name of Object.keys(command.flags)) {
        const without = Object.fromEntries(Object.entries(command.flags).filter(([other]) => other !== name));
        assert.equal(parses(command.name, without, name), false, `${command.name} --${name} parsed without its table entry`);
        assert.ok(!listedFlags(commandHelp({ ...command, flags: without })).includes(`--${name}`));
      }
      // Help and friends are not flags a command's run sees.
      assert.ok(!Object.hasOwn(command.flags, 'help') && !Object.hasOwn(command.flags, 'h'), command.name);
    }
  });

  it('a range and a default come from the table (train\'s from DEFAULT_TRAIN_CONFIG) into help', () => {
    assert.equal(TRAIN_FLAGS.epochs.default, DEFAULT_TRAIN_CONFIG.epochs);
    assert.equal(TRAIN_FLAGS['batch-size'].default, DEFAULT_TRAIN_CONFIG.batchSize);
    assert.equal(flagDescription(TRAIN_FLAGS.epochs), `passes over the training data (a positive integer in [1, 100,000]; default ${DEFAULT_TRAIN_CONFIG.epochs})`);
    const page = commandHelp(findCommand('train')!);
    assert.match(page, new RegExp(`^ {2}--lr X +peak learning rate \\(cosine schedule\\) \\(a number >= 0; default ${DEFAULT_TRAIN_CONFIG.lr}\\)$`, 'm'));
    assert.match(page, /^ {2}--flip {2,}augmentation: random horizontal flips$/m);
    // A range the parser checks is the range help states.
    assert.throws(() => parseArguments('train', ['--epochs', '100001'], TRAIN_FLAGS), /--epochs must be a positive integer in \[1, 100,000\]/);
  });

  it('kat compare forwards train\'s flags with train\'s types and help', () => {
    const compare = findCommand('compare')!.flags;
    for (const name of ['epochs', 'batch-size', 'lr', 'max-steps'] as const) {
      assert.deepEqual(compare[name]!.type, TRAIN_FLAGS[name].type, name);
      assert.equal(compare[name]!.help, TRAIN_FLAGS[name].help, name);
    }
    assert.ok(!Object.hasOwn(compare, 'seed'), 'compare sets the seeds itself (--seeds)');
  });
});

describe('the resume comparison reads the table', () => {
  it('the flags train --resume compares and carries are those marked in TRAIN_FLAGS, as before the table', () => {
    assert.deepEqual(RESUME_SETTINGS, [
      'model', 'dataset', 'basis', 'select-after', 'select-keep', 'select-threshold', 'select-temperature', 'hidden', 'activation', 'karat', 'grid-update', 'init', 'weights', 'heads', 'target', 'task', 'test-fraction',
      'image-size', 'epochs', 'batch-size', 'lr', 'weight-decay', 'optimizer', 'warmup', 'label-smoothing', 'clip', 'shift', 'flip', 'rotate',
      'scale', 'ema', 'seed', 'max-steps',
    ]);
    assert.deepEqual(RESUME_CARRIED, ['out', 'backend', 'checkpoint-every']);
    // Neither --resume itself nor output-only flags decide what a run computes.
    for (const name of ['resume', 'json', 'log-steps', 'max-memory']) assert.ok(!RESUME_SETTINGS.includes(name) && !RESUME_CARRIED.includes(name), name);
  });
});

describe('train\'s values are checked in one place, the table', () => {
  it('a rate or norm below 0 and a fraction out of its range are refused as they are parsed', () => {
    assert.equal(describeRange(numberFrom(0)), 'a number >= 0');
    assert.equal(describeRange(numberFrom(0, { minExclusive: true })), 'a number > 0');
    const parse = (...args: string[]) => parseArguments('train', args, TRAIN_FLAGS).flags;
    assert.throws(() => parse('--lr', '-1'), /^Error: train: --lr must be a number >= 0, got -1$/);
    assert.throws(() => parse('--clip=-0.5'), /--clip must be a number >= 0, got -0.5/);
    assert.throws(() => parse('--label-smoothing', '1'), /--label-smoothing must be a number in \[0, 1\), got 1/);
    assert.throws(() => parse('--ema', '1'), /--ema must be a number in \[0, 1\), got 1/);
    assert.throws(() => parse('--rotate', '180'), /--rotate must be a number in \[0, 180\), got 180/);
    assert.throws(() => parse('--image-size', '4'), /--image-size must be an integer in \[8, 1024\], got 4/);
    assert.deepEqual(parse('--lr', '0', '--ema', '0.999', '--rotate', '179.5'), { lr: 0, ema: 0.999, rotate: 179.5 });
  });

  it('the flags a resume file records are checked against the same table', () => {
    const source = "--resume 'run.resume.safetensors'";
    assert.throws(() => checkFlagValue('train', 'epochs', 0, TRAIN_FLAGS, source),
      /^Error: train: --resume 'run.resume.safetensors' records --epochs 0: it must be a positive integer in \[1, 100,000\]$/);
    assert.throws(() => checkFlagValue('train', 'epochs', '5', TRAIN_FLAGS, source), /records --epochs as '5', not a number/);
    assert.throws(() => checkFlagValue('train', 'flip', 1, TRAIN_FLAGS, source), /records --flip as '1', not a boolean/);
    assert.throws(() => checkFlagValue('train', 'constructor', 1, TRAIN_FLAGS, source), /records an unknown flag '--constructor'/);
    checkFlagValue('train', 'lr', 0.01, TRAIN_FLAGS, source);
    const resumed = (flags: Record<string, unknown>) => ({ path: 'run.resume.safetensors', flags, settings: { ema: 0 }, data: {} }) as unknown as ResumedRun;
    assert.deepEqual(resumeFlags({ epochs: 3 }, resumed({ epochs: 1e9, lr: 0.01 })), { epochs: 3, lr: 0.01 }, 'a flag given again wins');
    assert.throws(() => resumeFlags({}, resumed({ epochs: 1e9 })), /records --epochs 1000000000: it must be a positive integer/);
    assert.throws(() => resumeFlags({}, resumed({ 'batch-size': 'many' })), /records --batch-size as 'many', not a number/);
  });
});

describe('an unknown flag suggests the closest known one', () => {
  it('by edit distance, within a third of its length, or as the only flag it begins', () => {
    assert.equal(editDistance('epoch', 'epochs'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
    const train = Object.keys(TRAIN_FLAGS);
    assert.equal(closestFlag('epoch', train), 'epochs');
    assert.equal(closestFlag('Epochs', train), 'epochs');
    assert.equal(closestFlag('batchsize', train), 'batch-size');
    assert.equal(closestFlag('batch', train), 'batch-size');
    assert.equal(closestFlag('learning-rate', train), undefined);
    assert.equal(closestFlag('frobnicate', train), undefined);
    assert.equal(closestFlag('x', train), undefined);
    assert.equal(closestFlag('e'.repeat(10_000), train), undefined);
  });

  it('the CLI prints one error line with the suggestion, else the flags it knows', () => {
    const typo = kat('train', '--epoch', '3');
    assert.equal(typo.code, 2);
    assert.equal(typo.stdout, '');
    assert.equal(typo.stderr, "kat: train: unknown flag '--epoch': did you mean --epochs? (kat train --help lists the flags)\n");
    const far = kat('eval', '--frobnicate');
    assert.equal(far.code, 2);
    assert.match(far.stderr, /^kat: eval: unknown flag '--frobnicate': expected one of --checkpoint, --dataset, .*--max-memory\n$/);
    assert.throws(() => parseArguments('predict', ['--skipbad'], findCommand('predict')!.flags),
      /^Error: predict: unknown flag '--skipbad': did you mean --skip-bad\? \(kat predict --help lists the flags\)$/);
  });
});

describe('help text wrapping', () => {
  it('wraps at word boundaries and keeps every word', () => {
    const text = 'one two three four five six seven eight nine ten';
    const lines = wrap(text, 12);
    assert.ok(lines.every((line) => line.length <= 12), JSON.stringify(lines));
    assert.equal(lines.join(' '), text);
    assert.deepEqual(wrap('a-very-long-word b', 5), ['a-very-long-word', 'b']);
  });
});
