import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The architecture rule (docs/architecture.md, "The house"): wings never import each other, lib/ imports no wing,
// and the tunnel's server and agent meet only in tunnel/protocol/.
const wings = ['yurthub', 'tunnel', 'converter', 'manager'];
// yurthub runs on every edge node: @kubernetes/client-node costs it 84 MB of RSS just to import
// (docs/benchmarks.md, idle), directly or through lib/kube/informer.ts.
const heavy = {
  yurthub: [{ group: ['@kubernetes/client-node', '**/lib/kube/informer.js'], message: 'yurthub must not load @kubernetes/client-node (84 MB RSS): use lib/kube/list-watch.ts' }],
};
const wingRule = (self) => ({
  files: [`${self}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: [
        ...wings.filter((w) => w !== self).map((w) => ({
          group: [`**/${w}/**`, `**/${w}`],
          message: `${self}/ must not import ${w}/: move shared code to lib/`,
        })),
        ...(heavy[self] ?? []),
      ],
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/cluster/bin/**', 'coverage/**', '.tmp/**', '.scratch*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  ...wings.map(wingRule),
  {
    files: ['lib/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: wings.map((w) => ({ group: [`**/${w}/**`], message: 'lib/ imports no wing' })),
      }],
    },
  },
  {
    files: ['tunnel/server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/agent/**'], message: 'server and agent meet only in tunnel/protocol/' }] }] },
  },
  {
    files: ['tunnel/agent/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**'], message: 'server and agent meet only in tunnel/protocol/' }] }] },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'demo/**/*.ts', '**/*.test.ts'],
    rules: { 'no-console': 'off', 'no-restricted-imports': 'off' },
  },
);
