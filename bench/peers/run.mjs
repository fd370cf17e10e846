// run.mjs - the peers' half of `make bench-peers` (bench/peers.sh).
//
// It reads the inputs that bench/peers.c wrote (--in DIR: manifest.tsv,
// the term lists as Sluice accepted them, each corpus as 4 KiB outputs
// separated by NUL bytes, and the 100-character strings), and measures the
// npm peers on exactly those:
//
//   zh-sw10k    mint-filter (Aho-Corasick) with the 10k Chinese terms
//   en-ldnoobw  obscenity (with englishRecommendedTransformers),
//               leo-profanity and bad-words, each with LDNOOBW's terms
//               instead of its own list
//
// Each engine is timed in two modes: "detect", its cheapest yes/no call
// (mint.verify, matcher.hasMatch, leo.check, filter.isProfane), and
// "redact", the call that returns the text to release (mint.filter,
// TextCensor.applyTo over getAllMatches, leo.clean, filter.clean).
// Timing: calibration on the first outputs (which also warms the JIT); if
// a whole pass would take more than --pass seconds, every k-th output is
// kept so that it takes about that long (the row says how many bytes were
// read); then passes until --min-reps and --min-time (at most --max-reps),
// reporting the best pass by wall time (process.hrtime) and by CPU time
// (process.cpuUsage: user + system of the whole process, so V8's helper
// threads are counted).
//
// Recall: the same reference as bench/peers.c (every occurrence of every
// term, ASCII case folded, overlapping ones included; "word" when no ASCII
// letter or digit touches either end), in UTF-16 code units. An engine
// catches an occurrence when it masked every code unit of it that is not
// ASCII punctuation or space: for mint, leo and bad-words the redacted text
// (made with U+0001 as the mask character) is aligned with the input; for
// obscenity the match indices are used. The reference is also run over
// each whole corpus and printed (F rows) to be compared with peers.c's.
//
// Rows on stdout, tab-separated, as peers.c's (report.mjs reads both):
//   M engine mode set corpus units bytes reps best_wall_s best_cpu_s
//   K engine set corpus units bytes ref_plain caught_plain ref_word caught_word
//   F node-reference set corpus units bytes ref_plain ref_word
//   N key text

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const MASK = '\u0001';
// PEERS_SHOW_MISSES=1: each missed word occurrence to stderr, in context.
const SHOW_MISSES = process.env.PEERS_SHOW_MISSES === '1';

// ---- options ---------------------------------------------------------------

function parseArgs(argv) {
  const o = { in: null, minTime: 1.0, minReps: 3, maxReps: 30, pass: 0.5,
    recallSeconds: 5, only: null };
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    if (k === '--in') o.in = v;
    else if (k === '--min-time') o.minTime = Number(v);
    else if (k === '--min-reps') o.minReps = Number(v);
    else if (k === '--max-reps') o.maxReps = Number(v);
    else if (k === '--pass') o.pass = Number(v);
    else if (k === '--recall-seconds') o.recallSeconds = Number(v);
    else if (k === '--only') o.only = v.split(',');
    else throw new Error(`unknown option ${k}`);
  }
  if (!o.in) throw new Error('usage: node run.mjs --in DIR [--min-time S] ' +
    '[--min-reps N] [--max-reps N] [--pass S] [--recall-seconds S] ' +
    '[--only ENGINE,...]');
  return o;
}

function row(...fields) {
  process.stdout.write(fields.join('\t') + '\n');
}

// ---- inputs ----------------------------------------------------------------

// Outputs of one file: {s: string, bytes: UTF-8 length}.
function readPieces(path) {
  const buf = readFileSync(path);
  const out = [];
  let start = 0;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0) continue;
    out.push({ s: buf.toString('utf8', start, i), bytes: i - start });
    start = i + 1;
  }
  return out;
}

function readTerms(path) {
  return readFileSync(path, 'utf8').split('\n').filter((t) => t.length > 0);
}

function readManifest(dir) {
  const sets = new Map();
  for (const line of readFileSync(join(dir, 'manifest.tsv'), 'utf8').split('\n')) {
    if (!line) continue;
    const [set, corpus, file] = line.split('\t');
    if (!sets.has(set)) sets.set(set, { terms: null, inputs: [] });
    const s = sets.get(set);
    if (corpus === 'terms') s.terms = readTerms(join(dir, file));
    else s.inputs.push({ corpus, pieces: readPieces(join(dir, file)) });
  }
  return sets;
}

// ---- the reference matcher -------------------------------------------------

