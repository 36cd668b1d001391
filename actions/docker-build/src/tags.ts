// Tag rules in the spirit of docker/metadata-action (`type=sha`, `type=semver,pattern={{version}}`),
// evaluated against a CiContext so the same rules give the same tags on GitHub and GitLab.
import type { CiContext } from './ci-context.ts';

export const RULE_TYPES = ['sha', 'branch', 'tag', 'semver', 'pr', 'latest', 'raw'] as const;
export type RuleType = (typeof RULE_TYPES)[number];

export interface TagRule {
  type: RuleType;
  prefix: string;
  suffix: string;
  enable: boolean;
  /** raw: the tag itself. */
  value?: string;
  /** semver: e.g. `{{version}}`, `{{major}}.{{minor}}`. */
  pattern?: string;
  /** sha: short (7 characters) or long. */
  format?: 'short' | 'long';
}

export const DEFAULT_TAG_RULES = 'type=branch\ntype=semver,pattern={{version}}\ntype=pr\ntype=sha\ntype=latest';

const TAG = /^[\w][\w.-]{0,127}$/;
const ATTRS: Record<RuleType, readonly string[]> = {
  sha: ['prefix', 'suffix', 'enable', 'format'],
  branch: ['prefix', 'suffix', 'enable'],
  tag: ['prefix', 'suffix', 'enable'],
  semver: ['prefix', 'suffix', 'enable', 'pattern'],
  pr: ['prefix', 'suffix', 'enable'],
  latest: ['enable'],
  raw: ['prefix', 'suffix', 'enable', 'value'],
};
const SEMVER_VARS = /\{\{\s*(version|major|minor|patch|raw)\s*\}\}/g;

/** Parses one rule line; returns an error text (for the `tags` input's message) instead of throwing. */
export function parseTagRule(line: string): TagRule | { error: string } {
  const fields = splitFields(line);
  const attrs = new Map<string, string>();
  for (const f of fields) {
    const eq = f.indexOf('=');
    if (eq <= 0) return { error: `${JSON.stringify(f)} is not key=value` };
    const k = f.slice(0, eq).trim();
    if (attrs.has(k)) return { error: `${k} is given twice` };
    attrs.set(k, f.slice(eq + 1).trim());
  }
  const type = attrs.get('type');
  if (type === undefined) return { error: 'it has no type=' };
  if (!(RULE_TYPES as readonly string[]).includes(type)) return { error: `type ${JSON.stringify(type)} is unknown (types: ${RULE_TYPES.join(', ')})` };
  const t = type as RuleType;
  for (const k of attrs.keys()) {
    if (k !== 'type' && !ATTRS[t].includes(k)) return { error: `type=${t} has no attribute ${JSON.stringify(k)} (it takes ${ATTRS[t].join(', ')})` };
  }
  const enable = attrs.get('enable') ?? 'true';
  if (enable !== 'true' && enable !== 'false') return { error: `enable=${JSON.stringify(enable)} must be true or false` };
  const rule: TagRule = {
    type: t,
    prefix: attrs.get('prefix') ?? (t === 'sha' ? 'sha-' : t === 'pr' ? 'pr-' : ''),
    suffix: attrs.get('suffix') ?? '',
    enable: enable === 'true',
  };
  for (const affix of [rule.prefix, rule.suffix]) {
    if (affix !== '' && !/^[\w.-]+$/.test(affix)) return { error: `prefix/suffix ${JSON.stringify(affix)} may only hold letters, digits, _ . -` };
  }
  if (t === 'raw') {
    const value = attrs.get('value');
    if (!value) return { error: 'type=raw needs value=<tag>' };
    if (!TAG.test(`${rule.prefix}${value}${rule.suffix}`))
      return { error: `${JSON.stringify(value)} is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)` };
    rule.value = value;
  }
  if (t === 'semver') {
    const pattern = attrs.get('pattern') ?? '{{version}}';
    if (pattern.replace(SEMVER_VARS, '') === pattern)
      return { error: `pattern ${JSON.stringify(pattern)} uses none of {{version}}, {{major}}, {{minor}}, {{patch}}, {{raw}}` };
    const rest = pattern.replace(SEMVER_VARS, '');
    if (/[{}]/.test(rest)) return { error: `pattern ${JSON.stringify(pattern)} has an unknown {{variable}}` };
    rule.pattern = pattern;
  }
  if (t === 'sha') {
    const format = attrs.get('format') ?? 'short';
    if (format !== 'short' && format !== 'long') return { error: `format=${JSON.stringify(format)} must be short or long` };
    rule.format = format;
  }
  return rule;
}

/** Splits `type=raw,value=a` on commas; a value may be quoted to hold one. */
function splitFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter((f) => f !== '');
}

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  prerelease: string | undefined;
  build: string | undefined;
  raw: string;
}

