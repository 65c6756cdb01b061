// Memory scopes. GPU memory is not garbage-collected, so every intermediate
// made inside tidy() is freed when it returns, except the tensors it returns
// (handed to the enclosing scope) and those passed to keep().

import { engine, Scope } from './engine.js';
import { Tensor } from './tensor.js';

function collectTensors(value: unknown, found: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    found.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const item of value) collectTensors(item, found, seen);
  } else if (value instanceof Map) {
    for (const item of value.values()) collectTensors(item, found, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value)) collectTensors(item, found, seen);
  }
}

/**
 * Runs `fn` and frees every tensor it created except those it returns (in a
 * tensor, array, Map or plain object) and those kept with keep().
 * `fn` must be synchronous: await after tidy(), on what it returned.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope();
  engine.scopes.push(scope);
  engine.tidyDepth++;
  let result: T;
  try {
    result = fn();
  } catch (error) {
    engine.scopes.pop();
    engine.tidyDepth--;
    for (const tensor of scope.tensors) tensor.dispose();
    throw error;
  }
  engine.scopes.pop();
  engine.tidyDepth--;
  if (result instanceof Promise) {
    for (const tensor of scope.tensors) tensor.dispose();
    throw new Error('tidy(): the function returned a Promise; tidy() needs a synchronous function (await outside it)');
  }
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  for (const tensor of scope.tensors) {
    if (returned.has(tensor)) engine.handOn(tensor);
    else tensor.dispose();
  }
  return result;
}

/**
 * The scope every Module.forward runs in, so code written without tidy()
 * leaks nothing. Tensors `fn` made and does not return are internal: nothing
 * outside can hold them. Where no returned tensor carries a graph (noGrad, or
 * nothing requires grad) they are freed now, as tidy() would; otherwise the
 * graph's backward may need them, so the returned tensors own them and
 * backward() frees them once it has run (retainGraph false). An enclosing
 * tidy() still frees them at its end. A throw frees them all.
 */
export function forwardScope<T>(fn: () => T): T {
  // Inside tidy() the enclosing scope frees every intermediate at its end, as before forward scopes existed:
  // handing each tensor up through every module's scope would only cost time (kat-tiny steps: about 20%).
  if (engine.tidyDepth > 0) return fn();
  const scope = new Scope();
  engine.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    engine.scopes.pop();
    for (const tensor of scope.tensors) tensor.dispose();
    throw error;
  }
  engine.scopes.pop();
  const returned = new Set<Tensor>();
  collectTensors(result, returned);
  const owners: Tensor[] = [];
  for (const tensor of returned) {
    if (!scope.tensors.has(tensor)) continue;
    engine.handOn(tensor);
    if (tensor.gradNode) owners.push(tensor);
  }
  const internal: Tensor[] = [];
  for (const tensor of scope.tensors) {
    if (returned.has(tensor)) continue;
    if (owners.length === 0) {
      tensor.dispose();
    } else {
      // Handed on so that an enclosing tidy() frees it too; owned once, by the innermost module's output.
      engine.handOn(tensor);
      if (!tensor.isOwned) {
        tensor.isOwned = true;
        internal.push(tensor);
      }
    }
  }
  if (internal.length > 0) {
    for (const owner of owners) owner.owned = owner.owned ? owner.owned.concat(internal) : internal;
  }
  return result;
}

/** Keeps a tensor alive past the end of every open tidy() scope. */
export function keep<T extends Tensor>(tensor: T): T {
  engine.untrack(tensor);
  engine.escape(tensor);
  return tensor;
}

/** Live tensors and the backend's live buffers and bytes. */
export function memory(): { tensors: number; buffers: number; bytes: number } {
  return { tensors: engine.liveTensors, ...engine.backend.memory() };
}