function asciiLower(s) {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function asciiAlnum(c) {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

// Terms bucketed by their first two code units (one-unit terms by theirs);
// at every position each term of the bucket is compared with startsWith.
class Reference {
  constructor(terms) {
    this.one = new Map();
    this.two = new Map();
    for (const t of terms) {
      const low = asciiLower(t);
      const map = low.length >= 2 ? this.two : this.one;
      const key = low.length >= 2 ? low.charCodeAt(0) * 65536 + low.charCodeAt(1)
        : low.charCodeAt(0);
      if (!map.has(key)) map.set(key, []);
      map.get(key).push(low);
    }
  }

  // Calls fn(start, end) for every occurrence in text.
  scan(text, fn) {
    const low = asciiLower(text);
    const n = low.length;
    for (let i = 0; i < n; i++) {
      const c0 = low.charCodeAt(i);
      const ones = this.one.get(c0);
      if (ones) for (let k = 0; k < ones.length; k++) fn(i, i + 1);
      if (i + 1 >= n) continue;
      const twos = this.two.get(c0 * 65536 + low.charCodeAt(i + 1));
      if (!twos) continue;
      for (const t of twos) if (low.startsWith(t, i)) fn(i, i + t.length);
    }
  }

  // Scores one output against mask (1 where the engine masked it).
  score(text, mask, acc) {
    this.scan(text, (s, e) => {
      let hit = true;
      for (let i = s; i < e && hit; i++) {
        const c = text.charCodeAt(i);
        if (!mask[i] && (c >= 0x80 || asciiAlnum(c))) hit = false;
      }
      const word = (s === 0 || !asciiAlnum(text.charCodeAt(s - 1))) &&
        (e === text.length || !asciiAlnum(text.charCodeAt(e)));
      if (SHOW_MISSES && word && !hit) {
        process.stderr.write(`run.mjs: ${acc.engine} missed '${text.slice(s, e)}' in: ` +
          `${text.slice(Math.max(0, s - 24), e + 24).replace(/\s+/g, ' ')}\n`);
      }
      acc.plain++;
      if (hit) acc.caughtPlain++;
      if (word) acc.word++;
      if (word && hit) acc.caughtWord++;
    });
  }
}

// Mask of text from its redacted form, where masked code units became MASK
// and some engines dropped characters (bad-words drops '_').
function alignMask(text, out) {
  const mask = new Uint8Array(text.length);
  let j = 0;
  for (let i = 0; i < text.length; i++) {
    if (j < out.length && out[j] === text[i]) j++;
    else if (j < out.length && out[j] === MASK) { mask[i] = 1; j++; }
  }
  return mask;
}

// ---- the peers -------------------------------------------------------------

function version(pkg) {
  return JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'),
    'utf8')).version;
}

async function makeEngines(set, terms) {
  if (set === 'zh-sw10k') {
    const { Mint } = require('mint-filter');
    const m = new Mint(terms, { customCharacter: MASK });
    return [{
      name: 'mint-filter', pkg: 'mint-filter',
      detect: (t) => m.verify(t),
      redact: (t) => m.filter(t).text,
      mask: (t) => alignMask(t, m.filter(t).text),
    }];
  }
  const ob = require('obscenity');
  const patterns = [];
  let refused = 0;
  for (const t of terms) {
    try {
      patterns.push(ob.parseRawPattern(t.replace(/[[\]?|\\]/g, '\\$&')));
    } catch {
      refused++;
    }
  }
  if (refused) row('N', 'obscenity', `${refused} terms its pattern parser refused`);
  const matcher = new ob.RegExpMatcher({
    blacklistedTerms: ob.assignIncrementingIds(patterns),
    ...ob.englishRecommendedTransformers,
  });
  const censor = new ob.TextCensor();
  const leo = require('leo-profanity');
  leo.clearList();
  leo.add(terms);
  const { Filter } = await import('bad-words');
  const bw = new Filter({ emptyList: true, placeHolder: MASK });
  bw.addWords(...terms);
  return [{
    name: 'obscenity', pkg: 'obscenity',
    detect: (t) => matcher.hasMatch(t),
    redact: (t) => censor.applyTo(t, matcher.getAllMatches(t)),
    mask: (t) => {
      const mask = new Uint8Array(t.length);
      for (const m of matcher.getAllMatches(t))
        for (let i = m.startIndex; i <= m.endIndex; i++) mask[i] = 1;
      return mask;
    },
  }, {
    name: 'leo-profanity', pkg: 'leo-profanity',
    detect: (t) => leo.check(t),
    redact: (t) => leo.clean(t),
    mask: (t) => alignMask(t, leo.clean(t, MASK)),
  }, {
    name: 'bad-words', pkg: 'bad-words',
    detect: (t) => bw.isProfane(t),
    redact: (t) => bw.clean(t),
    mask: (t) => alignMask(t, bw.clean(t)),
  }];
}

