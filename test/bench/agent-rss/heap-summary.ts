/**
 * Summarises a V8 `.heapsnapshot` (as written by `node --heapsnapshot-signal`) for the
 * agent-rss bench: where the live JS heap goes, by node type and constructor name (self
 * sizes), and which single objects retain the most (retained sizes from the dominator
 * tree, as DevTools' "Retained Size" column).
 *
 * The format: `snapshot.meta` names the fields; `nodes` is a flat array of
 * `node_fields.length` numbers per node (`type` index, `name` string index, `id`,
 * `self_size`, `edge_count`, …); `edges` is a flat array of `edge_fields.length`
 * numbers per edge (`type`, `name_or_index`, `to_node` as an index into `nodes`), each
 * node's edges following the previous node's; node 0 is the synthetic root.
 */
import { readFileSync } from 'node:fs';

/** One row of a summary: a group (or an object) and its size in bytes. */
export interface HeapRow {
  name: string;
  bytes: number;
  /** Objects in the group (1 for a single object). */
  count: number;
}

export interface HeapSummary {
  /** Sum of all nodes' self sizes: the live heap after the GC the snapshot starts with. */
  totalBytes: number;
  nodeCount: number;
  /** Self size by node type (`object`, `string`, `code`, `array`, …). */
  byType: HeapRow[];
  /** Self size by type and name (constructor name for objects; strings folded by type). */
  byName: HeapRow[];
  /**
   * Objects (JS objects, closures, native objects) with the largest retained sizes,
   * each named `Constructor` or `Owner.property → Constructor` (the edge from its
   * immediate dominator when there is one). Nested: a retainer's parts appear too.
   */
  topRetainers: HeapRow[];
  /**
   * The outermost of the largest retainers (none dominated by another one listed), each
   * with what its retained set is made of: self size by type and name, as in `byName`.
   */
  composition: Array<{ owner: string; bytes: number; parts: HeapRow[] }>;
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Types whose name is content, not a constructor: folded into one row per type. */
const CONTENT_TYPES = new Set(['string', 'concatenated string', 'sliced string', 'number', 'bigint', 'symbol', 'regexp']);

function top(map: Map<string, { bytes: number; count: number }>, n: number): HeapRow[] {
  return [...map]
    .map(([name, v]) => ({ name, bytes: v.bytes, count: v.count }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, n);
}

/** Reads and summarises one snapshot file; `limit` rows per table (default 30). */
export function summariseHeapSnapshot(file: string, limit = 30): HeapSummary {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const meta = s.snapshot.meta;
  const NF = meta.node_fields.length;
  const EF = meta.edge_fields.length;
  const [T, NAME, SIZE, EC] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
  const [ET, ENAME, ETO] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
  if ([T, NAME, SIZE, EC, ET, ENAME, ETO].some((i) => i < 0)) throw new Error(`heap snapshot ${file}: unexpected meta fields`);
  const types = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = s;
  const n = nodes.length / NF;

  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0, e = 0; i < n; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + EC] * EF;
    firstEdge[i + 1] = e;
  }
  const typeOf = (i: number) => types[nodes[i * NF + T]];
  const nameOf = (i: number) => strings[nodes[i * NF + NAME]];
  const sizeOf = (i: number) => nodes[i * NF + SIZE];

  const byType = new Map<string, { bytes: number; count: number }>();
  const byName = new Map<string, { bytes: number; count: number }>();
  let total = 0;
  for (let i = 0; i < n; i++) {
    const t = typeOf(i);
    const size = sizeOf(i);
    total += size;
    const bt = byType.get(t) ?? { bytes: 0, count: 0 };
    bt.bytes += size;
    bt.count++;
    byType.set(t, bt);
    const key = CONTENT_TYPES.has(t) ? `(${t}s)` : `${t}: ${nameOf(i).slice(0, 80) || '(anonymous)'}`;
    const bn = byName.get(key) ?? { bytes: 0, count: 0 };
    bn.bytes += size;
    bn.count++;
    byName.set(key, bn);
  }

