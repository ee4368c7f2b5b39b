/**
 * ASCII control characters in names and messages: the helpers live in
 * pipelines/paths/control-chars.ts (the domain needs them too); re-exported here for the
 * service's modules that import them from the store.
 */
export {
  escapeControlCharacters,
  hasControlCharacter,
  replaceControlCharacters,
} from '../../pipelines/paths/control-chars';
