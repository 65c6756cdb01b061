// The CPU backend's WebAssembly kernels (AssemblyScript sources).
export { matmulPacked } from './matmul';
export { groupRationalBackward, groupRationalForward } from './group_rational';
