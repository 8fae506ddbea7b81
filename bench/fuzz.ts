// npm run fuzz: property-based fuzzing of the model and the renderer (see test/property/).
//
//   npm run fuzz                         10 000 cases, random seed, haproxy -c on every 10th case
//   npm run fuzz -- --seed 123           replay a run
//   npm run fuzz -- --cases 50000 --all  haproxy -c on every case
//   npm run fuzz -- --haproxy-every 5    haproxy -c on every 5th case
//   npm run fuzz -- --sequences 20000    incremental == scratch on 20 000 event sequences (default 10 000)
//   npm run fuzz -- --claims 20000       ownership: 20 000 sequences of hostile tenants (default 5 000)
//
// Each case is a random Consul catalog + K/V claims, one piece of hostile input, a sequence of
// Consul events and render settings; every property of test/property/support.ts is checked on it.
// Every failure is counted; the first one of each property is then replayed and shrunk by
// fast-check to a small counterexample. Exit code 1 on any failure.
import fc from 'fast-check';

import { loadTemplates } from '../src/sources/files/templates-source.js';
import { SHIPPED_TEMPLATES_DIR } from '../src/paths.js';
import { renderFiles } from '../src/render/render.js';
import { caseArb, renderOptionsArb, type FuzzCase } from '../test/property/fixtures.js';
import { incrementalCaseArb, runIncremental } from '../test/property/incremental/support.js';
import { checkAuthRendered, checkFeatures, checkTenantRendered, featureInputArb } from '../test/property/features-support.js';
import { claimSequenceArb, runClaimSequence } from '../test/property/claims-support.js';
import {
  HAPROXY,
  checkDeterminism,
  InvalidConfigFailure,
  PropertyFailure,
  haproxyCheck,
  makeWorkDir,
  newStats,
  nextConfigDir,
  renderSettings,
  runCase,
  type CaseStats,
  type RenderPaths,
} from '../test/property/support.js';

interface Options {
  cases: number;
  sequences: number;
  /** Feature cases (groups, paths, redirects, allow-lists, router.auth with Vault entries). */
  features: number;
  /** Ownership sequences (claims-support.ts): no app loses a name it holds to a later claimant. */
  claims: number;
  seed: number;
  haproxyEvery: number;
}

