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

// Neural-network layers, models, optimisers, training (browser-safe).
export { Module, type NamedValues } from './nn/module.js';
export { Dropout, DropPath, LayerNorm, Linear, type LinearOptions } from './nn/layers.js';
export { GroupRational, KatMlp, type GroupRationalOptions, type KatMlpOptions } from './nn/kan.js';
export {
  AF_ACTIVATIONS, AF_COMBINATIONS, AfKanLayer, BSplineKanLayer, ChebyKanLayer, createKanLayer, isKanBasis, KAN_BASES, RationalKanLayer, RbfKanLayer,
  ReluKanLayer, type AfActivation, type AfCombination, type AfKanOptions, type ReluKanOptions, type ChebyKanOptions,
  type BSplineKanOptions, type KanBasis, type KanLayer, type KanLayerOptions, type RationalKanOptions, type RbfKanOptions,
} from './nn/kan_bases.js';
export { Attention, Block, GeluMlp, PatchEmbed, type BlockOptions } from './nn/transformer.js';
export {
  evaluateRational, fitRational, RATIONAL_INIT_MODES, rationalCoefficients, rationalGain, rationalInitModes,
  type FitRationalOptions, type RationalFit, type RationalInitMode,
} from './nn/rational_init.js';
export { VisionTransformer, type VitConfig } from './models/vit.js';
export { KanMlp, type KanMlpConfig } from './models/kan_mlp.js';
export { buildModel, createModel, MODEL_NAMES, modelSpec, type Model, type ModelOptions, type ModelSpec } from './models/registry.js';
export { decodeCheckpoint, describeSpec, encodeCheckpoint, type CheckpointInfo, type LoadedCheckpoint } from './models/checkpoint.js';
export * from './optim/index.js';
export { DEFAULT_TRAIN_CONFIG, evaluate, trainModel, type EpochEvent, type StepEvent, type EpochStartResult, type TrainConfig, type TrainHooks, type TrainResult } from './train/trainer.js';
export { batches, validateDataset, type Batch, type DataSplit, type ImageDataset } from './data/dataset.js';
export { syntheticImages, syntheticSplit } from './data/synthetic.js';
export { byteImageDataset, copyImages, type ByteImageOptions } from './data/dataset.js';
export { besselJ0, FITTING_FUNCTIONS, functionSplit, functionTable, type FittingFunction } from './data/functions.js';
export {
  isSelectSpace, SELECT_SPACE_SETTINGS, SELECT_SPACES, SelectKanLayer, selectLayerLayout, spaceFeatures, type NodeChoice, type SelectKanOptions,
  type SelectSpace,
} from './nn/select_kan.js';
export {
  choiceCounts, describeChoices, parseSelectBasis, pruneSelectModel, SELECT_ANNEAL_RATIO, selectionHook, selectTemperature,
  type SelectPhaseOptions,
} from './train/select_phases.js';
export {
  layerInputRanges, renderSelectSvg, selectLayerCurves, selectNodeCurves, SPACE_COLOURS, type NodeCurve,
} from './viz/select_plot.js';
export {
  entryTrainArgs, formatCompareTable, parseCompareEntries, parseSeeds, summariseRuns, type CompareEntry, type CompareRow, type CompareRun,
} from './train/compare.js';
export { renderLinePlot, type LinePlotOptions, type LineSeries } from './viz/line_plot.js';
export {
  decodeTabularPreprocessing, detectCsvDelimiter, encodeTabularPreprocessing, inferTabularTask, isTabularDataset, parseCsv, splitRows,
  tabularFeatureNames, tabularSplit, tabularWidth, TABULAR_METADATA_KEY,
  type CsvParseOptions, type CsvTable, type TabularDataset, type TabularFeature, type TabularOptions, type TabularPreprocessing,
  type TabularSplit, type TabularTask,
} from './data/csv.js';
export { MNIST_MEAN, MNIST_STD, splitMnistDigits } from './data/mnist_split.js';
export { decodeSafetensors, encodeSafetensors } from './io/safetensors.js';

// Pretrained weights and photos (browser-safe: bytes in, tensors out).
export {
  decodePytorchCheckpoint, isPytorchCheckpoint, PytorchCheckpointError, type DecodePytorchOptions, type PytorchCheckpoint,
} from './io/pytorch/index.js';
export { labelsFor, parseHubConfig, type HubModelConfig } from './io/hub_config.js';
export { decodeOnnx, exportOnnx, onnxMetadata, ONNX_INPUT, ONNX_OUTPUT, type ExportOnnxOptions } from './io/onnx.js';
export { parseCheckpointSource, type CheckpointSource, type ResolvedCheckpoint } from './io/sources.js';
export { resolveCheckpointBrowser, type BrowserFetchOptions } from './io/sources_browser.js';
export { IMAGENET_1K_LABELS } from './data/imagenet_labels.js';
export {
  decodeImage, decodeImageExact, exactJpegDecoding, ImageDecodeError, imageFormat, loadImageDecoders,
  type DecodeLimits, type ImageFormat, type RgbImage,
} from './data/image_decode.js';
export {
  centerCrop, evalResizeCrop, evalTransform, flipHorizontal, IMAGENET_DEFAULT_PREPROCESS, normalizeToChw, randomResizedCrop,
  randomResizedCropParams, resizeImage, type CropMode, type Interpolation, type PreprocessConfig,
} from './data/image_transforms.js';
export {
  CLASS_NAMES_KEY, defaultPreprocess, loadPretrained, PREPROCESS_KEY, type LoadPretrainedOptions, type PretrainedModel,
} from './models/pretrained.js';
export { initFromPretrained, resamplePosEmbed } from './models/finetune.js';
export { readCheckpointTensors, type DecodeCheckpointOptions } from './models/checkpoint.js';
export {
  datasetBatches, isStreamingDataset, type AnyImageDataset, type StreamingImageDataset,
} from './data/dataset.js';
export {
  evaluateRationalAt, groupCoefficients, groupRationalModules, rationalActivations, rationalFormula, sampleActivation,
  type ActivationSample, type FormulaOptions, type RationalActivation, type SampleOptions,
} from './viz/activations.js';
export { captureActivationTraffic, groupValues, type ActivationTraffic, type CaptureOptions } from './viz/capture.js';
export {
  activationPanels, histogram, renderActivationSvg, type ActivationPanel, type Histogram, type PanelOptions, type SvgOptions,
} from './viz/svg_plot.js';
export {
  bsplinePieces, chebyshevToPolynomial, nodeSpaces, readSelectLayer, selectEdgeFormula, type SelectEdgeFormula, type SelectFormulaOptions,
  type SelectLayerValues, type SelectMemberValues, type SelectSpaceTerm, type SplinePiece,
} from './viz/select_formula.js';
export { evaluateSymbolic, fitSymbolic, SYMBOLIC_LIBRARY, type SymbolicFit, type SymbolicFunction, type SymbolicOptions } from './viz/symbolic.js';
export {
  prunableLayers, pruneChannels, scoreChannels, selectChannels, type LayerScores, type PrunableLayer, type PruneResult,
} from './analysis/prune.js';