// ---- timing ----------------------------------------------------------------

const nowS = () => Number(process.hrtime.bigint()) / 1e9;
const cpuS = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

// Every k-th piece, k so that one pass of fn takes about `seconds`; the
// first pieces are run meanwhile (calibration, JIT warm-up).
function sample(pieces, fn, seconds) {
  const total = pieces.reduce((a, p) => a + p.bytes, 0);
  const t0 = nowS();
  let done = 0;
  let i = 0;
  for (; i < pieces.length && nowS() - t0 < Math.min(0.25, seconds); i++) {
    fn(pieces[i].s);
    done += pieces[i].bytes;
  }
  const speed = done / Math.max(nowS() - t0, 1e-6);
  if (i === pieces.length && nowS() - t0 <= seconds) return pieces;
  const k = Math.max(1, Math.ceil(total / (speed * seconds)));
  return pieces.filter((_, j) => j % k === 0);
}

function measure(pieces, fn, o) {
  const sel = sample(pieces, fn, o.pass);
  let bestWall = Infinity;
  let bestCpu = Infinity;
  let reps = 0;
  let sink = 0;
  for (const p of sel) if (fn(p.s)) sink++;            // warm-up pass
  const start = nowS();
  while (reps < o.maxReps && (reps < o.minReps || nowS() - start < o.minTime)) {
    const w0 = nowS();
    const c0 = cpuS();
    for (let i = 0; i < sel.length; i++) if (fn(sel[i].s)) sink++;
    const w = nowS() - w0;
    const c = cpuS() - c0;
    bestWall = Math.min(bestWall, w);
    bestCpu = Math.min(bestCpu, c > 0 ? c : w);
    reps++;
  }
  return { units: sel.length, bytes: sel.reduce((a, p) => a + p.bytes, 0),
    reps, wall: bestWall, cpu: bestCpu, sink };
}

function recall(ref, pieces, engine, o) {
  const sel = sample(pieces, engine.mask, o.recallSeconds);
  const acc = { engine: engine.name, plain: 0, caughtPlain: 0, word: 0, caughtWord: 0 };
  for (const p of sel) ref.score(p.s, engine.mask(p.s), acc);
  return { units: sel.length, bytes: sel.reduce((a, p) => a + p.bytes, 0), ...acc };
}

function referenceOnly(ref, pieces) {
  const acc = { plain: 0, word: 0 };
  for (const p of pieces) {
    ref.scan(p.s, (s, e) => {
      acc.plain++;
      if ((s === 0 || !asciiAlnum(p.s.charCodeAt(s - 1))) &&
          (e === p.s.length || !asciiAlnum(p.s.charCodeAt(e)))) acc.word++;
    });
  }
  return acc;
}

// ---- main ------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const sets = readManifest(o.in);
  row('N', 'node', `node ${process.version}`);
  for (const [set, s] of sets) {
    const ref = new Reference(s.terms);
    for (const inp of s.inputs) {
      const bytes = inp.pieces.reduce((a, p) => a + p.bytes, 0);
      const r = referenceOnly(ref, inp.pieces);
      row('F', 'node-reference', set, inp.corpus, inp.pieces.length, bytes,
        r.plain, r.word);
    }
    const t0 = nowS();
    const engines = await makeEngines(set, s.terms);
    row('N', set, `peers built in ${((nowS() - t0) * 1e3).toFixed(0)} ms ` +
      `(${s.terms.length} terms)`);
    for (const e of engines) {
      if (o.only && !o.only.includes(e.name)) continue;
      row('N', 'version', `${e.name} ${version(e.pkg)}`);
      for (const inp of s.inputs) {
        for (const mode of ['detect', 'redact']) {
          const m = measure(inp.pieces, e[mode], o);
          row('M', e.name, mode, set, inp.corpus, m.units, m.bytes, m.reps,
            m.wall.toFixed(6), m.cpu.toFixed(6));
          process.stderr.write(`  ${e.name.padEnd(14)} ${mode.padEnd(6)} ` +
            `${inp.corpus.padEnd(10)} ${(m.bytes / m.cpu / 1e6).toFixed(2)} MB/s cpu ` +
            `${(m.units / m.cpu).toFixed(0)} /s (${m.units} of ${inp.pieces.length})\n`);
        }
        const k = recall(ref, inp.pieces, e, o);
        row('K', e.name, set, inp.corpus, k.units, k.bytes, k.plain,
          k.caughtPlain, k.word, k.caughtWord);
      }
    }
  }
}

main().catch((err) => {
  process.stderr.write(`run.mjs: ${err.stack || err}\n`);
  process.exit(1);
});
