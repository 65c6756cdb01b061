// Flags several commands share, each described once (a command may spread one
// and override its help where it means something more particular there).

import { CHECKPOINT_SOURCE_HELP } from './checkpoint_source.js';
import { DEFAULT_MEMORY_FRACTION } from './memory.js';
import { HEADS_RANGE, type FlagSpec } from './flags.js';

export const CHECKPOINT_FLAG: FlagSpec = {
  type: 'string', value: 'SRC',
  help: `the checkpoint: ${CHECKPOINT_SOURCE_HELP} (.safetensors, .pth, .bin or .pth.tar) ` +
    '(downloads are cached in KATJS_CACHE, else $XDG_CACHE_HOME/katjs or ~/.cache/katjs; HF_ENDPOINT, HF_TOKEN)',
};

export const JSON_FLAG: FlagSpec = { type: 'boolean', help: 'print JSON (one object per line) instead of text' };

export const BACKEND_FLAG: FlagSpec = { type: 'string', value: 'NAME', help: 'auto (webgpu where it starts, else cpu) or a backend by name: cpu, cpu-float64, webgpu', default: 'auto' };

export const DATASET_FLAG: FlagSpec = {
  type: 'string', value: 'SPEC',
  help: 'mnist (10,000 embedded digits), mnist:DIR (the full MNIST as IDX files), fashion-mnist (Debian\'s dataset-fashion-mnist) ' +
    'or fashion-mnist:DIR, cifar10:DIR, folder:DIR (photos in DIR/<class>/ or DIR/train + DIR/val), synthetic:CxHxW[:classes[:count]], csv:FILE',
};

export const WEIGHTS_FLAG: FlagSpec = {
  type: 'string', value: 'default|ema',
  help: 'ema: the checkpoint\'s exponential moving average of the weights instead of the trained ones',
};

export const HEADS_FLAG: FlagSpec = {
  type: HEADS_RANGE, value: 'N', help: 'attention heads of a timm checkpoint, which does not store them',
};

export const MAX_MEMORY_SPEC: FlagSpec = {
  type: 'string', value: 'SIZE',
  help: 'refuse, before allocating, a model estimated to need more memory than this: 512MiB, 4GiB or bytes ' +
    `(default ${DEFAULT_MEMORY_FRACTION * 100}% of this machine's RAM)`,
};
