import { describe, expect, it } from 'vitest';
import { ApplyError, conflictsOf, NamespaceMissingError } from './errors.ts';

describe('ApplyError fields', () => {
  it('reads the fields and managers of a server-side apply conflict from the Status causes', () => {
    // As the API server sends them (kube-apiserver 1.3x), after client.ts made the text printable.
    const causes = [
      { reason: 'FieldManagerConflict', message: 'conflict with "someone-else" using v1', field: '.data.owner' },
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: '.spec.replicas' },
      { reason: 'FieldValueInvalid', message: 'bad', field: 'spec.x' },
      'not a cause',
    ];
    expect(conflictsOf(causes)).toEqual([
      { manager: 'someone-else', field: '.data.owner' },
      { manager: 'kubectl-client-side-apply', field: '.spec.replicas' },
    ]);
    expect(conflictsOf(undefined)).toEqual([]);
  });

  it('chooses the most pressing remedy, and words its hint without naming any input', () => {
    const e = (...reasons: string[]) =>
      new ApplyError(
        'dry-run',
        reasons.map((reason, i) => ({ object: `ConfigMap n/c${i}`, reason, message: 'm' })),
      );
    expect(e('NotFound', 'Conflict').remedy).toBe('force');
    expect(e('Conflict', 'Forbidden').remedy).toBe('rbac');
    expect(e('Invalid', 'NotFound').remedy).toBe('fix-manifests');
    expect(e('NotFound').remedy).toBe('missing-namespace');
    expect(e('Timeout').remedy).toBeUndefined();
    expect(e('Timeout').hint).toBeUndefined();
    for (const r of ['NotFound', 'Conflict', 'Forbidden', 'Invalid']) expect(e(r).hint).not.toMatch(/`|force-conflicts|create-namespace/);
    expect(e('Conflict', 'NotFound').reasons).toEqual(new Set(['Conflict', 'NotFound']));
  });

  it('names the missing namespaces, and is an ApplyError of the dry-run (nothing applied)', () => {
    const err = new NamespaceMissingError([
      { object: 'Namespace a', reason: 'NotFound', message: 'namespace a does not exist (needed by 2 object(s))', namespace: 'a' },
      { object: 'Namespace b', reason: 'NotFound', message: 'namespace b does not exist (needed by 1 object(s))', namespace: 'b' },
    ]);
    expect(err).toBeInstanceOf(ApplyError);
    expect(err).toMatchObject({ namespaces: ['a', 'b'], phase: 'dry-run', applied: [], remedy: 'missing-namespace' });
    expect(err.message).toBe(
      '2 object(s) refused by the API server in dry-run (nothing was applied): Namespace a: namespace a does not exist (needed by 2 object(s)); Namespace b: namespace b does not exist (needed by 1 object(s))',
    );
  });
});
