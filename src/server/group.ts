/**
 * `--group <name|gid>` → a group id. Node has no getgrnam(3), so a name is looked up with
 * `getent group` (which follows NSS: /etc/group, LDAP, sssd), falling back to /etc/group.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ServiceError } from './errors.js';

function fromGroupLine(line: string, name: string): number | undefined {
  const [groupName, , gid] = line.split(':');
  return groupName === name && gid !== undefined && /^\d+$/.test(gid) ? Number(gid) : undefined;
}

/** The gid of `group` (a name or a number); throws `E_BAD_GROUP`. */
export function resolveGroup(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  let lines: string[];
  try {
    lines = execFileSync('getent', ['group', group], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n');
  } catch {
    try {
      lines = readFileSync('/etc/group', 'utf8').split('\n');
    } catch {
      lines = [];
    }
  }
  for (const line of lines) {
    const gid = fromGroupLine(line, group);
    if (gid !== undefined) return gid;
  }
  throw new ServiceError('E_BAD_GROUP', `no group named '${group}' on this host`);
}
