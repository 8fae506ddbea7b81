// `node dist/bench/heap-summary.js <file.heapsnapshot> [--top 25] [--retainers NAME]`: where the
// bytes of a V8 heap snapshot go. Self sizes summed by node type and name (a constructor, or
// "(string)" / "(concatenated string)" / "(array)" / "(code)" …), the largest single objects, and
// the strings that repeat (count × size), from the snapshot's JSON alone (no Chromium DevTools).
// --owners sums every string, array and hidden node under the nearest object that holds it (through
// other strings and arrays), by that object's constructor and property: "what holds the bytes".
// --retainers NAME prints, for the 5 largest nodes named NAME, a path of retainers up to a root.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, retainers: { type: 'string' }, owners: { type: 'boolean' } },
});
const file = positionals[0];
if (!file) {
  process.stderr.write('usage: node dist/bench/heap-summary.js <file.heapsnapshot> [--top 25] [--retainers NAME]\n');
  process.exit(2);
}
interface Snapshot {
  snapshot: {
    meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] };
    node_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const fType = meta.node_fields.indexOf('type');
const fName = meta.node_fields.indexOf('name');
const fSize = meta.node_fields.indexOf('self_size');
const fEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const { nodes, edges, strings } = snap;
const count = nodes.length / nf;
const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;

const typeOf = (n: number) => nodeTypes[nodes[n * nf + fType]!]!;
/** A readable key: the constructor for objects, the type for strings, arrays, code and the rest. */
function keyOf(n: number): string {
  const t = typeOf(n);
  const name = strings[nodes[n * nf + fName]!]!;
  if (t === 'object' || t === 'closure' || t === 'native') return `${t === 'object' ? '' : `${t} `}${name}`;
  if (t === 'hidden' || t === 'synthetic') return `(${t}) ${name.slice(0, 40)}`;
  return `(${t})`;
}

let total = 0;
const byKey = new Map<string, { size: number; count: number }>();
const byType = new Map<string, number>();
const strs = new Map<string, { size: number; count: number }>();
for (let n = 0; n < count; n++) {
  const size = nodes[n * nf + fSize]!;
  total += size;
  const k = keyOf(n);
  const e = byKey.get(k) ?? { size: 0, count: 0 };
  e.size += size;
  e.count++;
  byKey.set(k, e);
  const t = typeOf(n);
  byType.set(t, (byType.get(t) ?? 0) + size);
  if (t === 'string' || t === 'sliced string' || t === 'concatenated string') {
    const s = strings[nodes[n * nf + fName]!]!;
    // Digits collapsed: "app_app4033-bench,…" and "app_app7274-bench,…" are one kind of string.
    const shape = s.replace(/[0-9]+/g, '#');
    const key = shape.length > 60 ? `${shape.slice(0, 60)}… (${s.length > 1000 ? `${s.length} chars` : 'long'})` : shape;
    const x = strs.get(key) ?? { size: 0, count: 0 };
    x.size += size;
    x.count++;
    strs.set(key, x);
  }
}
const top = Number(values.top);
const out = (s: string) => process.stdout.write(`${s}\n`);
out(`${file}: ${count} nodes, ${mb(total)} of self size`);
out('\nby node type:');
for (const [t, size] of [...byType].sort((a, b) => b[1] - a[1])) out(`  ${mb(size).padStart(9)}  ${t}`);
out(`\nby constructor / kind (top ${top}):`);
for (const [k, v] of [...byKey].sort((a, b) => b[1].size - a[1].size).slice(0, top)) out(`  ${mb(v.size).padStart(9)}  ${String(v.count).padStart(8)} × ${k}`);
out(`\nlargest single nodes (top ${Math.min(top, 15)}):`);
const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => nodes[b * nf + fSize]! - nodes[a * nf + fSize]!);
for (const n of order.slice(0, Math.min(top, 15))) {
  const name = strings[nodes[n * nf + fName]!]!;
  out(
    `  ${mb(nodes[n * nf + fSize]!).padStart(9)}  ${keyOf(n)} ${typeOf(n) === 'string' || typeOf(n) === 'concatenated string' ? JSON.stringify(name.slice(0, 60)) : ''}`,
  );
}
out(`\nstrings (flat, sliced, concatenated; digits as #) by total self size (top ${top}):`);
for (const [s, v] of [...strs].sort((a, b) => b[1].size - a[1].size).slice(0, top))
  out(`  ${mb(v.size).padStart(9)}  ${String(v.count).padStart(8)} × ${JSON.stringify(s)}`);

if (values.retainers || values.owners) {
  // Reverse edges, then a breadth-first walk from each node to the nearest root.
  const firstEdge = new Uint32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n]! + nodes[n * nf + fEdges]! * ef;
  const retainers: number[][] = Array.from({ length: count }, () => []);
  const edgeLabel = new Map<string, string>();
  for (let n = 0; n < count; n++) {
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) {
      const t = edgeTypes[edges[e + eType]!]!;
      if (t === 'weak' || t === 'shortcut') continue;
      const to = edges[e + eTo]! / nf;
      retainers[to]!.push(n);
      const label = t === 'element' || t === 'hidden' ? `[${edges[e + eName]}]` : strings[edges[e + eName]!]!;
      edgeLabel.set(`${n}>${to}`, label);
    }
  }
  if (values.owners) {
    const plain = new Set(['object', 'closure', 'native', 'synthetic']);
    const held = new Map<string, { size: number; count: number }>();
    for (let n = 0; n < count; n++) {
      const t = typeOf(n);
      if (plain.has(t) || t === 'code' || t === 'object shape') continue;
      // Up through strings, arrays and hidden nodes (first retainer each) to an object.
      let child = n;
      let at = retainers[n]![0];
      for (let hops = 0; at !== undefined && !plain.has(typeOf(at)) && hops < 20; hops++) {
        child = at;
        at = retainers[at]![0];
      }
      const key = at === undefined ? '(no retainer)' : `${keyOf(at)}.${edgeLabel.get(`${at}>${child}`) ?? '?'} ← ${keyOf(n)}`;
      const e = held.get(key) ?? { size: 0, count: 0 };
      e.size += nodes[n * nf + fSize]!;
      e.count++;
      held.set(key, e);
    }
    out(`\nstrings, arrays and hidden nodes by the object holding them (top ${top}):`);
    for (const [k, v] of [...held].sort((a, b) => b[1].size - a[1].size).slice(0, top))
      out(`  ${mb(v.size).padStart(9)}  ${String(v.count).padStart(8)} × ${k}`);
  }
  const wanted = values.retainers ? order.filter((n) => keyOf(n) === values.retainers || strings[nodes[n * nf + fName]!] === values.retainers).slice(0, 5) : [];
  for (const start of wanted) {
    const prev = new Map<number, number>([[start, -1]]);
    const queue = [start];
    let root = -1;
    while (queue.length && root < 0) {
      const n = queue.shift()!;
      for (const r of retainers[n]!) {
        if (prev.has(r)) continue;
        prev.set(r, n);
        if (r === 0 || typeOf(r) === 'synthetic') {
          root = r;
          break;
        }
        queue.push(r);
      }
    }
    const path: string[] = [];
    for (let n = root; n >= 0 && n !== start; ) {
      const next = prev.get(n)!;
      path.push(`${keyOf(n)} .${edgeLabel.get(`${n}>${next}`) ?? '?'}`);
      n = next;
    }
    out(`\n${mb(nodes[start * nf + fSize]!)} ${keyOf(start)} retained by: ${path.join(' → ')}`);
  }
}
