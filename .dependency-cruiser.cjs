/**
 * The import rules of ship (DESIGN.md, "Layers"), checked by `npm run deps` and by `npm test`.
 *
 * Imports point down only. From the top:
 *
 *   index        src/index.ts: the public API for configs and playbooks; may import anything,
 *                nothing under src/ imports it.
 *   cli          src/cli: yargs commands, thin.
 *   commands     src/commands (with src/commands/pipeline): what each command does.
 *   engine       src/rollout, src/preflight, src/playbook, src/patch.
 *   rules        schema-checks/: the migration lint rules; may import src/lint and the low
 *                layers only, and src/lint never imports them (the engine receives its rules).
 *   config-wiring
 *                the factories that build adapters from the whole loaded config (each adapter's
 *                from-config.ts, src/inventory/resolve.ts, src/migrations/configured.ts; listed
 *                in CONFIG_WIRING below).
 *   config-composition
 *                the files that put the config schema, its documentation and its loading
 *                together from the pieces the load balancers and notifiers own (their
 *                registries in src/lb and src/notify); listed in CONFIG_COMPOSITION below.
 *   adapters     src/journal, src/lb, src/transport, src/health, src/notify, src/inventory,
 *                src/migrations, src/lint, src/aws, src/report.
 *   base         src/config (the rest: fields, env, errors), src/events.ts, src/errors.
 *   util         src/util, src/shell.
 *   catalogue    src/errors/codes.ts: the error codes and their classification. It imports
 *                nobody, and every error class reads its code from it, DeadlineError in
 *                src/util included; so it is the floor.
 *
 * Modules of one layer may import each other, never in a cycle. Type-only imports count: a
 * type-only cycle still ties the modules together. Everything outside src/ and schema-checks/
 * (playbooks, tests, bench, scripts, the example config) sits above them all.
 */

/**
 * The config files that compose the schema, its field descriptions and its loading from the
 * adapters' pieces. define.ts is one of them: defineConfig is typed with the composed schema's input.
 */
const CONFIG_COMPOSITION = [
  'src/config/schema.ts',
  'src/config/field-descriptions.ts',
  'src/config/doc.ts',
  'src/config/load.ts',
  'src/config/apps.ts',
  'src/config/roles.ts',
  'src/config/define.ts',
];

/**
 * The factories that build an adapter (or the host list) from the whole loaded config: they read
 * the composed config, so they sit above it. A factory that takes only its own config section
 * would belong with its adapter again.
 */
const CONFIG_WIRING = [
  'src/journal/from-config.ts',
  'src/lb/from-config.ts',
  'src/notify/from-config.ts',
  'src/transport/from-config.ts',
  'src/health/from-config.ts',
  'src/inventory/resolve.ts',
  'src/migrations/configured.ts',
];

/** The error catalogue; it imports nothing at all. */
const ERROR_CATALOGUE = 'src/errors/codes.ts';

/**
 * Top to bottom; a layer may import its own modules and every layer below it. A path ending in
 * `/` is a folder, any other a file; `except` takes files out of a layer's folders (they belong
 * to another layer).
 */
const LAYERS = [
  { name: 'index', paths: ['src/index.ts'] },
  { name: 'cli', paths: ['src/cli/'] },
  { name: 'commands', paths: ['src/commands/'] },
  { name: 'engine', paths: ['src/rollout/', 'src/preflight/', 'src/playbook/', 'src/patch/'] },
  { name: 'rules', paths: ['schema-checks/'] },
  { name: 'config-wiring', paths: CONFIG_WIRING },
  { name: 'config-composition', paths: CONFIG_COMPOSITION },
  {
    name: 'adapters',
    paths: ['src/journal/', 'src/lb/', 'src/transport/', 'src/health/', 'src/notify/', 'src/inventory/', 'src/migrations/', 'src/lint/', 'src/aws/', 'src/report/'],
    except: CONFIG_WIRING,
  },
  { name: 'base', paths: ['src/config/', 'src/events.ts', 'src/errors/'], except: [...CONFIG_COMPOSITION, ERROR_CATALOGUE] },
  { name: 'util', paths: ['src/util/', 'src/shell/'] },
  { name: 'catalogue', paths: [ERROR_CATALOGUE] },
];

const escapeRegExp = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const alternatives = (paths) => paths.map((path) => (path.endsWith('/') ? escapeRegExp(path) : `${escapeRegExp(path)}$`)).join('|');
/** One regular expression for the modules of a layer. */
const pattern = (layer) => `^${layer.except ? `(?!(?:${alternatives(layer.except)}))` : ''}(?:${alternatives(layer.paths)})`;
const layerNamed = (name) => LAYERS.find((layer) => layer.name === name);
const below = (name) => LAYERS.slice(LAYERS.indexOf(layerNamed(name)) + 1);

const layerRules = LAYERS.slice(1).map((layer, index) => {
  const above = LAYERS.slice(0, index + 1);
  return {
    name: `layer-${layer.name}`,
    severity: 'error',
    comment: `${layer.name} may not import a layer above it (${above.map((l) => l.name).join(', ')}): move the shared piece down, or let the caller pass it in (DESIGN.md, "Layers"; the layers are listed in .dependency-cruiser.cjs).`,
    from: { path: pattern(layer) },
    to: { path: above.map(pattern) },
  };
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'Modules import each other in a circle (type-only imports included): move what both need into a lower module, or let the caller pass it in.',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'rules-import-only-lint',
      severity: 'error',
      comment: 'A schema-checks rule may import src/lint and the layers below the adapters only.',
      from: { path: pattern(layerNamed('rules')) },
      to: { path: '^src/', pathNot: ['^src/lint/', ...below('adapters').map(pattern)] },
    },
    {
      name: 'catalogue-imports-nobody',
      severity: 'error',
      comment: 'The error catalogue lists codes and imports nobody: an error class carries its own code (shipCode).',
      from: { path: pattern(layerNamed('catalogue')) },
      to: {},
    },
    {
      name: 'src-outside-layers',
      severity: 'error',
      comment: 'Every module under src/ belongs to a layer: add its folder to LAYERS in .dependency-cruiser.cjs.',
      from: { path: '^src/', pathNot: LAYERS.map(pattern) },
      to: {},
    },
    {
      name: 'src-into-outside',
      severity: 'error',
      comment: 'src/ and schema-checks/ import only each other and packages, never playbooks, tests, bench or scripts.',
      from: { path: ['^src/', '^schema-checks/'] },
      to: { pathNot: ['^src/', '^schema-checks/', '^node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import the check cannot resolve would hide its dependencies from every other rule.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // TypeScript 7 has no compiler API for dependency-cruiser to parse with; swc reads the
    // TypeScript sources as written, type-only imports included.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: '^node_modules' },
    exclude: { path: ['^dist/', '^node_modules/'] },
    // Sources import each other as `./x.js`; the file on disk is x.ts.
    enhancedResolveOptions: { extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'] },
  },
};
