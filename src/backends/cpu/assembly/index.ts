// The CPU backend's WebAssembly kernels (AssemblyScript sources).
export { matmulPacked } from './matmul';