function usage(message: string): never {
  console.error(`fuzz: ${message}\nusage: npm run fuzz -- [--cases N] [--sequences N] [--features N] [--claims N] [--seed S] [--all | --haproxy-every K]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    cases: 10_000,
    sequences: 10_000,
    features: 5_000,
    claims: 5_000,
    seed: (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0,
    haproxyEvery: 10,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v)) usage(`${arg} needs an integer`);
      return v;
    };
    if (arg === '--cases') opts.cases = value();
    else if (arg === '--seed') opts.seed = value();
    else if (arg === '--sequences') opts.sequences = value();
    else if (arg === '--features') opts.features = value();
    else if (arg === '--claims') opts.claims = value();
    else if (arg === '--haproxy-every') opts.haproxyEvery = value();
    else if (arg === '--all') opts.haproxyEvery = 1;
    else if (arg === '--help' || arg === '-h') usage('help');
    else usage(`unknown argument ${arg}`);
  }
  if (opts.cases < 1 || opts.haproxyEvery < 0) usage('--cases must be >= 1 and --haproxy-every >= 0 (0: never)');
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const templates = await loadTemplates(SHIPPED_TEMPLATES_DIR);
const work = await makeWorkDir();
const paths = (): RenderPaths => ({ configDir: nextConfigDir(work.dir), crtList: work.crtList });

console.log(
  `fuzz: ${opts.cases} cases, seed ${opts.seed}, haproxy -c (${HAPROXY}) ` +
    (opts.haproxyEvery === 0 ? 'never' : opts.haproxyEvery === 1 ? 'on every case' : `on every ${opts.haproxyEvery}th case`),
);
console.log(`replay: npm run fuzz -- --seed ${opts.seed} --cases ${opts.cases}${opts.haproxyEvery === 1 ? ' --all' : ''}`);

/** Runs every property on one case; haproxy -c when `withHaproxy`. Throws the first failure. */
async function runOne(c: FuzzCase, withHaproxy: boolean, stats?: CaseStats): Promise<void> {
  const { files, settings } = runCase(templates, c, withHaproxy ? paths() : undefined, stats);
  if (withHaproxy) await haproxyCheck(files, settings.configDir);
}

const stats = newStats();
const failures = new Map<string, { count: number; first: number }>();
let index = 0;
let haproxyRuns = 0;
let invalidConfigs = 0;
const started = performance.now();
let lastReport = started;

// Main pass: never stops, so every failure is counted. fc.check with the same seed generates the
// same cases in the same order, which is what lets the replay below find case `first` again.
await fc.check(
  fc.asyncProperty(caseArb, async (c) => {
    const i = index++;
    const withHaproxy = opts.haproxyEvery > 0 && i % opts.haproxyEvery === 0;
    try {
      await runOne(c, withHaproxy, stats);
    } catch (err) {
      const property = err instanceof PropertyFailure ? err.property : 'unexpected exception';
      if (err instanceof InvalidConfigFailure) invalidConfigs++;
      const entry = failures.get(property) ?? { count: 0, first: i };
      entry.count++;
      failures.set(property, entry);
    } finally {
      if (withHaproxy) haproxyRuns++;
    }
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      console.log(`  ... ${index} cases, ${((lastReport - started) / 1000).toFixed(0)} s`);
    }
    return true;
  }),
  { seed: opts.seed, numRuns: opts.cases },
);
const elapsed = (performance.now() - started) / 1000;

const kinds = Object.entries(stats.rejections)
  .sort(([a], [b]) => (a < b ? -1 : 1))
  .map(([k, n]) => `${k} ${n}`)
  .join(', ');
const failed = [...failures.values()].reduce((n, f) => n + f.count, 0);
console.log('');
console.log(`cases fuzzed:           ${index} (${stats.models} models built, ${stats.apps} apps, ${stats.hosts} hosts)`);
console.log(`haproxy -c runs:        ${haproxyRuns}`);
console.log(`invalid configs:        ${invalidConfigs}`);
console.log(`property failures:      ${failed - invalidConfigs}${failures.size ? ` (${[...failures].map(([p, f]) => `${p}: ${f.count}`).join('; ')})` : ''}`);
console.log(`rejections by kind:     ${kinds || 'none'}`);
console.log(`elapsed:                ${elapsed.toFixed(1)} s (${((elapsed * 1000) / index).toFixed(2)} ms/case)`);

// Replay the first failing case of each property with shrinking: every check runs (haproxy -c too).
for (const [property, { first }] of failures) {
  console.log(`\n--- ${property}: shrinking case ${first} ---`);
  // Only this property counts as a failure while shrinking, so the counterexample stays on topic.
  const details = await fc.check(
    fc.asyncProperty(caseArb, async (c) => {
      try {
        await runOne(c, property === 'haproxy -c');
      } catch (err) {
        const p = err instanceof PropertyFailure ? err.property : 'unexpected exception';
        if (p === property) throw err;
      }
    }),
    { seed: opts.seed, path: String(first), numRuns: 1 },
  );
  if (!details.failed) {
    console.log('(the case passed when replayed alone)');
    continue;
  }
  const err = details.errorInstance;
  console.log(`after ${details.numShrinks} shrinks:`);
  console.log(err instanceof Error ? err.message : String(err));
  console.log('counterexample:');
  // Long strings (the 100 KB K/V values) are cut so the counterexample stays readable.
  console.log(fc.stringify(details.counterexample?.[0]).replace(/"((?:[^"\\]|\\.){400,}?)"/g, (m) => `${m.slice(0, 300)}..." /* ${m.length} chars */`));
  if (err instanceof InvalidConfigFailure) console.log(`rendered haproxy.cfg:\n${err.config}`);
}

const incrementalFailed = await fuzzIncremental();
const featuresFailed = await fuzzFeatures();
const claimsFailed = await fuzzClaims();
await work.cleanup();
process.exit(failures.size > 0 || incrementalFailed || featuresFailed || claimsFailed ? 1 : 0);

/** Ownership: `--claims` sequences of hostile tenants' registrations and K/V writes, two routers recording. */
async function fuzzClaims(): Promise<boolean> {
  let n = 0;
  const begun = performance.now();
  const details = await fc.check(
    fc.property(claimSequenceArb, (events) => {
      n++;
      runClaimSequence(events);
    }),
    { seed: opts.seed, numRuns: opts.claims },
  );
  return reportPass(`ownership sequences:    ${n}`, 0, begun, details);
}

/**
 * The feature tags (kept out of caseArb: its oracles do not know groups and paths) and router.auth
 * entries from Vault, on `--features` cases: deterministic, the feature invariants, a router.auth
 * app always asks for credentials or answers 503, every `--haproxy-every`th through `haproxy -c`.
 */
async function fuzzFeatures(): Promise<boolean> {
  let n = 0;
  let checked = 0;
  let withAuth = 0;
  const begun = performance.now();
  const details = await fc.check(
    fc.asyncProperty(featureInputArb, fc.integer(), renderOptionsArb, async (input, seed, render) => {
      const model = checkDeterminism(input, seed);
      checkFeatures(model);
      const configDir = nextConfigDir(work.dir);
      const settings = renderSettings(model, render, { configDir, crtList: work.crtList });
      const files = renderFiles(templates, model, settings);
      checkAuthRendered(model, files['haproxy.cfg']!);
      checkTenantRendered(model, files['haproxy.cfg']!);
      if (model.apps.some((a) => a.auth)) withAuth++;
      if (opts.haproxyEvery > 0 && n % opts.haproxyEvery === 0) {
        await haproxyCheck(files, configDir);
        checked++;
      }
      n++;
    }),
    { seed: opts.seed, numRuns: opts.features },
  );
  return reportPass(`feature cases:          ${n} (${withAuth} with router.auth apps)`, checked, begun, details);
}

/** The end of a pass that stops at its first failure: counts, time, and the shrunk counterexample. */
function reportPass<T extends unknown[]>(title: string, haproxyRuns: number, begun: number, details: fc.RunDetails<T>): boolean {
  console.log('');
  console.log(title);
  console.log(`  haproxy -c runs:      ${haproxyRuns}`);
  console.log(`  elapsed:              ${((performance.now() - begun) / 1000).toFixed(1)} s`);
  if (details.failed) {
    const err = details.errorInstance;
    console.log(`  FAILED after ${details.numShrinks} shrinks: ${err instanceof Error ? err.message : String(err)}`);
    console.log(`  counterexample: ${fc.stringify(details.counterexample?.[0]).slice(0, 4000)}`);
  }
  return details.failed;
}

/**
 * Incremental == from scratch (test/property/incremental/support.ts) on `--sequences` event
 * sequences, the final state of every `--haproxy-every`th one through `haproxy -c` too.
 */
async function fuzzIncremental(): Promise<boolean> {
  let n = 0;
  let steps = 0;
  let checked = 0;
  const begun = performance.now();
  const details = await fc.check(
    fc.asyncProperty(incrementalCaseArb, async (c) => {
      const visited = runIncremental(templates, c);
      steps += c.steps.length;
      const last = visited.at(-1);
      if (last && opts.haproxyEvery > 0 && n % (opts.haproxyEvery * 10) === 0) {
        const configDir = nextConfigDir(work.dir);
        const settings = renderSettings(last.model, c.render, { configDir, crtList: work.crtList });
        await haproxyCheck(renderFiles(templates, last.model, settings), configDir);
        checked++;
      }
      n++;
    }),
    { seed: opts.seed, numRuns: opts.sequences },
  );
  return reportPass(
    `incremental sequences:  ${n} (${steps} steps; model, files and runtime plan equal a from-scratch build after each)`,
    checked,
    begun,
    details,
  );
}
