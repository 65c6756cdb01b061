import type { HostArray } from '../../backend.js';

/** Allocates a zeroed output buffer of the backend's element type. */
export type Alloc = (size: number) => HostArray;
