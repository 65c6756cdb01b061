// Module: a tree of named parameters and sub-modules. Names join with '.' as
// in PyTorch/timm (blocks.0.mlp.act1.weight_numerator), so state dicts map
// one-to-one onto real KAT checkpoints.

import { forwardScope, keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { formatShape } from '../util/shape.js';
import { excerpt, quote } from '../util/text.js';

/** Host values of one named tensor, as read from or written to a checkpoint. */
export interface NamedValues {
  shape: readonly number[];
  values: Float32Array;
}

/** Base of every layer and model: named parameters and child modules, train/eval mode, state dicts for checkpoints. */
export abstract class Module {
  /** Training mode switches dropout and drop-path on; eval() switches them off. */
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly childModules = new Map<string, Module>();

  constructor() {
    // Every forward runs in a forwardScope: its intermediates are freed as soon
    // as nothing can need them (at its end under noGrad, after backward otherwise),
    // so callers need no tidy(). The subclass's method is on the prototype already.
    const self = this as unknown as { forward?: (...args: unknown[]) => unknown };
    const forward = self.forward;
    if (typeof forward === 'function') {
      self.forward = (...args: unknown[]) => forwardScope(() => forward.apply(this, args));
    }
  }

  /** Registers a parameter (requires grad, kept alive past every tidy scope). */
  protected parameter(name: string, tensor: Tensor): Tensor {
    if (this.ownParameters.has(name) || this.childModules.has(name)) throw new Error(`duplicate parameter or module name '${name}'`);
    tensor.requiresGrad = true;
    keep(tensor);
    this.ownParameters.set(name, tensor);
    return tensor;
  }

  protected module<M extends Module>(name: string, child: M): M {
    if (this.ownParameters.has(name) || this.childModules.has(name)) throw new Error(`duplicate parameter or module name '${name}'`);
    this.childModules.set(name, child);
    return child;
  }

  /** Every parameter with its dotted name, in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, tensor] of this.ownParameters) out.push([prefix + name, tensor]);
    for (const [name, child] of this.childModules) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Total number of parameter values. */
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Names every parameter tensor after its path, so errors can point at it. */
  nameParameters(): this {
    for (const [name, tensor] of this.namedParameters()) tensor.name = name;
    return this;
  }

  train(mode = true): this {
    this.training = mode;
    for (const child of this.childModules.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Current parameter values by name. */
  async stateDict(): Promise<Map<string, NamedValues>> {
    const out = new Map<string, NamedValues>();
    for (const [name, tensor] of this.namedParameters()) out.set(name, { shape: tensor.shape, values: await tensor.data() });
    return out;
  }

  /**
   * Loads values by name. Every parameter must be present with its exact shape;
   * names the model does not have are an error too unless `strict` is false.
   * Nothing is changed unless everything checks out.
   */
  loadStateDict(values: ReadonlyMap<string, NamedValues>, options: { strict?: boolean; source?: string } = {}): void {
    const source = options.source ?? 'state dict';
    const params = this.namedParameters();
    const problems: string[] = [];
    for (const [name, tensor] of params) {
      const entry = values.get(name);
      if (!entry) problems.push(`missing '${name}' ${formatShape(tensor.shape)}`);
      else if (entry.shape.join() !== tensor.shape.join()) {
        problems.push(`'${name}' has shape ${excerpt(formatShape(entry.shape))}, the model expects ${formatShape(tensor.shape)}`);
      } else {
        for (let i = 0; i < entry.values.length; i++) {
          if (!Number.isFinite(entry.values[i]!)) {
            problems.push(`'${name}' holds a non-finite value (${entry.values[i]}) at index ${i}`);
            break;
          }
        }
      }
    }
    if (options.strict ?? true) {
      const known = new Set(params.map(([n]) => n));
      const unexpected = [...values.keys()].filter((n) => !known.has(n));
      // Names from a file: quoted short and escaped.
      if (unexpected.length > 0) problems.push(`unexpected ${unexpected.slice(0, 5).map((n) => quote(n)).join(', ')}${unexpected.length > 5 ? ` and ${unexpected.length - 5} more` : ''}`);
    }
    if (problems.length > 0) {
      throw new Error(`${source} does not fit this model: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? `; and ${problems.length - 6} more problems` : ''}`);
    }
    for (const [name, tensor] of params) tensor.assignValues(values.get(name)!.values);
  }

  /** Frees every parameter (and gradient). */
  dispose(): void {
    for (const t of this.parameters()) t.dispose();
  }
}
