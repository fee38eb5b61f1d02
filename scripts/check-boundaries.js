#!/usr/bin/env node
// Checks the package boundaries of docs/architecture.md ("Who may import whom") on every
// workspace package's src/ and test/ files: who may import whom, imports only through
// `exports` maps, every berth import declared in package.json, and no cycles between
// packages. Plain Node, no dependencies, so it runs before `npm install` has finished
// building anything.
//
//   node scripts/check-boundaries.js [--root <monorepo>]
//
// Prints `file:line: import "x" — rule` per violation and exits 1; otherwise prints one
// summary line and exits 0.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const SOURCE_DIRS = ['src', 'test'];
const SOURCE_FILE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;
const SKIP_DIRS = new Set(['node_modules', 'dist', 'build']);

const CORE = '@berth/core';
const NATIVE = '@berth/native';
const TESTKIT = '@berth/testkit';
const CLIENT = '@berth/client';
const CLI = '@berth/cli';
/** The one module of core the CLI takes values from: the detach keys, free of core's DI. */
const CORE_DETACH_KEYS = '@berth/core/detach-keys';
const REGISTRY = '@berth/registry';
/** What a third-party volume-driver author builds on: plugins may use it as any outside author would. */
const VOLUME_KIT = '@berth/volume-kit';

/** The workspace packages named by the root package.json (`dir/*` globs or plain paths). */
function readWorkspace(root) {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const patterns = Array.isArray(rootPkg.workspaces) ? rootPkg.workspaces : (rootPkg.workspaces?.packages ?? []);
  const dirs = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('/*')) {
      const parent = path.join(root, pattern.slice(0, -2));
      if (!fs.existsSync(parent)) continue;
      for (const name of fs.readdirSync(parent).sort()) dirs.push(path.join(parent, name));
    } else {
      dirs.push(path.join(root, pattern));
    }
  }
  const packages = [];
  for (const dir of dirs) {
    const manifestPath = path.join(dir, 'package.json');
    if (!fs.existsSync(manifestPath)) continue;
    const text = fs.readFileSync(manifestPath, 'utf8');
    const manifest = JSON.parse(text);
    const rel = path.relative(root, dir);
    packages.push({
      name: manifest.name,
      dir,
      rel,
      manifestPath,
      manifestText: text,
      isPlugin: rel.split(path.sep)[0] === 'plugins',
      dependencies: { ...manifest.peerDependencies, ...manifest.optionalDependencies, ...manifest.dependencies },
      devDependencies: { ...manifest.devDependencies },
      exportKeys: exportKeys(manifest.exports),
    });
  }
  return packages;
}

/** The subpaths a package's `exports` field allows (`.`, `./testing`, `./x/*`); undefined: no map. */
function exportKeys(exports) {
  if (exports === undefined) return undefined;
  if (typeof exports === 'string' || Array.isArray(exports)) return ['.'];
  const keys = Object.keys(exports);
  // A map of conditions alone ({"import": ..., "default": ...}) exports only ".".
  return keys.some((k) => k.startsWith('.')) ? keys : ['.'];
}

function subpathAllowed(keys, subpath) {
  if (keys === undefined) return subpath === '.';
  return keys.some((key) => {
    const star = key.indexOf('*');
    if (star === -1) return key === subpath;
    return subpath.startsWith(key.slice(0, star)) && subpath.endsWith(key.slice(star + 1));
  });
}

function listSourceFiles(dir) {
  const files = [];
  const walk = (d) => {
    let entries;
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(path.join(d, e.name));
      } else if (SOURCE_FILE.test(e.name) && !e.name.endsWith('.d.ts')) {
        files.push(path.join(d, e.name));
      }
    }
  };
  walk(dir);
  return files;
}

const REGEX_AFTER = new Set([...'(,=:[!&|?{};+-*%<>~^']);
const REGEX_AFTER_WORD = /\b(?:return|typeof|case|do|else|in|of|new|delete|void|throw|instanceof|yield|await)$/;

