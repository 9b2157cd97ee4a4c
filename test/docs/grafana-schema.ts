/**
 * A dashboard JSON checked against Grafana's own schema of a dashboard: the `Dashboard` type that
 * Grafana generates from its dashboard kind (CUE) and publishes in `@grafana/schema`
 * (raw/dashboard/x: the classic JSON model, schemaVersion 36+). No Grafana server is reachable here, so
 * the TypeScript compiler is the validator: the dashboard becomes an object literal typed `Dashboard`,
 * which gets what a schema check gives — required fields present (a gridPos needs h, w, x and y),
 * every value of its field's type and enum, no unknown field where the kind is closed — and stays open
 * where the kind is (panel options, queries).
 */
import { join } from 'node:path';
import ts from 'typescript';

const root = join(import.meta.dirname, '..', '..');
/** The kind's generated types; its version is package.json's (pinned). */
export const GRAFANA_DASHBOARD_TYPES = join(root, 'node_modules', '@grafana', 'schema', 'dist', 'types', 'raw', 'dashboard', 'x', 'types.gen.d.ts');

/**
 * An exported dashboard may carry the import envelope (`__inputs`, `__requires`, `__elements`), which
 * Grafana's import reads and drops: it is not part of the kind.
 */
const ENVELOPE = ['__inputs', '__requires', '__elements'];

const OPTIONS: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  lib: ['lib.es2022.d.ts'],
  types: [],
  skipLibCheck: true,
};

/** Where the dashboard goes: a file that exists only in the compiler's host. */
const CHECKED = join(root, 'test', 'docs', '__grafana-dashboard-check__.ts');

/** Every way the dashboard departs from Grafana's schema: `<compiler message> | at <the line of the JSON>`; empty when it conforms. */
export function grafanaSchemaErrors(dashboard: Record<string, unknown>): string[] {
  const kind = Object.fromEntries(Object.entries(dashboard).filter(([k]) => !ENVELOPE.includes(k)));
  const header = `import type { Dashboard } from ${JSON.stringify(GRAFANA_DASHBOARD_TYPES.replace(/\.d\.ts$/, '.js'))};\nexport const dashboard: Dashboard = `;
  const source = `${header}${JSON.stringify(kind, null, 2)};\n`;
  const host = ts.createCompilerHost(OPTIONS);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (name === CHECKED ? ts.createSourceFile(name, source, language) : getSourceFile.call(host, name, language, ...rest));
  host.fileExists = (name) => name === CHECKED || fileExists.call(host, name);
  host.readFile = (name) => (name === CHECKED ? source : readFile.call(host, name));
  const program = ts.createProgram([CHECKED], OPTIONS, host);
  const lines = source.split('\n');
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file?.fileName !== CHECKED || d.start === undefined) return `${d.file?.fileName ?? '(compiler)'}: ${message}`;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${message} | at ${lines[line]!.trim()}`;
  });
}
