/**
 * Worker thread of the parallel lint (parallel.ts): parses the later parts of a large migration,
 * one after another, and hands each part's parse tree back as soon as it is ready, while the main
 * thread judges the parts before it. The worker never judges: the rules need the context of every
 * statement before, which only the main thread has.
 */
import { parentPort } from 'node:worker_threads';
import type { ParseRequest, ParseReply } from './parallel.js';
import { loadParser, parseSqlToJson, SqlSyntaxError } from './parser.js';
import { splitPoints } from './split.js';
import { wantedRanges } from './statements.js';

const port = parentPort;
if (!port) throw new Error('src/lint/parse-worker is a worker thread entry; start it with new Worker()');

const reply = (message: ParseReply) => port.postMessage(message);

port.on('message', (message: ParseRequest) => {
  parseParts(message).catch((error: unknown) => reply({ id: message.id, type: 'failed', message: error instanceof Error ? error.message : String(error) }));
});

async function parseParts(request: ParseRequest): Promise<void> {
  const parser = await loadParser(request.wasm);
  const wanted = new Set(request.wanted);
  const { sql } = request;
  const cuts = [0, ...splitPoints(sql, request.fractions), sql.length];
  for (let part = 0; part + 1 < cuts.length; part++) {
    const text = sql.slice(cuts[part], cuts[part + 1]);
    let json: string;
    try {
      json = parseSqlToJson(parser, text);
    } catch (error) {
      if (!(error instanceof SqlSyntaxError)) throw error;
      return reply({ id: request.id, type: 'unparsable' });
    }
    const { ranges, count } = wantedRanges(json, wanted);
    reply({ id: request.id, type: 'part', json, byteLength: Buffer.byteLength(text), ranges, count, last: part + 2 === cuts.length });
  }
}
