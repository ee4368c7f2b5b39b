/**
 * The JSON Schema of an `EnvironmentDiff` (`diff.ts`), as the OpenAPI document describes the
 * `environment` of a diff of two builds.
 */

const packageChange = {
  type: 'object',
  required: ['name', 'from', 'to'],
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    from: { type: ['string', 'null'], description: "A's version; null: only B has it" },
    to: { type: ['string', 'null'], description: "B's version; null: only A has it" },
  },
};

const packageList = { type: 'array', items: packageChange };

/** The schema of an `EnvironmentDiff`. */
export const ENVIRONMENT_DIFF_SCHEMA = {
  type: 'object',
  description:
    'what differs between the environments the two runs recorded (metadata.nbstage.environment); empty when either recorded none',
  required: ['packages', 'changes', 'recorded'],
  additionalProperties: false,
  properties: {
    packages: {
      type: 'object',
      description: 'packages only B has, only A has, and whose version changed; each by name',
      required: ['added', 'removed', 'changed'],
      additionalProperties: false,
      properties: { added: packageList, removed: packageList, changed: packageList },
    },
    changes: {
      type: 'array',
      description:
        'other recorded fields that differ, by dotted path (python.version, git.commit, gpus)',
      items: {
        type: 'object',
        required: ['field', 'from', 'to'],
        additionalProperties: false,
        properties: { field: { type: 'string' }, from: {}, to: {} },
      },
    },
    recorded: {
      type: 'object',
      description: 'whether each side recorded an environment',
      required: ['a', 'b'],
      additionalProperties: false,
      properties: { a: { type: 'boolean' }, b: { type: 'boolean' } },
    },
  },
};
