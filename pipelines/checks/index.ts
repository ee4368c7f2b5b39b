/**
 * Checks of an executed notebook against a baseline: cell outputs compared as nbval does, with
 * run-to-run noise normalized and numbers and images compared with tolerance, and metric gates.
 */
export { compareNotebooks, type CellCheck, type CompareOptions } from './compare';
export {
  evaluateGates,
  parseGate,
  type Gate,
  type GateOperator,
  type GateResult,
  type GateTarget,
} from './gates';
export {
  PIXEL_IMAGE_MIMES,
  compareImages,
  describeImage,
  normalizeSvg,
  type ImageDifference,
  type ImageTolerance,
} from './images';
export { IGNORE_OUTPUT_TAG, nbvalMarkers, type NbvalMarkers } from './markers';
export { matchCells } from './match';
export { NORMALIZATION_RULES, normalizeText, type NormalizationRule } from './normalize';
export { compareNumericText, numbersClose, type TextDifference, type Tolerance } from './numbers';
export { SKIPPED_MIMES, outputEntries, stableJson, type OutputEntry } from './outputs';
