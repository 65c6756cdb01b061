// Reverse-mode autodiff. Each op output that needs gradients carries a GradNode:
// its inputs and a rule mapping the output's gradient to the inputs' gradients.
// Rules are written with ops, so they run on whatever backend holds the tensors.

import { engine, Scope } from './engine.js';
import { contiguousStrides, formatShape } from '../util/shape.js';
import { Tensor } from './tensor.js';

export interface GradNode {
  /** The op's name, for error messages. */
  readonly op: string;
  /** Emptied once the graph is released, so that nothing it held stays reachable. */
  inputs: readonly Tensor[];
  /** Gradients for each input (null where an input needs none). Null once the graph is released. */
  backward: ((gradient: Tensor) => readonly (Tensor | null)[]) | null;
}

/** Runs `fn` without recording gradients. */
export function noGrad<T>(fn: () => T): T {
  const previous = engine.gradEnabled;
  engine.gradEnabled = false;
  try {
    return fn();
  } finally {
    engine.gradEnabled = previous;
  }
}

/** Whether ops record gradients now (false inside noGrad). */
export function isGradEnabled(): boolean {
  return engine.gradEnabled;
}

/** Tensors reachable from `root` through grad nodes, each after all tensors computed from it. */
function reverseTopologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [tensor, next] = top;
    const inputs = tensor.gradNode?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const input = inputs[next]!;
      if (input.requiresGrad && !visited.has(input)) {
        visited.add(input);
        stack.push([input, 0]);
      }
    } else {
      stack.pop();
      order.push(tensor);
    }
  }
  return order.reverse();
}

function addSameShape(a: Tensor, b: Tensor): Tensor {
  const strides = contiguousStrides(a.shape);
  const buffer = a.backend.kernels.binary('add', a.buffer, b.buffer, a.shape, strides, strides);
  return Tensor.fromBuffer(a.backend, buffer, a.shape);
}

/** Removes a tensor from every open scope so it outlives them (leaf gradients). */
function keepAlive(tensor: Tensor): void {
  engine.untrack(tensor);
  engine.escape(tensor);
}

/**
 * Runs one backward rule in a scope of its own: the temporaries it made and
 * does not return (reshaped views, partial sums) are freed at once.
 */
function runRule(rule: (gradient: Tensor) => readonly (Tensor | null)[], gradient: Tensor): readonly (Tensor | null)[] {
  const scope = new Scope();
  engine.scopes.push(scope);
  let grads: readonly (Tensor | null)[];
  try {
    grads = rule(gradient);
  } catch (error) {
    engine.scopes.pop();
    for (const tensor of scope.tensors) tensor.dispose();
    throw error;
  }
  engine.scopes.pop();
  for (const tensor of scope.tensors) {
    if (grads.includes(tensor)) engine.handOn(tensor);
    else tensor.dispose();
  }
  return grads;
}

/**
 * After backward without retainGraph (PyTorch's default): frees the
 * intermediates modules made for this graph (Tensor.owned) and drops the
 * graph's links, so the saved tensors its rules held become unreachable even
 * while the caller still holds the output. Tensors the caller may hold (op
 * outputs outside any module) are left to dispose(), tidy() or the collector.
 */
function releaseGraph(order: readonly Tensor[]): void {
  for (const tensor of order) {
    if (tensor.owned) {
      for (const internal of tensor.owned) internal.dispose();
      tensor.owned = null;
    }
    if (tensor.gradNode) tensor.gradNode.inputs = [];
  }
}

export function runBackward(root: Tensor, seed: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) {
    throw new Error(`backward(): ${root.describe()} does not require grad: no input of the ops that made it has requiresGrad`);
  }
  if (seed === undefined && root.size !== 1) {
    throw new Error(`backward(): ${root.describe()} is not a scalar; pass a gradient of shape ${formatShape(root.shape)}`);
  }
  if (seed !== undefined && seed.shape.join() !== root.shape.join()) {
    throw new Error(`backward(): gradient has shape ${formatShape(seed.shape)}, expected ${formatShape(root.shape)} like ${root.describe()}`);
  }
  const previous = engine.gradEnabled;
  engine.gradEnabled = false;
  // The pass's own scope: its gradients are disposed as they are used, leaf
  // gradients leave it (keepAlive); anything else is handed on at the end.
  const scope = new Scope();
  engine.scopes.push(scope);
  try {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, seed ?? Tensor.fromBuffer(root.backend, root.backend.kernels.fill(root.size, 1), root.shape));
    const order = reverseTopologicalOrder(root);
    for (const tensor of order) {
      const gradient = grads.get(tensor);
      if (!gradient) continue;
      grads.delete(tensor);
      const node = tensor.gradNode;
      if (!node) {
        // A leaf: accumulate into .grad, which outlives any scope.
        if (tensor.grad) {
          const sum = addSameShape(tensor.grad, gradient);
          tensor.grad.dispose();
          if (gradient !== seed) gradient.dispose();
          tensor.grad = sum;
        } else {
          tensor.grad = gradient === seed ? gradient.view(gradient.shape) : gradient;
        }
        keepAlive(tensor.grad);
        continue;
      }
      if (!node.backward) {
        throw new Error(`backward(): the graph through '${node.op}' was already released by an earlier backward(); ` +
          'call backward(gradient, { retainGraph: true }) the first time to run it twice');
      }
      const inputGrads = runRule(node.backward, gradient);
      if (!retainGraph) node.backward = null;
      // A rule may hand back its incoming gradient, or one tensor for two inputs:
      // give each consumer its own view so each can be disposed independently.
      const handedOut = new Set<Tensor>([gradient]);
      node.inputs.forEach((input, i) => {
        let g = inputGrads[i];
        if (!g) return;
        if (!input.requiresGrad) {
          if (!handedOut.has(g) && !inputGrads.slice(i + 1).includes(g)) g.dispose();
          return;
        }
        if (g.shape.join() !== input.shape.join()) {
          throw new Error(`internal error: '${node.op}' produced a gradient of shape ${formatShape(g.shape)} for input ${formatShape(input.shape)}`);
        }
        if (handedOut.has(g)) g = g.view(g.shape);
        handedOut.add(g);
        const existing = grads.get(input);
        if (existing) {
          grads.set(input, addSameShape(existing, g));
          existing.dispose();
          g.dispose();
        } else {
          grads.set(input, g);
        }
      });
      if (gradient !== seed) gradient.dispose();
    }
    if (!retainGraph) releaseGraph(order);
  } finally {
    engine.gradEnabled = previous;
    engine.scopes.pop();
    for (const tensor of scope.tensors) engine.handOn(tensor);
  }
}