const SEMVER = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** A `v1.2.3` (or `1.2.3`) git tag as semver; undefined for anything else. */
export function parseSemver(tag: string): SemVer | undefined {
  const m = SEMVER.exec(tag);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), prerelease: m[4], build: m[5], raw: tag };
}

function semverTag(v: SemVer, pattern: string): string | undefined {
  const vars = new Set([...pattern.matchAll(SEMVER_VARS)].map((m) => m[1]));
  // A pre-release only ever gets its full version: `1` or `1.2` must keep pointing at a release.
  if (v.prerelease !== undefined && !vars.has('version') && !vars.has('raw')) return undefined;
  // `0` as a tag would claim every 0.x is compatible, which semver does not promise.
  if (v.major === 0 && vars.has('major') && !vars.has('minor') && !vars.has('version') && !vars.has('raw')) return undefined;
  const version = `${v.major}.${v.minor}.${v.patch}${v.prerelease ? `-${v.prerelease}` : ''}`;
  return pattern.replace(SEMVER_VARS, (_m, name: string) => {
    switch (name) {
      case 'version':
        return version;
      case 'major':
        return String(v.major);
      case 'minor':
        return String(v.minor);
      case 'patch':
        return String(v.patch);
      default:
        return v.raw;
    }
  });
}

/** A git ref name made into a docker tag: `feature/Login` → `feature-Login`. */
export function sanitizeTag(name: string): string {
  return name
    .replace(/[^\w.-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, 128);
}

export interface TagResult {
  /** Tags (without the image name), in rule order, without duplicates. */
  tags: string[];
  /** The value for org.opencontainers.image.version. */
  version: string | undefined;
  /** Why a rule gave nothing, for the log (e.g. `type=latest: default branch unknown`). */
  notes: string[];
}

/** Evaluates the rules against the context. */
export function computeTags(rules: readonly TagRule[], ctx: CiContext): TagResult {
  const tags: string[] = [];
  const notes: string[] = [];
  let semverVersion: string | undefined;
  const add = (rule: TagRule, core: string) => {
    const t = sanitizeTag(`${rule.prefix}${core}${rule.suffix}`);
    if (t !== '' && TAG.test(t) && !tags.includes(t)) tags.push(t);
  };
  for (const rule of rules) {
    if (!rule.enable) continue;
    switch (rule.type) {
      case 'sha':
        if (ctx.sha) add(rule, rule.format === 'long' ? ctx.sha : ctx.sha.slice(0, 7));
        else notes.push('type=sha: no commit SHA in the CI variables');
        break;
      case 'branch':
        if (ctx.branch) add(rule, ctx.branch);
        break;
      case 'tag':
        if (ctx.tag) add(rule, ctx.tag);
        break;
      case 'semver': {
        const v = ctx.tag ? parseSemver(ctx.tag) : undefined;
        if (ctx.tag && !v) notes.push(`type=semver: git tag ${JSON.stringify(ctx.tag)} is not a semantic version (v1.2.3)`);
        if (v) {
          semverVersion ??= `${v.major}.${v.minor}.${v.patch}${v.prerelease ? `-${v.prerelease}` : ''}`;
          const core = semverTag(v, rule.pattern ?? '{{version}}');
          if (core !== undefined) add(rule, core);
        }
        break;
      }
      case 'pr':
        if (ctx.pullRequest !== undefined) add(rule, String(ctx.pullRequest));
        break;
      case 'latest':
        if (!ctx.defaultBranch) {
          if (ctx.branch) notes.push('type=latest: the default branch is unknown (set `default-branch`)');
        } else if (ctx.branch === ctx.defaultBranch) add(rule, 'latest');
        break;
      case 'raw':
        add(rule, rule.value ?? '');
        break;
    }
  }
  const version =
    semverVersion ?? (ctx.tag ? sanitizeTag(ctx.tag) : undefined) ?? tags.find((t) => t !== 'latest') ?? (ctx.sha ? ctx.sha.slice(0, 7) : undefined);
  return { tags, version, notes };
}

export const OCI_SOURCE = 'org.opencontainers.image.source';
export const OCI_REVISION = 'org.opencontainers.image.revision';
export const OCI_CREATED = 'org.opencontainers.image.created';
export const OCI_VERSION = 'org.opencontainers.image.version';

/** The automatic OCI labels; the user's `labels` are applied over them and win. */
export function ociLabels(ctx: CiContext, version: string | undefined, created: Date): Record<string, string> {
  const labels: Record<string, string> = {};
  if (ctx.sourceUrl) labels[OCI_SOURCE] = ctx.sourceUrl;
  if (ctx.sha) labels[OCI_REVISION] = ctx.sha;
  labels[OCI_CREATED] = created.toISOString();
  if (version) labels[OCI_VERSION] = version;
  return labels;
}

/** `image:tag` for every image and tag, images outermost (as docker/metadata-action orders them). */
export function fullTags(images: readonly string[], tags: readonly string[]): string[] {
  return images.flatMap((image) => tags.map((t) => `${image}:${t}`));
}
