// A worker thread of the image decode pool (image_pool.ts): reads a file,
// decodes it and applies the eval or the training transform, so the main
// thread only ever sees finished float32 tensors.

import { parentPort } from 'node:worker_threads';
import { readRegularFile } from '../io/sources_node.js';
import { Random } from '../tensor/random.js';
import { decodeImage, loadImageDecoders } from './image_decode.js';
import { evalTransform, normalizeToChw, randomResizedCrop, type PreprocessConfig } from './image_transforms.js';

export interface DecodeRequest {
  id: number;
  path: string;
  preprocess: PreprocessConfig;
  /** Training transform (random resized crop + flip) seeded by this; absent: the eval transform. */
  augmentSeed?: number;
}

/** Largest image file read (a 100-megapixel JPEG is about 50 MiB). */
export const MAX_IMAGE_BYTES = 256 * 1024 ** 2;

export type DecodeReply = { id: number; pixels: Float32Array } | { id: number; error: string };

// libjpeg-turbo loads once per worker; until then nothing is decoded, so every JPEG matches PIL.
const decodersReady = loadImageDecoders();

async function handle(request: DecodeRequest): Promise<DecodeReply> {
  try {
    await decodersReady;
    // Regular files only: a FIFO named x.jpg would block this worker forever, /dev/zero fill its memory.
    const bytes = await readRegularFile(request.path, MAX_IMAGE_BYTES, 'image');
    const image = decodeImage(bytes, `image '${request.path}'`);
    const { preprocess } = request;
    if (request.augmentSeed === undefined) return { id: request.id, pixels: evalTransform(image, preprocess) };
    const random = new Random(request.augmentSeed);
    const [, height, width] = preprocess.inputSize;
    const crop = randomResizedCrop(image, [height, width], () => random.uniform(), { interpolation: preprocess.interpolation, flip: true });
    return { id: request.id, pixels: normalizeToChw(crop, preprocess.mean, preprocess.std) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { id: request.id, error: message.includes(request.path) ? message : `image '${request.path}': ${message}` };
  }
}

parentPort?.on('message', (request: DecodeRequest) => {
  void handle(request).then((reply) => {
    if ('pixels' in reply) parentPort!.postMessage(reply, [reply.pixels.buffer as ArrayBuffer]);
    else parentPort!.postMessage(reply);
  });
});
