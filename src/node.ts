// katjs/node: the parts that read and write files (Node only).

export { loadCifar10 } from './data/cifar10.js';
export { loadMnist } from './data/mnist.js';
export { loadDataset, parseDatasetSpec } from './data/index.js';
export { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './io/files.js';
export { readCheckpointFile, writeCheckpointFile } from './models/checkpoint_files.js';
