// katjs/node: the parts that read and write files (Node only).

export { loadCifar10 } from './data/cifar10.js';
export { loadMnist } from './data/mnist.js';
export { loadDataset, loadIdxDataset, parseDatasetSpec } from './data/index.js';
export { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './io/files.js';
export { readCheckpointFile, writeCheckpointFile } from './models/checkpoint_files.js';
export { defaultCacheDir, resolveCheckpoint, type FetchOptions } from './io/sources_node.js';
export { ImageFolderDataset, loadImageFolder, scanImageFolder, type ImageFolderOptions, type ImageFolderSplit } from './data/image_folder.js';
export { ImageDecodePool } from './data/image_pool.js';