  // Dominators (Cooper, Harvey & Kennedy's iterative algorithm) over non-weak edges,
  // numbered in DFS postorder from the root.
  const weak = edgeTypes.indexOf('weak');
  const post = new Int32Array(n).fill(-1);
  const order = new Int32Array(n); // postorder index → node
  let count = 0;
  {
    const stack = new Int32Array(n);
    const cursor = new Uint32Array(n);
    const seen = new Uint8Array(n);
    let sp = 0;
    stack[sp++] = 0;
    seen[0] = 1;
    cursor[0] = firstEdge[0];
    while (sp > 0) {
      const v = stack[sp - 1];
      let pushed = false;
      while (cursor[v] < firstEdge[v + 1]) {
        const e = cursor[v];
        cursor[v] += EF;
        if (edges[e + ET] === weak) continue;
        const w = edges[e + ETO] / NF;
        if (seen[w]) continue;
        seen[w] = 1;
        cursor[w] = firstEdge[w];
        stack[sp++] = w;
        pushed = true;
        break;
      }
      if (!pushed) {
        sp--;
        post[v] = count;
        order[count++] = v;
      }
    }
  }
  // Predecessors of each reachable node, in CSR form.
  const predCount = new Uint32Array(n + 1);
  for (let v = 0; v < n; v++) {
    if (post[v] < 0) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) {
      if (edges[e + ET] === weak) continue;
      predCount[edges[e + ETO] / NF + 1]++;
    }
  }
  for (let i = 0; i < n; i++) predCount[i + 1] += predCount[i];
  const preds = new Int32Array(predCount[n]);
  const fill = predCount.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (post[v] < 0) continue;
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += EF) {
      if (edges[e + ET] === weak) continue;
      preds[fill[edges[e + ETO] / NF]++] = v;
    }
  }
  const idom = new Int32Array(count).fill(-1); // by postorder index
  const root = post[0];
  idom[root] = root;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (a < b) a = idom[a];
      while (b < a) b = idom[b];
    }
    return a;
  };
  for (let changed = true, rounds = 0; changed && rounds < 1000; rounds++) {
    changed = false;
    for (let p = count - 2; p >= 0; p--) {
      const v = order[p];
      let d = -1;
      for (let k = predCount[v]; k < predCount[v + 1]; k++) {
        const u = post[preds[k]];
        if (u < 0 || idom[u] < 0) continue;
        d = d < 0 ? u : intersect(u, d);
      }
      if (d >= 0 && idom[p] !== d) {
        idom[p] = d;
        changed = true;
      }
    }
  }
  // Postorder puts every node before its dominator: one pass sums the subtrees.
  const retained = new Float64Array(count);
  for (let p = 0; p < count; p++) retained[p] += sizeOf(order[p]);
  for (let p = 0; p < count; p++) if (p !== root && idom[p] >= 0) retained[idom[p]] += retained[p];

  const objectTypes = new Set(['object', 'closure', 'native']);
  const candidates: Array<{ p: number; bytes: number }> = [];
  for (let p = 0; p < count; p++) {
    const v = order[p];
    if (!objectTypes.has(typeOf(v)) || retained[p] < 64 * 1024) continue;
    candidates.push({ p, bytes: retained[p] });
  }
  candidates.sort((a, b) => b.bytes - a.bytes);
  const shown = (v: number) => {
    const name = nameOf(v);
    return name === 'system / Context' ? '(scope)' : name.slice(0, 60) || typeOf(v);
  };
  /** How `p` hangs off its immediate dominator: `.property` or `[index]`. */
  const via = (p: number) => {
    const v = order[p];
    const owner = order[idom[p]];
    for (let e = firstEdge[owner]; e < firstEdge[owner + 1]; e += EF) {
      if (edges[e + ETO] / NF !== v) continue;
      const et = edgeTypes[edges[e + ET]];
      return et === 'element' || et === 'hidden' ? `[${edges[e + ENAME]}]` : `.${strings[edges[e + ENAME]]}`;
    }
    return '';
  };
  const label = (p: number) => {
    const edge = via(p);
    return edge ? `${shown(order[idom[p]])}${edge} → ${shown(order[p])}` : shown(order[p]);
  };
  // A chain of wrappers (Sampler → its table → …, Buffer → ArrayBuffer → backing store)
  // is one row, named along the chain, while each link keeps nearly all of the size.
  const topRetainers: HeapRow[] = [];
  const rowOf = new Map<number, number>();
  const rowRoot: number[] = [];
  for (const { p, bytes } of candidates) {
    let a = idom[p];
    while (a !== root && a >= 0 && !rowOf.has(a)) a = idom[a];
    const r = rowOf.get(a);
    if (r !== undefined && bytes >= 0.97 * retained[a] && topRetainers[r].name.length < 160) {
      topRetainers[r].name += ` › ${via(p) || '…'} ${shown(order[p])}`;
      rowOf.set(p, r);
      continue;
    }
    if (topRetainers.length >= limit) continue;
    rowOf.set(p, topRetainers.length);
    rowRoot.push(p);
    topRetainers.push({ name: label(p), bytes, count: 1 });
  }

  const owners = new Set<number>();
  for (const p of rowRoot) {
    if (owners.size >= 4) break;
    let inside = false;
    for (let a = idom[p]; a !== root && a >= 0 && !inside; a = idom[a]) inside = owners.has(a);
    if (!inside) owners.add(p);
  }
  // Dominators come later in postorder: walking down from the root, each node inherits
  // its dominator's owner.
  const ownerOf = new Int32Array(count).fill(-1);
  const parts = new Map<number, Map<string, { bytes: number; count: number }>>([...owners].map((o) => [o, new Map()]));
  for (let p = count - 1; p >= 0; p--) {
    ownerOf[p] = owners.has(p) ? p : p === root || idom[p] < 0 ? -1 : ownerOf[idom[p]];
    if (ownerOf[p] < 0) continue;
    const v = order[p];
    const t = typeOf(v);
    const key = CONTENT_TYPES.has(t) ? `(${t}s)` : `${t}: ${nameOf(v).slice(0, 80) || '(anonymous)'}`;
    const m = parts.get(ownerOf[p])!;
    const row = m.get(key) ?? { bytes: 0, count: 0 };
    row.bytes += sizeOf(v);
    row.count++;
    m.set(key, row);
  }
  const composition = [...owners].map((o) => ({ owner: topRetainers[rowOf.get(o)!].name, bytes: retained[o], parts: top(parts.get(o)!, 8) }));

  return { totalBytes: total, nodeCount: n, byType: top(byType, limit), byName: top(byName, limit), topRetainers, composition };
}
