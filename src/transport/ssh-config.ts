/**
 * The part of ssh_config(5) that decides where and as whom ship connects: Host and Match blocks,
 * HostName, User, Port, IdentityFile and ProxyJump, plus Include. Semantics follow OpenSSH: blocks
 * are read top to bottom, the first value obtained for a keyword wins (IdentityFile accumulates),
 * Host patterns take `*`, `?` and `!negation`.
 *
 * Written here instead of using the `ssh-config` package because that package neither follows
 * Include nor lets us decline `Match exec` (it runs the command); ship must not run programs while
 * reading a config. Match criteria other than `all`, `host` and `originalhost` are not evaluated:
 * such a block does not apply, and the result says so in `notes`.
 */
import { readdir, readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { matchesPattern, matchesPatternList } from './known-hosts.js';

export interface SshConfigResult {
  hostName?: string;
  user?: string;
  port?: number;
  /** In the order ssh would try them, with `~` and %-tokens expanded. */
  identityFiles: string[];
  /** Comma-separated jump list as written; absent when unset or `none`. */
  proxyJump?: string;
  /** Things in the config that were not applied, for the operator to see. */
  notes: string[];
}

interface State {
  alias: string;
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  proxyJump?: string;
  proxyJumpSet: boolean;
  notes: string[];
  depth: number;
}

const MAX_INCLUDE_DEPTH = 16;

/** Resolves `alias` (what ship was told to connect to) through the ssh config at `path`. */
export async function resolveSshConfig(alias: string, path: string): Promise<SshConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { identityFiles: [], notes: [] };
    throw new Error(`cannot read ssh config ${path}: ${(error as Error).message}`);
  }
  return resolveSshConfigText(alias, text, path);
}

export async function resolveSshConfigText(alias: string, text: string, path: string): Promise<SshConfigResult> {
  const state: State = { alias: alias.toLowerCase(), identityFiles: [], proxyJumpSet: false, notes: [], depth: 0 };
  await evaluate(text, path, dirname(path), state, true);
  const user = state.user;
  return {
    ...(state.hostName !== undefined ? { hostName: expandTokens(state.hostName, state, user, 'HostName') } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(state.port !== undefined ? { port: state.port } : {}),
    identityFiles: state.identityFiles.map((file) => expandPath(expandTokens(file, state, user, 'IdentityFile'))),
    ...(state.proxyJump !== undefined ? { proxyJump: state.proxyJump } : {}),
    notes: state.notes,
  };
}

/**
 * `active` is whether the enclosing block (for an Include) applies. Lines before the first Host or
 * Match apply to every host, as in OpenSSH.
 */
async function evaluate(text: string, path: string, includeBase: string, state: State, enclosingActive: boolean): Promise<void> {
  let active = enclosingActive;
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const where = `${path}:${index + 1}`;
    const parsed = splitDirective(lines[index] ?? '', where);
    if (!parsed) continue;
    const { keyword, args } = parsed;
    switch (keyword) {
      case 'host':
        active = enclosingActive && matchesPatternList(state.alias, args);
        break;
      case 'match':
        active = enclosingActive && matchBlock(args, state, where);
        break;
      case 'include':
        if (!active) break;
        if (state.depth >= MAX_INCLUDE_DEPTH) throw new Error(`${where}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (a loop?)`);
        for (const file of await expandInclude(args, includeBase)) {
          const included = await readFile(file, 'utf8').catch(() => undefined);
          if (included === undefined) continue; // OpenSSH skips Include targets that do not exist
          state.depth++;
          await evaluate(included, file, includeBase, state, true);
          state.depth--;
        }
        break;
      default:
        if (active) apply(keyword, args, state, where);
    }
  }
}

