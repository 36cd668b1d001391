import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestError, ManifestSourceError } from './errors.ts';
import { documentLines, loadManifests, parseFast, parseManifests, substituteVars } from './manifests.ts';

let dir: string;
const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipline-manifests-'));
  mkdirSync(join(dir, 'app', 'nested'), { recursive: true });
  mkdirSync(join(dir, 'kust'));
  mkdirSync(join(dir, 'empty'));
  writeFileSync(join(dir, 'app', 'b.yaml'), `${cm('b1')}---\n${cm('b2')}`);
  writeFileSync(join(dir, 'app', 'a.yml'), cm('a'));
  writeFileSync(join(dir, 'app', 'c.json'), JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }));
  writeFileSync(join(dir, 'app', 'README.md'), '# not a manifest');
  writeFileSync(join(dir, 'app', 'nested', 'd.yaml'), cm('d'));
  writeFileSync(join(dir, 'kust', 'kustomization.yaml'), 'resources: []\n');
  writeFileSync(join(dir, 'empty', 'notes.txt'), 'x');
  writeFileSync(join(dir, 'vars.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${NAME}\ndata:\n  cmd: echo ${HOME} $${NAME}\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const names = async (sources: string[], vars?: Record<string, string>) =>
  (await loadManifests(sources, { cwd: dir, vars, kustomize: async (d) => `${cm(`k-${d.split('/').at(-1)}`)}` })).map((m) => m.object.metadata.name);

describe('loadManifests', () => {
  it('reads a directory recursively, sorted, yaml/yml/json only', async () => {
    expect(await names(['app'])).toEqual(['a', 'b1', 'b2', 'c', 'd']);
  });
  it('reads globs and never the same file twice', async () => {
    expect(await names(['app/*.yaml', 'app/b.yaml', 'app/**/*.yaml'])).toEqual(['b1', 'b2', 'd']);
  });
  it('renders kustomization directories through the injected renderer', async () => {
    expect(await names(['kust'])).toEqual(['k-kust']);
  });
  it('without a renderer a kustomization is a clear error', async () => {
    await expect(loadManifests(['kust'], { cwd: dir })).rejects.toThrow(/kustomization directory and kubectl is not available/);
  });
  it('replaces declared variables only', async () => {
    const [m] = await loadManifests(['vars.yaml'], { cwd: dir, vars: { NAME: 'from-var' } });
    expect(m?.object.metadata.name).toBe('from-var');
    expect((m?.object.data as { cmd: string } | undefined)?.cmd).toBe('echo ${HOME} $from-var');
  });
  it('names the source of each object with its line', async () => {
    const all = await loadManifests(['app/b.yaml'], { cwd: dir });
    expect(all.map((m) => m.source)).toEqual(['app/b.yaml:1', 'app/b.yaml:6']);
  });
  it.each([
    ['missing.yaml', /"missing.yaml" does not exist/],
    ['nothing/*.yaml', /matches no \.yaml, \.yml or \.json file/],
    ['app/*.txt', /matches no/],
    ['empty', /holds no \.yaml/],
  ])('%s is refused', async (src, msg) => {
    await expect(loadManifests([src], { cwd: dir })).rejects.toThrow(ManifestSourceError);
    await expect(loadManifests([src], { cwd: dir })).rejects.toThrow(msg);
  });
});

describe('parseManifests', () => {
  it('skips empty documents and flattens Lists', () => {
    const text = `---\n---\n${cm('x')}---\napiVersion: v1\nkind: List\nitems:\n- ${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })}\n`;
    expect(parseManifests(text, 'f.yaml').map((m) => `${m.object.kind}/${m.object.metadata.name}`)).toEqual(['ConfigMap/x', 'Secret/s']);
  });
  it.each([
    ['bad YAML', 'apiVersion: v1\nkind: [ConfigMap\n', /f\.yaml:\d+:\d+: invalid YAML/],
    ['duplicate keys', 'apiVersion: v1\nkind: ConfigMap\nkind: Secret\nmetadata: {name: x}\n', /invalid YAML/],
    ['no apiVersion', 'kind: ConfigMap\nmetadata: {name: x}\n', /apiVersion is missing/],
    ['no kind', 'apiVersion: v1\nmetadata: {name: x}\n', /kind is missing/],
    ['lowercase kind', 'apiVersion: v1\nkind: configmap\nmetadata: {name: x}\n', /is not a kind name/],
    ['no metadata', 'apiVersion: v1\nkind: ConfigMap\n', /has no metadata/],
    ['generateName', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n', /generateName cannot be applied/],
    ['bad name', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "Bad Name"}\n', /not a valid object name/],
    ['bad namespace', 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: Shop_1}\n', /invalid metadata.namespace/],
    ['a scalar document', 'just text\n', /must be a mapping/],
    ['a list document', '- a\n- b\n', /not a list/],
  ])('%s', (_why, text, msg) => {
    expect(() => parseManifests(text, 'f.yaml')).toThrow(ManifestError);
    expect(() => parseManifests(text, 'f.yaml')).toThrow(msg);
  });
  // The fast parser must give exactly what the careful one gives: objects, values and source lines.
  const corpus: [string, string][] = [
    ['plain', `${cm('a')}---\n${cm('b')}`],
    ['leading marker, comments and blank lines', `# header\n\n---\n# about a\n\n${cm('a')}\n---   # next\n${cm('b')}`],
    [
      'content on the marker line',
      `--- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n--- ${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })}\n`,
    ],
    ['document end markers and empty documents', `---\n---\n${cm('a')}...\n---\n...\n${cm('b')}---\n`],
    ['CRLF line ends', `${cm('a')}---\n${cm('b')}`.replaceAll('\n', '\r\n')],
    [
      'scalars the two YAML versions read differently',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: yes, b: on, c: "0755", d: 2024-01-01, e: ~, f: 0o17, g: 1e3, h: .inf, i: "<<"}\n',
    ],
    [
      'block scalars with marker-like text inside',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata:\n  script: |\n    # not a comment\n    echo ---\n     ---\n',
    ],
    ['a List', `apiVersion: v1\nkind: List\nitems:\n- ${JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })}\n`],
    ['directives', `%YAML 1.2\n---\n${cm('a')}`],
    ['JSON', JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'j' }, data: { n: '1' } }, null, 2)],
    ['anchors (careful parser only)', 'apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: a}\ndata: {x: *m}\n'],
  ];
  it.each(corpus)('fast and careful parsers agree: %s', (why, text) => {
    const careful = parseManifests(text, 'f.yaml', { careful: true });
    expect(careful.length).toBeGreaterThan(0);
    expect(parseManifests(text, 'f.yaml')).toEqual(careful);
    // Every case but the anchored one really took the fast path.
    expect(parseFast(text, 'f.yaml') === undefined).toBe(why.startsWith('anchors'));
  });
  it('numbers documents from the line their content starts on', () => {
    expect(documentLines(`${cm('a')}---\n# c\n\n${cm('b')}`)).toEqual([1, 8]);
    expect(documentLines('---\n---\n--- {a: 1}\n...\nb: 2\n')).toEqual([2, 3, 3, 5]);
    expect(documentLines('')).toEqual([]);
  });
  it('reports the line of the failing document', () => {
    expect(() => parseManifests(`${cm('ok')}---\n\napiVersion: v1\nmetadata: {name: x}\n`, 'f.yaml')).toThrow(/^f\.yaml:7: kind is missing/);
  });
});

describe('substituteVars', () => {
  it.each([
    ['${A}-${B}', { A: '1' }, '1-${B}'],
    ['$A ${A}', { A: 'x' }, '$A x'],
    ['${A}${A}', { A: '' }, ''],
    ['${not-a-var}', { 'not-a-var': 'x' }, '${not-a-var}'],
  ])('%s', (text, vars, want) => expect(substituteVars(text, vars)).toBe(want));
});
