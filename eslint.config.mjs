// ESLint flat config: typescript-eslint's recommended rules plus the house rules of STYLE.md
// (eqeqeq, curly, type-only imports, no `any`). Formatting is Prettier's job, not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Globals of the few plain CommonJS files (bin/, jest.config.js), all run by Node. */
const nodeCommonJsGlobals = {
  require: 'readonly',
  module: 'writable',
  exports: 'writable',
  process: 'readonly',
  console: 'readonly',
  __dirname: 'readonly',
  __filename: 'readonly',
};

/** Globals of the web page's browser scripts. */
const browserGlobals = {
  window: 'readonly',
  document: 'readonly',
  fetch: 'readonly',
  WebSocket: 'readonly',
  ResizeObserver: 'readonly',
  setTimeout: 'readonly',
};

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      '.venv/',
      '.venv-eg/',
      'coverage/',
      'test-output/',
      'examples/out/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeCommonJsGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The web page's few scripts (server/web/assets/) run in browsers, not Node.
    files: ['server/web/assets/**/*.js'],
    languageOptions: { sourceType: 'script', globals: browserGlobals },
  },
);
