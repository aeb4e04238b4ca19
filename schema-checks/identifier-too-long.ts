import type { Constraint, Node } from 'libpg-query';
import { defineRule } from '../src/lint/define-rule.js';
import { columnConstraints, columnDefOf, constraintOf, stringList, tableCommands } from '../src/lint/ast.js';
import type { RuleHit, Statement } from '../src/lint/types.js';

/** NAMEDATALEN - 1: PostgreSQL cuts longer identifiers to this many bytes, with only a NOTICE. */
const MAX_BYTES = 63;
/** A cut at a character boundary leaves at least this many bytes (a 4-byte character straddling byte 63). */
const SHORTEST_CUT = MAX_BYTES - 3;

type Naming = Statement<
  | 'CreateStmt'
  | 'AlterTableStmt'
  | 'IndexStmt'
  | 'RenameStmt'
  | 'CreateSeqStmt'
  | 'ViewStmt'
  | 'CreateTableAsStmt'
  | 'CreateSchemaStmt'
  | 'CreateFunctionStmt'
  | 'CreateTrigStmt'
  | 'CreateEnumStmt'
  | 'CompositeTypeStmt'
  | 'CreateDomainStmt'
>;

const last = (names: readonly Node[] | undefined) => stringList(names).at(-1);

function constraintNames(constraints: readonly Constraint[]): Array<string | undefined> {
  return constraints.map((constraint) => constraint.conname);
}

/** The names the statement gives to new objects (not the ones it refers to), as the parser left them: already cut. */
function definedNames(statement: Naming): Array<string | undefined> {
  switch (statement.type) {
    case 'CreateStmt': {
      const names = [statement.node.relation?.relname];
      for (const element of statement.node.tableElts ?? []) {
        if ('ColumnDef' in element) names.push(element.ColumnDef.colname, ...constraintNames(columnConstraints(element.ColumnDef)));
        else if ('Constraint' in element) names.push(element.Constraint.conname);
      }
      return names;
    }
    case 'AlterTableStmt':
      return tableCommands(statement.node).commands.flatMap((command) => {
        const column = command.subtype === 'AT_AddColumn' ? columnDefOf(command) : undefined;
        if (column) return [column.colname, ...constraintNames(columnConstraints(column))];
        return command.subtype === 'AT_AddConstraint' ? [constraintOf(command)?.conname] : [];
      });
    case 'IndexStmt':
      return [statement.node.idxname];
    case 'RenameStmt':
      return [statement.node.newname];
    case 'CreateSeqStmt':
      return [statement.node.sequence?.relname];
    case 'ViewStmt':
      return [statement.node.view?.relname];
    case 'CreateTableAsStmt':
      return [statement.node.into?.rel?.relname];
    case 'CreateSchemaStmt':
      return [statement.node.schemaname];
    case 'CreateFunctionStmt':
      return [last(statement.node.funcname)];
    case 'CreateTrigStmt':
      return [statement.node.trigname];
    case 'CreateEnumStmt':
      return [last(statement.node.typeName)];
    case 'CompositeTypeStmt':
      return [statement.node.typevar?.relname];
    case 'CreateDomainStmt':
      return [last(statement.node.domainname)];
  }
}

/** The name as PostgreSQL keeps it: its first 63 bytes, cut back to a character boundary. */
function cut(name: string): string {
  const bytes = Buffer.from(name, 'utf8');
  if (bytes.length <= MAX_BYTES) return name;
  let end = MAX_BYTES;
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

// Comments, string constants and dollar quotes are skipped; quoted and plain identifiers are kept.
const TOKEN =
  /--[^\n]*|\/\*|[eE]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$|(?:[uU]&)?"((?:[^"]|"")*)"|([A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*)/g;

/** Identifiers longer than 63 bytes in the SQL, as written, with their character index in it. */
function longIdentifiers(sql: string): Array<{ written: string; name: string; index: number }> {
  const found: Array<{ written: string; name: string; index: number }> = [];
  TOKEN.lastIndex = 0;
  for (let match = TOKEN.exec(sql); match; match = TOKEN.exec(sql)) {
    const [token, quoted, plain] = match;
    if (token === '/*') {
      TOKEN.lastIndex = endOfBlockComment(sql, match.index);
    } else if (token.startsWith('$')) {
      // A dollar-quoted string runs to the same tag (`$1` parameters do not match the pattern).
      const close = sql.indexOf(token, TOKEN.lastIndex);
      TOKEN.lastIndex = close === -1 ? sql.length : close + token.length;
    } else {
      // Unquoted names are folded to lower case (ASCII letters only, as PostgreSQL does in UTF-8).
      const name = quoted !== undefined ? quoted.replace(/""/g, '"') : plain?.replace(/[A-Z]+/g, (upper) => upper.toLowerCase());
      if (name !== undefined && Buffer.byteLength(name, 'utf8') > MAX_BYTES)
        found.push({ written: quoted !== undefined ? `"${quoted}"` : (plain as string), name, index: match.index });
    }
  }
  return found;
}

function endOfBlockComment(sql: string, start: number): number {
  let depth = 0;
  const marks = /\/\*|\*\//g;
  marks.lastIndex = start;
  for (let mark = marks.exec(sql); mark; mark = marks.exec(sql)) {
    depth += mark[0] === '/*' ? 1 : -1;
    if (depth === 0) return marks.lastIndex;
  }
  return sql.length;
}

export default defineRule({
  id: 'identifier-too-long',
  category: 'hygiene',
  severity: 'warning',
  message:
    'PostgreSQL silently cuts names to 63 bytes: the object gets a shorter name than the migration says, code and tools that compare names with the catalog (a constraint name mapped to an error message, a schema diff) do not find it, and two long names with the same first 63 bytes collide.',
  safeAlternative: [
    '1. Choose a name of at most 63 bytes; characters outside ASCII take 2 to 4 bytes each.',
    '2. Abbreviate the generated parts: CREATE INDEX CONCURRENTLY orders_customer_created_idx ON orders (customer_id, created_at);',
  ].join('\n'),
  nodeTypes: [
    'CreateStmt',
    'AlterTableStmt',
    'IndexStmt',
    'RenameStmt',
    'CreateSeqStmt',
    'ViewStmt',
    'CreateTableAsStmt',
    'CreateSchemaStmt',
    'CreateFunctionStmt',
    'CreateTrigStmt',
    'CreateEnumStmt',
    'CompositeTypeStmt',
    'CreateDomainStmt',
  ],
  check(statement, context) {
    // The parser has already cut every name: only one of 60 to 63 bytes can be a cut one, and only then is the text read.
    const candidates = new Set(definedNames(statement).filter((name): name is string => name !== undefined && Buffer.byteLength(name, 'utf8') >= SHORTEST_CUT));
    if (candidates.size === 0) return [];
    const sql = context.statementText(statement);
    const hits: RuleHit[] = [];
    const reported = new Set<string>();
    for (const { written, name, index } of longIdentifiers(sql)) {
      const kept = cut(name);
      if (!candidates.has(kept) || reported.has(name)) continue;
      reported.add(name);
      hits.push({
        message: `${written} is ${Buffer.byteLength(name, 'utf8')} bytes: PostgreSQL cuts it to "${kept}" (${Buffer.byteLength(kept, 'utf8')} bytes), so the object is not named what this migration says.`,
        offset: statement.offset + Buffer.byteLength(sql.slice(0, index), 'utf8'),
      });
    }
    return hits;
  },
});
