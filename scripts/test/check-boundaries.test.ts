import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBoundaries, findImports } from '../check-boundaries.js';

const script = path.join(__dirname, '..', 'check-boundaries.js');

interface FakePackage {
  dir: string;
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  exports?: Record<string, string>;
  files: Record<string, string>;
}

/** A throwaway monorepo laid out like berth's (packages/*, plugins/*), removed by the caller. */
function fakeMonorepo(packages: FakePackage[]): string {
  const root = mkdtempSync('/tmp/berth-unit-boundaries-');
  writeFileSync(
    path.join(root, 'package.json'),
    JSON.stringify({ name: 'fake', private: true, workspaces: ['packages/*', 'plugins/*'] }, null, 2),
  );
  for (const p of packages) {
    const dir = path.join(root, p.dir);
    mkdirSync(dir, { recursive: true });
    const manifest = {
      name: p.name,
      version: '0.1.0',
      exports: p.exports ?? { '.': './src/index.ts' },
      dependencies: p.dependencies ?? {},
      devDependencies: p.devDependencies ?? {},
    };
    writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    for (const [file, text] of Object.entries(p.files)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      writeFileSync(path.join(dir, file), text);
    }
  }
  return root;
}

function withMonorepo(packages: FakePackage[], check: (root: string) => void): void {
  const root = fakeMonorepo(packages);
  try {
    check(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

function runScript(root: string): { code: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
  return { code: r.status, lines: `${r.stdout}${r.stderr}`.trim().split('\n') };
}

const core: FakePackage = { dir: 'packages/core', name: '@berth/core', files: { 'src/index.ts': 'export const x = 1;\n' } };
const native: FakePackage = {
  dir: 'packages/native',
  name: '@berth/native',
  dependencies: { '@berth/core': '0.1.0' },
  files: { 'src/index.ts': "import { x } from '@berth/core';\nexport const mount = x;\n" },
};
const engine: FakePackage = {
  dir: 'packages/engine',
  name: '@berth/engine',
  dependencies: { '@berth/core': '0.1.0' },
  files: { 'src/index.ts': "import { x } from '@berth/core';\nexport const engine = x;\n" },
};
const testkit: FakePackage = {
  dir: 'packages/testkit',
  name: '@berth/testkit',
  dependencies: { '@berth/core': '0.1.0' },
  files: { 'src/index.ts': "export { x } from '@berth/core';\n" },
};

test('a clean monorepo passes with one summary line', () => {
  const plugin: FakePackage = {
    dir: 'plugins/storage-good',
    name: '@berth/storage-good',
    dependencies: { '@berth/core': '0.1.0', '@berth/native': '0.1.0' },
    devDependencies: { '@berth/testkit': '0.1.0' },
    files: {
      'src/index.ts': "import { x } from '@berth/core';\nimport { mount } from '@berth/native';\nexport default { x, mount };\n",
      'test/conformance.test.ts':
        "import { x } from '@berth/testkit';\nimport plugin from '@berth/storage-good';\nimport '../src/index.js';\nvoid [x, plugin];\n",
    },
  };
  withMonorepo([core, native, engine, testkit, plugin], (root) => {
    const { code, lines } = runScript(root);
    assert.is(code, 0, lines.join('\n'));
    assert.is(lines.length, 1, lines.join('\n'));
    assert.match(lines[0], /^boundaries: ok — 5 packages, 6 files, \d+ imports, no violations/);
  });
});

test('a plugin importing @berth/engine is named with its file and line', () => {
  const plugin: FakePackage = {
    dir: 'plugins/storage-bad',
    name: '@berth/storage-bad',
    dependencies: { '@berth/core': '0.1.0', '@berth/engine': '0.1.0' },
    files: {
      'src/driver.ts': "import { x } from '@berth/core';\n\nimport { engine } from '@berth/engine';\nexport const d = [x, engine];\n",
    },
  };
  withMonorepo([core, engine, plugin], (root) => {
    const { code, lines } = runScript(root);
    assert.is(code, 1);
    assert.ok(
      lines.includes(
        'plugins/storage-bad/src/driver.ts:3: import "@berth/engine" — a plugin imports only @berth/core, @berth/native and @berth/volume-kit',
      ),
      lines.join('\n'),
    );
    assert.match(lines.at(-1) ?? '', /^boundaries: 1 violation\(s\)/);
  });
});

test('core importing another berth package is refused', () => {
  const badCore: FakePackage = {
    ...core,
    dependencies: { '@berth/engine': '0.1.0' },
    files: { 'src/index.ts': "export const x = 1;\nexport type E = typeof import('@berth/engine');\nexport * from '@berth/engine';\n" },
  };
  const leafEngine: FakePackage = { ...engine, dependencies: {}, files: { 'src/index.ts': 'export const engine = 1;\n' } };
  withMonorepo([badCore, leafEngine], (root) => {
    const v = checkBoundaries(root).violations.filter((x) => x.rule.startsWith('@berth/core imports no other'));
    assert.equal(
      v.map((x) => `${x.file}:${x.line}`),
      ['packages/core/src/index.ts:2', 'packages/core/src/index.ts:3'],
    );
  });
});

test('deep imports past the exports map and relative escapes are named', () => {
  const plugin: FakePackage = {
    dir: 'plugins/storage-deep',
    name: '@berth/storage-deep',
    dependencies: { '@berth/core': '0.1.0' },
    files: {
      'src/index.ts': [
        "import { x } from '@berth/core/src/index.js';",
        "import { y } from '../../../packages/core/src/index.js';",
        "import { z } from '../../storage-other/src/index.js';",
        'export default [x, y, z];',
        '',
      ].join('\n'),
    },
  };
  withMonorepo([core, plugin], (root) => {
    const { code, lines } = runScript(root);
    assert.is(code, 1);
    const text = lines.join('\n');
    assert.ok(
      lines.includes(
        `plugins/storage-deep/src/index.ts:1: import "@berth/core/src/index.js" — deep import past @berth/core's exports map (it exports ".")`,
      ),
      text,
    );
    assert.match(
      text,
      'plugins/storage-deep/src/index.ts:2: import "../../../packages/core/src/index.js" — relative import leaves plugins/storage-deep into packages/core',
    );
    assert.match(
      text,
      'plugins/storage-deep/src/index.ts:3: import "../../storage-other/src/index.js" — relative import leaves the package directory',
    );
  });
});

test('a subpath the exports map names is allowed', () => {
  const client: FakePackage = {
    dir: 'packages/client',
    name: '@berth/client',
    exports: { '.': './src/index.ts', './testing': './src/testing.ts' },
    files: { 'src/index.ts': 'export const c = 1;\n', 'src/testing.ts': 'export const t = 1;\n' },
  };
  const cli: FakePackage = {
    dir: 'packages/cli',
    name: '@berth/cli',
    dependencies: { '@berth/client': '0.1.0' },
    files: { 'test/run.test.ts': "import { t } from '@berth/client/testing';\nvoid t;\n" },
  };
  withMonorepo([client, cli], (root) => {
    assert.equal(checkBoundaries(root).violations, []);
  });
});

test('an import cycle between packages is reported with its path', () => {
  const image: FakePackage = {
    dir: 'packages/image',
    name: '@berth/image',
    dependencies: { '@berth/core': '0.1.0', '@berth/engine': '0.1.0' },
    files: { 'src/index.ts': "import { engine } from '@berth/engine';\nexport const image = engine;\n" },
  };
  const cyclicEngine: FakePackage = {
    ...engine,
    dependencies: { '@berth/core': '0.1.0' },
    devDependencies: { '@berth/image': '0.1.0' },
    files: { 'src/index.ts': 'export const engine = 1;\n', 'test/image.test.ts': "import { image } from '@berth/image';\nvoid image;\n" },
  };
  withMonorepo([core, cyclicEngine, image], (root) => {
    const { code, lines } = runScript(root);
    assert.is(code, 1);
    const cycle = lines.filter((l) => l.includes('import cycle between packages'));
    assert.is(cycle.length, 1, lines.join('\n'));
    assert.match(
      cycle[0],
      'packages/engine/test/image.test.ts:1: import "@berth/image" — import cycle between packages: @berth/engine → @berth/image → @berth/engine',
    );
    assert.match(cycle[0], '(edges at packages/engine/test/image.test.ts:1, packages/image/src/index.ts:1)');
  });
});

test('an undeclared berth import names the package.json to fix', () => {
  const plugin: FakePackage = {
    dir: 'plugins/storage-undeclared',
    name: '@berth/storage-undeclared',
    dependencies: { '@berth/core': '0.1.0' },
    files: {
      'src/index.ts': "import { x } from '@berth/core';\nexport default x;\n",
      'test/driver.test.ts': "import { mount } from '@berth/native';\nvoid mount;\n",
    },
  };
  withMonorepo([core, native, plugin], (root) => {
    const { code, lines } = runScript(root);
    assert.is(code, 1);
    assert.equal(lines.slice(0, -1), [
      'plugins/storage-undeclared/test/driver.test.ts:1: import "@berth/native" — undeclared dependency: add "@berth/native" to plugins/storage-undeclared/package.json devDependencies',
    ]);
  });
});

test('the CLI reaches the engine only through the client, and core for types; it may run the registry', () => {
  const client: FakePackage = { dir: 'packages/client', name: '@berth/client', files: { 'src/index.ts': 'export const c = 1;\n' } };
  const registry: FakePackage = {
    dir: 'packages/registry',
    name: '@berth/registry',
    dependencies: { '@berth/core': '0.1.0', '@berth/engine': '0.1.0' },
    files: { 'src/index.ts': "import { x } from '@berth/core';\nimport { e } from '@berth/engine';\nexport const r = [x, e];\n" },
  };
  const cli: FakePackage = {
    dir: 'packages/cli',
    name: '@berth/cli',
    dependencies: { '@berth/client': '0.1.0', '@berth/core': '0.1.0', '@berth/engine': '0.1.0', '@berth/registry': '0.1.0' },
    files: {
      'src/main.ts': [
        "import { c } from '@berth/client';",
        "import type { X } from '@berth/core';",
        "import { type Y } from '@berth/core';",
        "import { parseDetachKeys } from '@berth/core/detach-keys';",
        "import { x } from '@berth/core';",
        "const e = require('@berth/engine');",
        "const r = require('@berth/registry');",
        'export const all = [c, x, e, r, parseDetachKeys] as unknown as [X, Y];',
        '',
      ].join('\n'),
    },
  };
  const coreWithDetachKeys: FakePackage = {
    ...core,
    exports: { '.': './src/index.ts', './detach-keys': './src/detach-keys.ts' },
    files: { ...core.files, 'src/detach-keys.ts': 'export const parseDetachKeys = 1;\n' },
  };
  withMonorepo([coreWithDetachKeys, engine, client, registry, cli], (root) => {
    const v = checkBoundaries(root).violations.map((x) => `${x.file}:${x.line}: ${x.rule}`);
    assert.equal(v, [
      'packages/cli/src/main.ts:5: @berth/cli imports @berth/core for types only (use `import type`; values only from @berth/core/detach-keys)',
      'packages/cli/src/main.ts:6: @berth/cli reaches the engine only through @berth/client (and @berth/core for types, @berth/registry for `berth registry`)',
      'packages/registry/src/index.ts:2: @berth/registry imports only @berth/core',
    ]);
  });
});

test('imports in comments, strings and templates are not imports', () => {
  const source = [
    '// import { a } from "@berth/engine";',
    "/* require('@berth/engine') */",
    'const s = "import x from \'@berth/engine\'";',
    "const t = `export * from '@berth/engine'`;",
    "const re = /'/; import { b } from './b.js';",
    '/**',
    " * import { c } from '@berth/engine';",
    ' */',
    "export { d } from './d.js';",
  ].join('\n');
  assert.equal(
    findImports(source).map((i) => `${i.line}:${i.specifier}`),
    ['5:./b.js', '9:./d.js'],
  );
});

test.run();
