// Which HAProxy the router drives, read once at start from `haproxy -v` and logged: the runtime API,
// the master CLI and the reload answer differ between branches (docs/haproxy-versions.md). A branch
// outside the tested range is a warning, not a refusal: the operator may know better, and
// `haproxy -c` still guards every configuration.
import { execFile } from 'node:child_process';
import { HaproxyVersionError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export interface HaproxyVersion {
  major: number;
  minor: number;
  /** The full version as HAProxy prints it, e.g. "3.2.26-1" or "2.6.12-1+deb12u4". */
  text: string;
}

/** The branches the test suite runs against (docs/haproxy-versions.md). */
export const SUPPORTED_BRANCHES = { oldest: '2.6', newest: '3.2' } as const;

/** First line of `haproxy -v`: "HAProxy version 3.2.26-1 2026/10/14 - https://haproxy.org/" ("HA-Proxy" before 2.1). */
export function parseHaproxyVersion(output: string): HaproxyVersion {
  const m = /^HA-?Proxy version ((\d+)\.(\d+)\S*)/m.exec(output);
  if (!m) throw new HaproxyVersionError(`cannot read a version in the output of haproxy -v: ${JSON.stringify(output.slice(0, 200))}`);
  return { major: Number(m[2]), minor: Number(m[3]), text: m[1]! };
}

const branchNumber = (major: number, minor: number) => major * 1_000 + minor;
const parseBranch = (branch: string) => branch.split('.').map(Number) as [number, number];

/** True for a version at least `branch` ("3.1"). */
export function atLeast(version: HaproxyVersion, branch: string): boolean {
  return branchNumber(version.major, version.minor) >= branchNumber(...parseBranch(branch));
}

export function supported(version: HaproxyVersion): boolean {
  return atLeast(version, SUPPORTED_BRANCHES.oldest) && !atLeast(version, nextBranch(SUPPORTED_BRANCHES.newest));
}

/** "3.2" → "3.3": every 3.2.x is supported, 3.3-dev is not. */
function nextBranch(branch: string): string {
  const [major, minor] = parseBranch(branch);
  return `${major}.${minor + 1}`;
}

export function readHaproxyVersion(bin: string): Promise<HaproxyVersion> {
  return new Promise((resolve, reject) => {
    execFile(bin, ['-v'], { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) return reject(new HaproxyVersionError(`cannot run "${bin} -v": ${errorMessage(err)}`, { cause: err }));
      try {
        resolve(parseHaproxyVersion(`${stdout}${stderr}`));
      } catch (parseErr) {
        reject(parseErr);
      }
    });
  });
}

/** What the daemon logs about the version it found: info inside the supported range, else a warning. */
export function versionNotice(version: HaproxyVersion): { level: 'info' | 'warn'; message: string } {
  const { oldest, newest } = SUPPORTED_BRANCHES;
  if (supported(version)) return { level: 'info', message: `HAProxy ${version.text}` };
  return {
    level: 'warn',
    message: `HAProxy ${version.text} is outside the supported versions ${oldest} to ${newest}: the runtime API and the reload may behave differently (docs/haproxy-versions.md)`,
  };
}

/**
 * Logs the HAProxy version at start. Never throws: a `haproxy -v` that fails is a warning (the
 * first `haproxy -c` fails with the same cause and says so where the operator looks).
 */
export async function logHaproxyVersion(bin: string, log: Logger): Promise<HaproxyVersion | undefined> {
  try {
    const version = await readHaproxyVersion(bin);
    const notice = versionNotice(version);
    log[notice.level]({ haproxy: version.text, bin }, notice.message);
    return version;
  } catch (err) {
    log.warn({ bin, error: errorMessage(err) }, 'cannot tell which HAProxy runs');
    return undefined;
  }
}
