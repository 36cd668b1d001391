// kube keeps its own small image-name parser (it must not import oci); the action validates refs
// with oci's full grammar. Both must name the same repository, or substitution would miss.
import { parseImageName } from '@shipline/kube';
import { parseReference, repositoryName } from '@shipline/oci';
import { describe, expect, it } from 'vitest';

const D = `sha256:${'c'.repeat(64)}`;

describe('kube and oci agree on repository names', () => {
  it.each([
    'nginx',
    'nginx:1.27',
    'library/nginx',
    'team/app:1',
    'docker.io/team/app',
    'index.docker.io/library/nginx',
    'registry-1.docker.io/team/app',
    'localhost/app',
    'localhost:5000/app',
    '127.0.0.1:5000/shop/orders:1.0',
    `127.0.0.1:5000/shop/orders:1.0@${D}`,
    `reg:5000/app@${D}`,
    'reg:5000/app-worker',
    'REG.Example.com/team/app',
    'ghcr.io/org/sub/path/app:v2',
    'a.io/x__y/z-w.v',
  ])('%s', (ref) => {
    const k = parseImageName(ref);
    expect(k).not.toHaveProperty('error');
    const o = parseReference(ref, { defaultTag: false });
    expect((k as { repository: string }).repository).toBe(repositoryName(o));
    expect((k as { digest?: string }).digest).toBe(o.digest);
  });
});
