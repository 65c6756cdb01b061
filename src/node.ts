// katjs/node: the parts that read and write files (Node only).

export { loadCifar10 } from './data/cifar10.js';
export { loadMnist } from './data/mnist.js';
export { loadDataset, loadIdxDataset, parseDatasetSpec } from './data/index.js';
export {
  FASHION_MNIST, FASHION_MNIST_CLASS_NAMES, FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_MEAN, FASHION_MNIST_STD, idxDataset, MNIST_IDX, parseIdx,
  type IdxArray, type IdxDatasetInfo,
} from './data/idx.js';
export { readSafetensorsFile, writeFileAtomic, writeSafetensorsFile } from './io/files.js';
export { readCheckpointFile, writeCheckpointFile } from './models/checkpoint_files.js';
export { defaultCacheDir, resolveCheckpoint, type FetchOptions } from './io/sources_node.js';
export { ImageFolderDataset, loadImageFolder, scanImageFolder, type ImageFolderOptions, type ImageFolderSplit } from './data/image_folder.js';
export { ImageDecodePool } from './data/image_pool.js';