/**
 * Blanks out comments and the insides of string, template and regex literals (keeping
 * every offset and newline), so patterns only match real code. Returns the masked text
 * and the string literals by the offset of their opening quote.
 */
function maskSource(text) {
  const out = text.split('');
  const strings = new Map();
  const blank = (from, to) => {
    for (let k = from; k < to; k++) if (out[k] !== '\n') out[k] = ' ';
  };
  let lastSignificant = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      blank(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      blank(i, stop);
      i = stop;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      strings.set(i, text.slice(i + 1, j));
      blank(i + 1, j);
      i = j + 1;
      lastSignificant = 'a';
    } else if (c === '`') {
      let j = i + 1;
      let depth = 0;
      while (j < n) {
        if (text[j] === '\\') j += 2;
        else if (depth === 0 && text[j] === '`') break;
        else if (text[j] === '$' && text[j + 1] === '{') {
          depth++;
          j += 2;
        } else {
          if (text[j] === '}' && depth > 0) depth--;
          j++;
        }
      }
      blank(i + 1, j);
      i = j + 1;
      lastSignificant = 'a';
    } else if (
      c === '/' &&
      (lastSignificant === '' || REGEX_AFTER.has(lastSignificant) || REGEX_AFTER_WORD.test(text.slice(Math.max(0, i - 12), i).trimEnd()))
    ) {
      let j = i + 1;
      let inClass = false;
      while (j < n && text[j] !== '\n') {
        if (text[j] === '\\') {
          j += 2;
          continue;
        }
        if (text[j] === '/' && !inClass) break;
        if (text[j] === '[') inClass = true;
        else if (text[j] === ']') inClass = false;
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
      lastSignificant = 'a';
    } else {
      if (!/\s/.test(c)) lastSignificant = /[\w$)\]]/.test(c) ? (c === ')' || c === ']' ? c : 'a') : c;
      i++;
    }
  }
  return { masked: out.join(''), strings };
}

