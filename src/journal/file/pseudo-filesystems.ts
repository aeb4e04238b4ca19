/**
 * Whether a path lies on a pseudo-filesystem (/proc, /sys, /dev and their kin): the kernel's views
 * of processes, devices and settings, not storage. The state folder must never be there: on /proc
 * Node's recursive mkdir loops forever (a spinning CPU that ignores SIGTERM), and where writing
 * works (a devtmpfs as root) the journal is gone at the next boot.
 *
 * The mount table (/proc/self/mountinfo) names the filesystem type; where it cannot be read, the
 * type's magic number from statfs() still recognises most of them. devtmpfs shares tmpfs's magic
 * number, so only the mount table tells /dev from an ordinary tmpfs.
 */
import { readFile, realpath, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The filesystem types (as the mount table names them) that hold no files of ours. */
const PSEUDO_TYPES: ReadonlySet<string> = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'debugfs',
  'tracefs',
  'securityfs',
  'cgroup',
  'cgroup2',
  'bpf',
  'pstore',
  'configfs',
  'fusectl',
  'mqueue',
  'binfmt_misc',
  'efivarfs',
  'selinuxfs',
  'nsfs',
  'hugetlbfs',
  'rpc_pipefs',
]);

/** statfs() magic numbers (linux/magic.h) of the same types, for when the mount table is not readable. */
const PSEUDO_MAGIC: ReadonlyMap<number, string> = new Map([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0xcafe4a11, 'bpf'],
  [0x6165676c, 'pstore'],
  [0x62656570, 'configfs'],
  [0x65735543, 'fusectl'],
  [0x19800202, 'mqueue'],
  [0x42494e4d, 'binfmt_misc'],
  [0xde5e81e4, 'efivarfs'],
  [0xf97cff8c, 'selinuxfs'],
  [0x6e736673, 'nsfs'],
  [0x958458f6, 'hugetlbfs'],
]);

export interface PseudoFilesystem {
  type: string;
  /** Where it is mounted, when the mount table says. */
  mountPoint?: string;
}

/** The path itself, or its nearest ancestor that exists (the state folder may not exist yet). */
async function nearestExisting(path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    try {
      await stat(current);
      return current;
    } catch {
      if (dirname(current) === current) return current;
    }
  }
}

/** Mount points in the mount table escape space, tab, newline and backslash as octal. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

/** The mount that holds `path` (a real path): the longest mount point above it, the later one when stacked. */
function mountOf(mountinfo: string, path: string): { type: string; mountPoint: string } | undefined {
  let found: { type: string; mountPoint: string } | undefined;
  for (const line of mountinfo.split('\n')) {
    // id parent major:minor root mountpoint options [optional fields...] - type source super-options
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (fields.length < 5 || separator < 0 || separator + 1 >= fields.length) continue;
    const mountPoint = unescapeMountPath(fields[4]!);
    const type = fields[separator + 1]!;
    const inside = path === mountPoint || mountPoint === '/' || path.startsWith(`${mountPoint}/`);
    if (inside && (!found || mountPoint.length >= found.mountPoint.length)) found = { type, mountPoint };
  }
  return found;
}

/** The pseudo-filesystem `path` (or, if it does not exist yet, where it would be created) is on; undefined on a real one. */
export async function pseudoFilesystemOf(path: string): Promise<PseudoFilesystem | undefined> {
  const existing = await nearestExisting(path);
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => undefined);
  if (mountinfo !== undefined) {
    const mount = mountOf(mountinfo, await realpath(existing).catch(() => existing));
    if (mount) return PSEUDO_TYPES.has(mount.type) ? mount : undefined;
  }
  const info = await statfs(existing).catch(() => undefined);
  const type = info ? PSEUDO_MAGIC.get(info.type) : undefined;
  return type ? { type } : undefined;
}
