/**
 * Worker thread of the parallel lint (parallel.ts): parses the second part of a large migration
 * while the main thread parses the first, then judges it once told the context the first part
 * leaves behind.
 */
import { parentPort } from 'node:worker_threads';
import { allRules } from '../../schema-checks/index.js';
import { FileContext } from './context.js';
import { buildDispatch, judgeStatements, wantedTypes, type Verdicts } from './judge.js';
import type { PartMessage, PartParse, PartReply } from './parallel.js';
import { loadParser, parseSqlToJson, SqlSyntaxError } from './parser.js';
import { SourceMap } from './source-map.js';
import { readStatements, type StatementList } from './statements.js';
import { readSuppressions } from './suppressions.js';
import type { Statement } from './types.js';

const port = parentPort;
if (!port) throw new Error('src/lint/lint-worker is a worker thread entry; start it with new Worker()');

const dispatch = buildDispatch(allRules);
const wanted = wantedTypes(dispatch);
const knownRuleIds = new Set(allRules.map((rule) => rule.id));
const parts = new Map<number, { request: PartParse; parsed: StatementList }>();

const reply = (message: PartReply) => port.postMessage(message);

port.on('message', (message: PartMessage) => {
  handle(message).catch((error: unknown) => reply({ id: message.id, type: 'failed', message: error instanceof Error ? error.message : String(error) }));
});

/** The part's statements numbered from the start of the file. */
function* renumbered(statements: Iterable<Statement>, before: number): Iterable<Statement> {
  for (const statement of statements) yield { ...statement, index: statement.index + before };
}

async function handle(message: PartMessage): Promise<void> {
  switch (message.type) {
    case 'parse': {
      const parser = await loadParser(message.wasm);
      const text = message.sql.slice(message.from);
      let json: string;
      try {
        json = parseSqlToJson(parser, text);
      } catch (error) {
        if (!(error instanceof SqlSyntaxError)) throw error;
        return reply({ id: message.id, type: 'parsed', ok: false });
      }
      parts.set(message.id, { request: message, parsed: readStatements(json, Buffer.byteLength(text), wanted) });
      return reply({ id: message.id, type: 'parsed', ok: true });
    }
    case 'lint': {
      const part = parts.get(message.id);
      parts.delete(message.id);
      if (!part) throw new Error(`no parsed part ${message.id} to lint`);
      const { request, parsed } = part;
      const map = new SourceMap(request.sql);
      const { suppressions } = readSuppressions(map, knownRuleIds);
      const context = FileContext.restore(request.settings, message.state);
      const verdicts: Verdicts = { findings: [], suppressed: [] };
      judgeStatements(renumbered(parsed, message.indexBase), context, dispatch, { path: request.path, map, suppressions }, request.fromByte, verdicts);
      return reply({
        id: message.id,
        type: 'linted',
        ...verdicts,
        usedSuppressionLines: suppressions.filter((suppression) => suppression.used).map((suppression) => suppression.line),
        count: parsed.count,
        state: context.snapshot(),
      });
    }
    case 'cancel':
      parts.delete(message.id);
      return;
  }
}