const IMPORT_PATTERNS = [
  // import x from '...'; import { a, type b } from '...'; import type X from '...'; import '...'
  { kind: 'static', re: /(?<![\w$.])import\s+(type\s+)?((?:[\w$]+\s*,?\s*)?(?:\*\s*as\s+[\w$]+|\{[^}]*\})?\s*from\s*)?(['"])/g },
  // export * from '...'; export { a } from '...'; export type { A } from '...'
  { kind: 'static', re: /(?<![\w$.])export\s+(type\s+)?((?:\*(?:\s*as\s+[\w$]+)?|\{[^}]*\})\s*from\s*)(['"])/g },
  // import x = require('...')
  { kind: 'require', re: /(?<![\w$.])import\s+[\w$]+\s*=\s*require\s*\(\s*(['"])/g },
  { kind: 'dynamic', re: /(?<![\w$.])import\s*\(\s*(['"])/g },
  { kind: 'require', re: /(?<![\w$.])require\s*\(\s*(['"])/g },
];

/** Every module specifier a file imports, with its line and whether it is for types only. */
function findImports(text) {
  const { masked, strings } = maskSource(text);
  const found = new Map();
  for (const { kind, re } of IMPORT_PATTERNS) {
    re.lastIndex = 0;
    for (let m = re.exec(masked); m; m = re.exec(masked)) {
      const quoteAt = m.index + m[0].length - 1;
      const specifier = strings.get(quoteAt);
      if (specifier === undefined || found.has(quoteAt)) continue;
      let typeOnly = false;
      if (kind === 'dynamic') {
        // `typeof import('x')` and `import('x').Type` are types, not loads.
        const after = masked.slice(quoteAt + specifier.length + 2, quoteAt + specifier.length + 40);
        typeOnly = /typeof\s*$/.test(masked.slice(Math.max(0, m.index - 12), m.index)) || /^\s*\)\s*\.\s*[A-Z]/.test(after);
      } else if (kind === 'static') {
        const clause = m[2] ?? '';
        if (m[1]) typeOnly = true;
        else {
          const braces = /^\{([^}]*)\}\s*from/.exec(clause.trim());
          const names = braces
            ? braces[1]
                .split(',')
                .map((s) => s.trim())
                .filter(Boolean)
            : [];
          typeOnly = names.length > 0 && names.every((s) => s.startsWith('type '));
        }
      }
      const line = text.slice(0, m.index).split('\n').length;
      found.set(quoteAt, { specifier, line, kind, typeOnly });
    }
  }
  return [...found.values()].sort((a, b) => a.line - b.line);
}

function packageNameOf(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

function lineOf(text, needle) {
  const at = text.indexOf(needle);
  return at === -1 ? 1 : text.slice(0, at).split('\n').length;
}

/** Runs every rule over a monorepo; returns the violations and what was checked. */
function checkBoundaries(root) {
  const packages = readWorkspace(root);
  const byName = new Map(packages.map((p) => [p.name, p]));
  const violations = [];
  const edges = new Map(packages.map((p) => [p.name, new Map()]));
  // An edge remembers where it comes from: the first import, else the package.json entry.
  const addEdge = (from, to, where) => {
    if (from === to) return;
    const known = edges.get(from).get(to);
    if (!known || (known.via !== 'import' && where.via === 'import')) edges.get(from).set(to, where);
  };
  let fileCount = 0;
  let importCount = 0;

  for (const pkg of packages) {
    for (const [dep, field] of [
      ...Object.keys(pkg.dependencies).map((d) => [d, 'dependencies']),
      ...Object.keys(pkg.devDependencies).map((d) => [d, 'devDependencies']),
    ]) {
      if (byName.has(dep)) {
        addEdge(pkg.name, dep, {
          file: path.relative(root, pkg.manifestPath),
          line: lineOf(pkg.manifestText, `"${dep}"`),
          specifier: dep,
          via: field,
        });
      }
    }

    for (const sub of SOURCE_DIRS) {
      const isTest = sub === 'test';
      for (const file of listSourceFiles(path.join(pkg.dir, sub))) {
        fileCount++;
        const rel = path.relative(root, file);
        const report = (imp, rule) => violations.push({ file: rel, line: imp.line, specifier: imp.specifier, rule });
        for (const imp of findImports(fs.readFileSync(file, 'utf8'))) {
          importCount++;
          const spec = imp.specifier;
          if (spec.startsWith('.')) {
            const target = path.resolve(path.dirname(file), spec);
            if (target !== pkg.dir && !target.startsWith(pkg.dir + path.sep)) {
              const owner = packages.find((p) => target === p.dir || target.startsWith(p.dir + path.sep));
              report(
                imp,
                owner
                  ? `relative import leaves ${pkg.rel} into ${owner.rel}: import "${owner.name}" through its exports instead`
                  : `relative import leaves the package directory ${pkg.rel}`,
              );
            }
            continue;
          }
          const name = packageNameOf(spec);
          const target = byName.get(name);
          if (!target) continue;
          const subpath = `.${spec.slice(name.length)}`;
          if (!subpathAllowed(target.exportKeys, subpath)) {
            const allowed = target.exportKeys ? target.exportKeys.map((k) => `"${k}"`).join(', ') : 'none';
            report(imp, `deep import past ${name}'s exports map (it exports ${allowed})`);
          }
          if (target === pkg) continue;
          addEdge(pkg.name, name, { file: rel, line: imp.line, specifier: spec, via: 'import' });

          if (pkg.name === CORE) {
            report(imp, `${CORE} imports no other berth package`);
          } else if (pkg.isPlugin) {
            const allowed = isTest ? [CORE, NATIVE, VOLUME_KIT, TESTKIT] : [CORE, NATIVE, VOLUME_KIT];
            if (!allowed.includes(name)) {
              report(imp, `a plugin imports only ${CORE}, ${NATIVE} and ${VOLUME_KIT}${isTest ? ` (its tests also ${TESTKIT})` : ''}`);
            }
          } else if (pkg.name === CLI) {
            // `berth registry serve|gc` runs the registry server in the CLI's process: the registry is
            // not the engine, so importing it keeps the rule that the engine is reached only through the API.
            // ...and `@berth/core/detach-keys`, a module of its own that needs none of core's DI.
            if (name === CORE && !imp.typeOnly && imp.specifier !== CORE_DETACH_KEYS) {
              report(imp, `${CLI} imports ${CORE} for types only (use \`import type\`; values only from ${CORE_DETACH_KEYS})`);
            } else if (name !== CLIENT && name !== CORE && name !== REGISTRY) {
              report(imp, `${CLI} reaches the engine only through ${CLIENT} (and ${CORE} for types, ${REGISTRY} for \`berth registry\`)`);
            }
          } else if (pkg.name === VOLUME_KIT) {
            // The kit is what third parties build drivers on: it stands on the contract alone.
            const allowed = isTest ? [CORE, TESTKIT] : [CORE];
            if (!allowed.includes(name)) report(imp, `${VOLUME_KIT} imports only ${CORE}${isTest ? ` (its tests also ${TESTKIT})` : ''}`);
          } else if (pkg.name === REGISTRY) {
            // The registry server stands alone (its own process, or inside the CLI): it knows no engine.
            const allowed = isTest ? [CORE, TESTKIT] : [CORE];
            if (!allowed.includes(name)) report(imp, `${REGISTRY} imports only ${CORE}${isTest ? ` (its tests also ${TESTKIT})` : ''}`);
          }
          if (!(name in pkg.dependencies) && !(name in pkg.devDependencies)) {
            const field = isTest ? 'devDependencies' : 'dependencies';
            report(imp, `undeclared dependency: add "${name}" to ${path.relative(root, pkg.manifestPath)} ${field}`);
          }
        }
      }
    }
  }

  for (const cycle of findCycles(edges)) {
    const first = edges.get(cycle[0]).get(cycle[1]);
    const via = cycle
      .slice(0, -1)
      .map((from, k) => {
        const e = edges.get(from).get(cycle[k + 1]);
        return `${e.file}:${e.line}`;
      })
      .join(', ');
    violations.push({
      file: first.file,
      line: first.line,
      specifier: first.specifier,
      rule: `import cycle between packages: ${cycle.join(' → ')} (edges at ${via})`,
    });
  }
  return { violations, packages: packages.length, files: fileCount, imports: importCount };
}

/** One cycle per strongly connected component of the package graph (Tarjan), as a closed path. */
function findCycles(edges) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  let counter = 0;
  const connect = (v) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of [...edges.get(v).keys()].sort()) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component);
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) connect(v);

  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    // Shortest way back to the start inside the component (breadth-first).
    const previous = new Map([[start, null]]);
    const queue = [start];
    while (queue.length) {
      const v = queue.shift();
      for (const w of [...edges.get(v).keys()].sort()) {
        if (!members.has(w)) continue;
        if (w === start) {
          const pathBack = [start];
          for (let u = v; u !== null; u = previous.get(u)) pathBack.push(u);
          return pathBack.reverse();
        }
        if (!previous.has(w)) {
          previous.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...component, component[0]];
  });
}

function main(argv) {
  const at = argv.indexOf('--root');
  const root = path.resolve(at === -1 ? path.join(__dirname, '..') : argv[at + 1]);
  const started = process.hrtime.bigint();
  const result = checkBoundaries(root);
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);
  for (const v of result.violations) console.log(`${v.file}:${v.line}: import "${v.specifier}" — ${v.rule}`);
  const counted = `${result.packages} packages, ${result.files} files, ${result.imports} imports`;
  if (result.violations.length) {
    console.log(`boundaries: ${result.violations.length} violation(s) in ${counted} (${ms} ms)`);
    return 1;
  }
  console.log(`boundaries: ok — ${counted}, no violations (${ms} ms)`);
  return 0;
}

module.exports = { checkBoundaries, findImports, maskSource };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
