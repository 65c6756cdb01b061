// The CPU backend's WebAssembly kernels (AssemblyScript sources).
export { fmaPeak, gemm, gemmScratchFloats, packColumns, packedWholeFloats, staticDataEnd } from './matmul';
export { groupRationalBackward, groupRationalForward } from './group_rational';
export { karatBackward, karatForward } from './karat';
export { expF32, layerNormBackward, layerNormForward, softmaxBackward, softmaxForward } from './normalization';
export { bsplineBasisBackward, bsplineBasisForward, chebyshevBasisBackward, chebyshevBasisForward, radialBasisBackward, radialBasisForward } from './kan_bases';
export { adamwF32, binaryF32, copyStrided4, scatterStrided4, sumColsF32, sumRowsF64, unaryF32, unaryGradF32 } from './elementwise';
export { attentionBackward, attentionBackwardScratch, attentionForward, attentionForwardScratch } from './attention';