function apply(keyword: string, args: string[], state: State, where: string): void {
  const value = args[0];
  if (value === undefined) throw new Error(`${where}: ${keyword} needs a value`);
  switch (keyword) {
    case 'hostname':
      state.hostName ??= value;
      break;
    case 'user':
      state.user ??= value;
      break;
    case 'port': {
      if (state.port !== undefined) break;
      const port = Number(value);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${where}: Port must be 1-65535, got ${value}`);
      state.port = port;
      break;
    }
    case 'identityfile':
      if (value.toLowerCase() !== 'none') state.identityFiles.push(value);
      break;
    case 'proxyjump':
      if (state.proxyJumpSet) break;
      state.proxyJumpSet = true;
      if (value.toLowerCase() !== 'none') state.proxyJump = value;
      break;
    default:
      break; // other keywords do not change where or as whom ship connects
  }
}

function matchBlock(args: string[], state: State, where: string): boolean {
  let result = true;
  for (let i = 0; i < args.length; i++) {
    let criterion = (args[i] ?? '').toLowerCase();
    const negated = criterion.startsWith('!');
    if (negated) criterion = criterion.slice(1);
    if (criterion === 'all') continue;
    const patterns = args[++i];
    if (criterion !== 'host' && criterion !== 'originalhost') {
      state.notes.push(`${where}: Match ${criterion} is not evaluated by ship; that block was not applied`);
      return false;
    }
    if (patterns === undefined) throw new Error(`${where}: Match ${criterion} needs a pattern list`);
    const name = criterion === 'host' ? (state.hostName ?? state.alias) : state.alias;
    if (matchesPatternList(name, patterns.split(',')) === negated) result = false;
  }
  return result;
}

/** Splits `Keyword value...` or `Keyword=value`, honouring double quotes; null for blanks and comments. */
function splitDirective(line: string, where: string): { keyword: string; args: string[] } | null {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return null;
  const match = /^(\S+?)(?:\s*=\s*|\s+)(.*)$/.exec(trimmed);
  if (!match) return { keyword: trimmed.toLowerCase(), args: [] };
  const args: string[] = [];
  const pattern = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  const rest = match[2] ?? '';
  if ((rest.match(/"/g)?.length ?? 0) % 2 !== 0) throw new Error(`${where}: unbalanced quotes`);
  for (m = pattern.exec(rest); m; m = pattern.exec(rest)) args.push(m[1] ?? m[2] ?? '');
  return { keyword: (match[1] ?? '').toLowerCase(), args };
}

async function expandInclude(args: string[], base: string): Promise<string[]> {
  const files: string[] = [];
  for (const arg of args) {
    const expanded = expandPath(arg);
    const full = isAbsolute(expanded) ? expanded : join(base, expanded);
    const name = basename(full);
    if (!/[*?]/.test(name)) {
      files.push(full);
      continue;
    }
    const entries = await readdir(dirname(full)).catch(() => [] as string[]);
    files.push(
      ...entries
        .filter((e) => matchesPattern(e, name))
        .sort()
        .map((e) => join(dirname(full), e)),
    );
  }
  return files;
}

function expandPath(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

/** The %-tokens that make sense for HostName and IdentityFile (ssh_config(5) TOKENS). */
function expandTokens(value: string, state: State, user: string | undefined, keyword: string): string {
  return value.replace(/%(.)/g, (whole, token: string) => {
    switch (token) {
      case '%':
        return '%';
      case 'h':
        return state.hostName && keyword !== 'HostName' ? state.hostName : state.alias;
      case 'n':
        return state.alias;
      case 'd':
        return homedir();
      case 'u':
        return userInfo().username;
      case 'r':
        return user ?? userInfo().username;
      case 'p':
        return String(state.port ?? 22);
      default:
        throw new Error(`${keyword} ${value}: token ${whole} is not supported by ship`);
    }
  });
}

/** Default identities ssh tries when the config names none (ssh_config(5) IdentityFile). */
export function defaultIdentityFiles(): string[] {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((name) => resolve(homedir(), '.ssh', name));
}
