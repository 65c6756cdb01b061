// katjs: Kolmogorov-Arnold Networks for JavaScript.

export type { Backend, BinaryOp, HostArray, KernelName, Kernels, MemoryInfo, ReduceOp, UnaryOp } from './backends/backend.js';
export { registerBackend, registeredBackends } from './backends/backend.js';
export { CpuBackend } from './backends/cpu/index.js';
export { getBackend, setBackend } from './tensor/engine.js';
export { Tensor } from './tensor/tensor.js';
export type { BackwardOptions } from './tensor/tensor.js';
export { isGradEnabled, noGrad } from './tensor/autograd.js';
export { keep, memory, tidy } from './tensor/scope.js';
export { Random, setSeed } from './tensor/random.js';
export * from './ops/index.js';
