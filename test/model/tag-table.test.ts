// The tag table (src/model/tag-table.ts) against what derives from it: the group agreement of each
// tag through the whole model, the fuzzer's examples of each key, the docs' tag table
// (docs/tags.md; UPDATE_DOCS=1 rewrites it) and every `router.<key>` the docs name.
import t from 'tap';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildModel } from '../../src/model/build.js';
import { TAGS, TAG_KEYS, isRuntimeSetting, tagSpec, type TagKey } from '../../src/model/tag-table.js';
import { parseRouterTag, resolveTags } from '../../src/model/tags.js';
import { FEATURE_TAGS, INVALID_TAGS, MODEL_SETTINGS, VALID_TAGS } from '../property/fixtures.js';
import { mc } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const settings = MODEL_SETTINGS;
const examples = [...VALID_TAGS, ...FEATURE_TAGS];
const keyOf = (tag: string) => parseRouterTag(tag, settings);

function settingOf(tags: string[], key: TagKey): string {
  const spec = tagSpec(key);
  const resolved = resolveTags('probe', [mc('probe', 1, { tags })], settings).settings as Record<string, unknown>;
  return JSON.stringify(spec.setting === null ? null : resolved[spec.setting]);
}

/** Tags of `base` for other keys, plus `tag`. */
const withTag = (base: string[], key: TagKey, tag: string) => [...base.filter((b) => keyOf(b)?.key !== key), tag];

/** What a member needs beside the tag for the tag to mean something: the group, a tcp port, the tag it needs. */
function baseFor(key: TagKey): string[] {
  const spec = tagSpec(key);
  const base = ['router.group=grp', 'router.port=10001'];
  if (spec.scope === 'tcp') base.push('router.mode=tcp');
  const needed = spec.setting === null ? undefined : (spec.needs?.tag as TagKey | undefined);
  if (needed !== undefined && !base.some((tag) => keyOf(tag)?.key === needed)) {
    base.push(examples.find((tag) => keyOf(tag)?.key === needed && settingOf(withTag(base, needed, tag), needed) !== settingOf(base, needed))!);
  }
  return base;
}

t.test('every tag with a setting: group members must agree on it exactly when the table says so', async (t) => {
  for (const key of TAG_KEYS) {
    const spec = tagSpec(key);
    if (spec.setting === null || key === 'group') continue;
    const base = baseFor(key);
    const example = examples.find((tag) => keyOf(tag)?.key === key && settingOf(withTag(base, key, tag), key) !== settingOf(base, key));
    if (!t.ok(example, `router.${key}: the fuzzer has a value that changes the setting`)) continue;
    const model = buildModel({
      services: {
        a: [mc('a', 1, { tags: withTag(base, key, example!), createIndex: 1 })],
        b: [mc('b', 2, { tags: base, createIndex: 2 })],
      },
      claims: [],
      settings,
    });
    const rejected = model.rejections.filter((r) => r.kind === 'group' && r.service === 'b');
    const group = model.apps.find((a) => a.name === 'grp');
    if (spec.group === 'agree') {
      t.match(rejected, [{ reason: new RegExp(`app b disagrees with app a on ${spec.setting} `) }], `${example}: the member without it is rejected`);
      t.strictSame(
        group?.members?.map((m) => m.app),
        ['a'],
        `${example}: the group is served by the other member only`,
      );
    } else {
      t.strictSame(rejected, [], `${example}: each member keeps its own`);
      t.strictSame(
        group?.members?.map((m) => m.app),
        ['a', 'b'],
        `${example}: both members served`,
      );
    }
  }
});

t.test('a boolean tag set to false is the same setting as no tag: group members with and without it agree', async (t) => {
  for (const key of TAG_KEYS) {
    const spec = tagSpec(key);
    if (spec.setting === null || spec.allowed !== 'true, false') continue;
    const base = baseFor(key);
    const model = buildModel({
      services: {
        a: [mc('a', 1, { tags: [...base, `router.${key}=false`], createIndex: 1 })],
        b: [mc('b', 2, { tags: base, createIndex: 2 })],
      },
      claims: [],
      settings,
    });
    t.strictSame(
      model.apps.find((a) => a.name === 'grp')?.members?.map((m) => m.app),
      ['a', 'b'],
      `router.${key}=false`,
    );
  }
});

