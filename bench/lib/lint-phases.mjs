/**
 * Where one `ship lint-migrations <dir>` run spends its time, measured inside a fresh process on
 * the JavaScript that tsc compiles (dist/src, as `npm run build` leaves it), with the V8 flags
 * and the hinted parser the lint entry uses. bench/lint-corpus.ts runs it several times per corpus and takes medians.
 *
 *   node bench/lib/lint-phases.mjs <dir> [parse-first]
 *
 * Prints one JSON object, in milliseconds:
 * - `start`: process start to this script's first line (node itself, as for every command);
 * - `parserReady`: from here until PostgreSQL's parser is compiled and instantiated (WebAssembly);
 * - `select`: finding and reading the migrations (discovery, after the modules are loaded);
 * - `lint`: parsing and judging every file, the first time (cold: WebAssembly functions and
 *   JavaScript compiled as they are first called);
 * - `format`: the JSON report;
 * - `parseWarm`, `lintWarm`: parsing alone, then the whole lint, again in the same process.
 * With `parse-first`, the files are parsed alone before the lint instead: `parseCold` is what the
 * parser costs the first time, and `lint` then mostly judges.
 */
const start = performance.now();
const dist = new URL('../../dist/', import.meta.url);
// As the published entry does (src/cli/lint-migrations-bundled.ts): the V8 flags, and the parser
// with compilation hints compiling from the start, when the build made one for this node.
const { startLint } = await import(new URL('src/cli/lint-script-cache.js', dist).href);
const compiling = startLint(new URL('lint/', dist));

const [dir, mode] = process.argv.slice(2);
if (!dir) throw new Error('usage: node bench/lib/lint-phases.mjs <dir> [parse-first]');
const begin = performance.now();
const { loadParser, parseSqlToJson, useCompiledParser } = await import(new URL('src/lint/parser.js', dist).href);
if (compiling) useCompiledParser(compiling);
const parserReady = loadParser().then(() => performance.now());
const [{ selectMigrations }, { lintMigrations }, { allRules }, { formatReport }] = await Promise.all([
  import(new URL('src/migrations/select.js', dist).href),
  import(new URL('src/lint/engine.js', dist).href),
  import(new URL('schema-checks/index.js', dist).href),
  import(new URL('src/lint/format/index.js', dist).href),
]);
const imported = performance.now();
const selection = await selectMigrations([dir], { cwd: process.cwd() });
const selected = performance.now();
const parser = await loadParser();
const ready = await parserReady;

function parseAll() {
  const at = performance.now();
  for (const file of [...selection.history, ...selection.files]) {
    try {
      parseSqlToJson(parser, file.sql);
    } catch {
      // A syntax error costs the same to find.
    }
  }
  return performance.now() - at;
}

const parseCold = mode === 'parse-first' ? parseAll() : undefined;
const options = { rules: allRules, history: selection.history, threads: 1 };
const lintStart = performance.now();
const report = await lintMigrations(selection.files, options);
const linted = performance.now();
formatReport(report, 'json');
const formatted = performance.now();
const parseWarm = parseAll();
const warmStart = performance.now();
await lintMigrations(selection.files, options);
const lintWarm = performance.now() - warmStart;

const round = (value) => (value === undefined ? undefined : Math.round(value * 10) / 10);
console.log(
  JSON.stringify({
    files: selection.files.length,
    start: round(start),
    imports: round(imported - begin),
    parserReady: round(ready - begin),
    select: round(selected - imported),
    lint: round(linted - lintStart),
    format: round(formatted - linted),
    parseCold: round(parseCold),
    parseWarm: round(parseWarm),
    lintWarm: round(lintWarm),
  }),
);
