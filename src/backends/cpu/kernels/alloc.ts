import type { HostArray } from '../../backend.js';

/**
 * Allocates an output buffer of the backend's element type: zeroed, unless
 * `overwritten` promises that the caller writes every element (saves a pass over memory).
 */
export type Alloc = (size: number, overwritten?: boolean) => HostArray;
