// Tag rules against real-shaped GitHub and GitLab variables: the same rules, the same tags.
import { describe, expect, it } from 'vitest';
import { type Env, readCiContext } from './ci-context.ts';
import { computeTags, DEFAULT_TAG_RULES, fullTags, ociLabels, parseSemver, parseTagRule, sanitizeTag, type TagRule } from './tags.ts';

const SHA = '8f2c1e0d9b7a6c5e4f3a2b1c0d9e8f7a6b5c4d3e';

const gh = (ref: string, extra: Env = {}): Env => ({
  GITHUB_ACTIONS: 'true',
  GITHUB_SHA: SHA,
  GITHUB_REF: ref,
  GITHUB_REF_NAME: ref.replace(/^refs\/(heads|tags)\//, ''),
  GITHUB_EVENT_NAME: ref.startsWith('refs/pull/') ? 'pull_request' : 'push',
  GITHUB_REPOSITORY: 'acme/orders',
  GITHUB_SERVER_URL: 'https://github.com',
  ...extra,
});
const gl = (extra: Env): Env => ({
  GITLAB_CI: 'true',
  CI_COMMIT_SHA: SHA,
  CI_DEFAULT_BRANCH: 'main',
  CI_PROJECT_URL: 'https://gitlab.example.com/acme/orders',
  CI_PIPELINE_SOURCE: 'push',
  ...extra,
});
const mainPayload = { repository: { default_branch: 'main' } };

function rules(text: string): TagRule[] {
  return text.split('\n').map((l) => {
    const r = parseTagRule(l);
    if ('error' in r) throw new Error(r.error);
    return r;
  });
}

// [case, env, event payload, default-branch input, rules, expected tags, expected version]
const cases: [string, Env, unknown, string | undefined, string, string[], string | undefined][] = [
  ['GitHub push to main (defaults)', gh('refs/heads/main'), mainPayload, undefined, DEFAULT_TAG_RULES, ['main', 'sha-8f2c1e0', 'latest'], 'main'],
  ['GitLab push to main (defaults)', gl({ CI_COMMIT_BRANCH: 'main' }), undefined, undefined, DEFAULT_TAG_RULES, ['main', 'sha-8f2c1e0', 'latest'], 'main'],
  [
    'GitHub feature branch with slash',
    gh('refs/heads/feature/Login-v2'),
    mainPayload,
    undefined,
    DEFAULT_TAG_RULES,
    ['feature-Login-v2', 'sha-8f2c1e0'],
    'feature-Login-v2',
  ],
  [
    'GitLab feature branch with slash',
    gl({ CI_COMMIT_BRANCH: 'feature/Login-v2' }),
    undefined,
    undefined,
    DEFAULT_TAG_RULES,
    ['feature-Login-v2', 'sha-8f2c1e0'],
    'feature-Login-v2',
  ],
  ['GitHub v-tag', gh('refs/tags/v1.2.3'), mainPayload, undefined, DEFAULT_TAG_RULES, ['1.2.3', 'sha-8f2c1e0'], '1.2.3'],
  ['GitLab v-tag', gl({ CI_COMMIT_TAG: 'v1.2.3' }), undefined, undefined, DEFAULT_TAG_RULES, ['1.2.3', 'sha-8f2c1e0'], '1.2.3'],
  [
    'GitHub v-tag, major/minor patterns',
    gh('refs/tags/v2.5.1'),
    mainPayload,
    undefined,
    'type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}',
    ['2.5.1', '2.5', '2'],
    '2.5.1',
  ],
  [
    'GitLab v-tag, major/minor patterns',
    gl({ CI_COMMIT_TAG: 'v2.5.1' }),
    undefined,
    undefined,
    'type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}',
    ['2.5.1', '2.5', '2'],
    '2.5.1',
  ],
  [
    'pre-release gets only its full version',
    gh('refs/tags/v1.3.0-rc.1'),
    mainPayload,
    undefined,
    'type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}\ntype=semver,pattern={{major}}',
    ['1.3.0-rc.1'],
    '1.3.0-rc.1',
  ],
  [
    'major 0 gets no bare major tag',
    gl({ CI_COMMIT_TAG: 'v0.4.2' }),
    undefined,
    undefined,
    'type=semver,pattern={{major}}\ntype=semver,pattern={{major}}.{{minor}}',
    ['0.4'],
    '0.4.2',
  ],
  ['raw pattern keeps the v', gh('refs/tags/v1.2.3'), mainPayload, undefined, 'type=semver,pattern={{raw}}', ['v1.2.3'], '1.2.3'],
  ['build metadata is not a tag character', gh('refs/tags/v1.2.3+build.7'), mainPayload, undefined, 'type=semver,pattern={{version}}', ['1.2.3'], '1.2.3'],
  ['tag without v is semver too', gl({ CI_COMMIT_TAG: '3.0.0' }), undefined, undefined, 'type=semver', ['3.0.0'], '3.0.0'],
  [
    'non-semver tag: semver rule gives nothing, tag rule gives it',
    gh('refs/tags/release-2024'),
    mainPayload,
    undefined,
    'type=semver\ntype=tag',
    ['release-2024'],
    'release-2024',
  ],
  ['tag build never gets latest', gh('refs/tags/v1.0.0'), mainPayload, undefined, 'type=latest\ntype=semver', ['1.0.0'], '1.0.0'],
  [
    'GitHub pull request',
    gh('refs/pull/42/merge', { GITHUB_HEAD_REF: 'fix/typo' }),
    { ...mainPayload, pull_request: { number: 42 } },
    undefined,
    DEFAULT_TAG_RULES,
    ['pr-42', 'sha-8f2c1e0'],
    'pr-42',
  ],
  [
    'GitLab merge request',
    gl({ CI_MERGE_REQUEST_IID: '17', CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: 'fix/typo', CI_PIPELINE_SOURCE: 'merge_request_event' }),
    undefined,
    undefined,
    DEFAULT_TAG_RULES,
    ['pr-17', 'sha-8f2c1e0'],
    'pr-17',
  ],
  [
    'GitLab MR pipeline ignores CI_COMMIT_BRANCH',
    gl({ CI_MERGE_REQUEST_IID: '5', CI_COMMIT_BRANCH: 'main' }),
    undefined,
    undefined,
    'type=branch\ntype=latest\ntype=pr',
    ['pr-5'],
    'pr-5',
  ],
  ['long sha with prefix', gh('refs/heads/main'), mainPayload, undefined, 'type=sha,format=long,prefix=', [SHA], SHA],
  [
    'sha with custom prefix and suffix',
    gl({ CI_COMMIT_BRANCH: 'dev' }),
    undefined,
    undefined,
    'type=sha,prefix=git-,suffix=-amd64',
    ['git-8f2c1e0-amd64'],
    'git-8f2c1e0-amd64',
  ],
  ['branch prefix', gh('refs/heads/develop'), mainPayload, undefined, 'type=branch,prefix=br-', ['br-develop'], 'br-develop'],
  [
    'raw tags always apply',
    gl({ CI_COMMIT_BRANCH: 'dev' }),
    undefined,
    undefined,
    'type=raw,value=stable\ntype=raw,value=edge,enable=false',
    ['stable'],
    'stable',
  ],
  ['disabled rules give nothing', gh('refs/heads/main'), mainPayload, undefined, 'type=sha,enable=false\ntype=latest,enable=false', [], '8f2c1e0'],
  ['default branch from input over payload', gh('refs/heads/trunk'), mainPayload, 'trunk', 'type=latest', ['latest'], '8f2c1e0'],
  ['default branch from input over CI_DEFAULT_BRANCH', gl({ CI_COMMIT_BRANCH: 'main' }), undefined, 'release', 'type=latest', [], '8f2c1e0'],
  ['GitHub without payload: latest needs default-branch', gh('refs/heads/main'), undefined, undefined, 'type=latest\ntype=branch', ['main'], 'main'],
  ['GitHub with default-branch input and no payload', gh('refs/heads/main'), undefined, 'main', 'type=latest', ['latest'], '8f2c1e0'],
  ['duplicates collapse', gh('refs/heads/main'), mainPayload, undefined, 'type=raw,value=main\ntype=branch', ['main'], 'main'],
  [
    'schedule on GitHub default branch',
    gh('refs/heads/main', { GITHUB_EVENT_NAME: 'schedule' }),
    mainPayload,
    undefined,
    'type=branch\ntype=latest',
    ['main', 'latest'],
    'main',
  ],
  ['local run: only raw tags', {}, undefined, undefined, `${DEFAULT_TAG_RULES}\ntype=raw,value=dev`, ['dev'], 'dev'],
  ['branch name with odd characters', gl({ CI_COMMIT_BRANCH: 'user/@x#y..z' }), undefined, undefined, 'type=branch', ['user-x-y..z'], 'user-x-y..z'],
];

describe('tag rules', () => {
  it.each(cases)('%s', (_name, env, payload, defaultBranch, text, tags, version) => {
    const ctx = readCiContext(env, payload, defaultBranch);
    const r = computeTags(rules(text), ctx);
    expect(r.tags).toEqual(tags);
    expect(r.version).toBe(version);
  });

  it('has at least 25 cases', () => expect(cases.length).toBeGreaterThanOrEqual(25));

  it('notes why latest and sha gave nothing', () => {
    const r = computeTags(rules('type=latest\ntype=sha'), readCiContext({ GITHUB_ACTIONS: 'true', GITHUB_REF: 'refs/heads/main' }));
    expect(r.notes).toEqual(['type=latest: the default branch is unknown (set `default-branch`)', 'type=sha: no commit SHA in the CI variables']);
  });
});

describe('CI context', () => {
  it('reads GitHub variables and the event payload', () => {
    expect(readCiContext(gh('refs/heads/main'), mainPayload)).toEqual({
      provider: 'github',
      sha: SHA,
      branch: 'main',
      tag: undefined,
      pullRequest: undefined,
      headBranch: undefined,
      defaultBranch: 'main',
      event: 'push',
      sourceUrl: 'https://github.com/acme/orders',
    });
  });

  it('reads GitLab variables', () => {
    expect(readCiContext(gl({ CI_COMMIT_TAG: 'v1.0.0', CI_COMMIT_BRANCH: undefined }))).toMatchObject({
      provider: 'gitlab',
      tag: 'v1.0.0',
      branch: undefined,
      defaultBranch: 'main',
      sourceUrl: 'https://gitlab.example.com/acme/orders',
    });
  });

  it('uses GitHub Enterprise server URLs', () => {
    expect(readCiContext(gh('refs/heads/main', { GITHUB_SERVER_URL: 'https://ghe.example.com/' })).sourceUrl).toBe('https://ghe.example.com/acme/orders');
  });
});

describe('rule syntax', () => {
  const bad: [string, RegExp][] = [
    ['sha', /not key=value/],
    ['type=commit', /type "commit" is unknown/],
    ['prefix=x', /has no type=/],
    ['type=raw', /needs value=/],
    ['type=raw,value=-bad', /not a valid tag/],
    ['type=sha,format=medium', /must be short or long/],
    ['type=branch,pattern={{version}}', /has no attribute "pattern"/],
    ['type=semver,pattern=v{{build}}', /uses none of|unknown/],
    ['type=semver,pattern={{major}}.{{nope}}', /unknown \{\{variable\}\}/],
    ['type=sha,enable=yes', /must be true or false/],
    ['type=sha,type=branch', /given twice/],
    ['type=branch,prefix=a/b', /prefix\/suffix/],
  ];
  it.each(bad)('%s is refused', (line, msg) => {
    const r = parseTagRule(line);
    expect('error' in r && r.error).toMatch(msg);
  });

  it('accepts quoted values with commas off', () => {
    expect(parseTagRule('type=raw,value="nightly"')).toMatchObject({ type: 'raw', value: 'nightly' });
  });
});

describe('labels and helpers', () => {
  it('sets the four OCI labels from the context', () => {
    const ctx = readCiContext(gl({ CI_COMMIT_TAG: 'v1.2.3' }));
    expect(ociLabels(ctx, '1.2.3', new Date('2026-01-02T03:04:05Z'))).toEqual({
      'org.opencontainers.image.source': 'https://gitlab.example.com/acme/orders',
      'org.opencontainers.image.revision': SHA,
      'org.opencontainers.image.created': '2026-01-02T03:04:05.000Z',
      'org.opencontainers.image.version': '1.2.3',
    });
  });

  it('omits what it does not know', () => {
    expect(Object.keys(ociLabels(readCiContext({}), undefined, new Date(0)))).toEqual(['org.opencontainers.image.created']);
  });

  it('crosses images with tags', () => {
    expect(fullTags(['r/a', 'r/b'], ['1', 'latest'])).toEqual(['r/a:1', 'r/a:latest', 'r/b:1', 'r/b:latest']);
  });

  it('parses semver and sanitizes names', () => {
    expect(parseSemver('v1.2.3-beta.1')).toMatchObject({ major: 1, minor: 2, patch: 3, prerelease: 'beta.1' });
    expect(parseSemver('v1.2')).toBeUndefined();
    expect(parseSemver('v01.2.3')).toBeUndefined();
    expect(sanitizeTag('.hidden/name')).toBe('hidden-name');
    expect(sanitizeTag('x'.repeat(200))).toHaveLength(128);
  });
});