t.test('the fuzzer has a valid and an invalid value of every key', async (t) => {
  for (const key of TAG_KEYS) {
    t.ok(
      examples.some((tag) => keyOf(tag)?.ok === true && keyOf(tag)?.key === key),
      `router.${key}: a valid example`,
    );
    t.ok(
      INVALID_TAGS.some((tag) => {
        const p = keyOf(tag);
        return p?.ok === false && p.key === key;
      }),
      `router.${key}: an invalid example`,
    );
  }
});

t.test('the table is whole: needed tags exist, no setting changes at runtime today', async (t) => {
  for (const key of TAG_KEYS) {
    const spec = tagSpec(key);
    if (spec.setting === null) continue;
    if (spec.needs !== undefined) t.ok(Object.hasOwn(TAGS, spec.needs.tag), `router.${key} needs router.${spec.needs.tag}, a tag of the table`);
    t.equal(isRuntimeSetting(spec.setting), spec.runtime, `${spec.setting}: isRuntimeSetting reads the table`);
  }
});

/** Text for a table cell: `|` escaped, and `<` outside code spans (where it would start an HTML tag). */
const cell = (text: string) =>
  text
    .replace(/\|/g, '\\|')
    .split('`')
    .map((part, i) => (i % 2 === 0 ? part.replace(/</g, '&lt;') : part))
    .join('`');

/** The docs' tag table, from the table (sorted by key). */
function tagTable(): string {
  const rows = [...TAG_KEYS].sort().map((key) => {
    const spec = tagSpec(key);
    const values = spec.bare === undefined ? spec.allowed : `${spec.allowed} (bare \`router.${key}\` = \`${spec.bare}\`)`;
    const group = spec.setting === null ? 'each its own (a service of its own)' : spec.group === 'agree' ? 'must agree' : 'each its own';
    const runtime = spec.runtime ? 'runtime API' : 'reload';
    return `| [\`router.${key}\`](${spec.doc.page}) | ${spec.scope} | ${cell(values)} | ${cell(spec.doc.unset)} | ${group} | ${runtime} | ${cell(spec.doc.effect)} |`;
  });
  return ['| Tag | Apps | Values | Without the tag | Group members | A change | Effect |', '|---|---|---|---|---|---|---|', ...rows].join('\n');
}

const BEGIN = '<!-- tag table: generated from src/model/tag-table.ts; UPDATE_DOCS=1 npx tap test/model/tag-table.test.ts rewrites it -->';
const END = '<!-- end of the tag table -->';

t.test('docs/tags.md holds the table as it is', async (t) => {
  const path = join(root, 'docs', 'tags.md');
  const text = await readFile(path, 'utf8');
  const begin = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  t.ok(begin !== -1 && end > begin, 'docs/tags.md has the table markers');
  const wanted = `${text.slice(0, begin + BEGIN.length)}\n${tagTable()}\n${text.slice(end)}`;
  if (process.env.UPDATE_DOCS === '1' && wanted !== text) await writeFile(path, wanted);
  else t.equal(text, wanted, 'docs/tags.md matches the tag table (UPDATE_DOCS=1 to rewrite it)');
});

t.test('every router.<key> the docs name is a tag of the table', async (t) => {
  const docs = (await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => join('docs', f));
  const known = new Set<string>(TAG_KEYS);
  for (const file of [...docs, 'README.md']) {
    const text = await readFile(join(root, file), 'utf8');
    // `router.<key>` as a tag: after a backtick, quote, comma or space, not inside a longer name (`paas-router.service`).
    const named = new Set([...text.matchAll(/(?<![\w.-])router\.([a-z][a-z-]*[a-z])(?=[=`"',\s)<&]|$)/gm)].map((m) => m[1]!));
    const unknown = [...named].filter((key) => !known.has(key));
    t.strictSame(unknown, [], `${file}: no unknown router.* tag`);
  }
});
