// The files the act end-to-end test hands act: the caller workflow and the secret file.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempDir } from '../../stack/test-helpers.ts';
import { type CallerOptions, callerWorkflow, TOKEN_SECRET } from './caller.ts';
import { writeSecretFile } from './run-act.ts';

const OPTIONS: CallerOptions = {
  image: '127.0.0.1:5000/e2e-act/order-service',
  context: 'examples/order-service',
  buildArgs: ['BASE_IMAGE=127.0.0.1:5000/shipline/node:24', 'CRASH=1'],
  tags: ['type=raw,value=run-1'],
  manifests: '/tmp/x/k8s',
  namespace: 'e2e-act',
  vars: ['APP_VERSION=1: "quoted"'],
  smokeTargets: ['e2e-act/order-service:8080/healthz'],
  rollback: true,
  timeout: '2m',
  builder: 'shipline-e2e-act',
  environment: 'e2e-act',
  githubToken: false,
};

describe('callerWorkflow', () => {
  it('calls deliver.yml the local way, with multi-line inputs intact and the kubeconfig as a secret', () => {
    const wf = parse(callerWorkflow(OPTIONS));
    expect(wf.jobs.deliver.uses).toBe('./.github/workflows/deliver.yml');
    expect(wf.jobs.deliver.with['build-args']).toBe('BASE_IMAGE=127.0.0.1:5000/shipline/node:24\nCRASH=1');
    expect(wf.jobs.deliver.with.vars).toBe('APP_VERSION=1: "quoted"');
    expect(wf.jobs.deliver.with.rollback).toBe(true);
    expect(wf.jobs.deliver.secrets.kubeconfig).toBe('${{ secrets.KUBECONFIG }}');
    expect(wf.jobs.report.needs).toBe('deliver');
    expect(wf.jobs.report.steps[0].env.DIGEST).toBe('${{ needs.deliver.outputs.digest }}');
    expect(wf.jobs.commit.needs).toBeUndefined();
    expect(wf.jobs.commit.steps[0].env.SHA).toBe('${{ github.sha }}');
    expect(wf.jobs.deliver.with.environment).toBe('e2e-act');
    expect(Object.keys(wf.jobs.deliver.secrets)).toEqual(['kubeconfig']);
  });

  it('passes the Deployments token secret as `github-token` only when asked', () => {
    const wf = parse(callerWorkflow({ ...OPTIONS, githubToken: true }));
    expect(wf.jobs.deliver.secrets).toEqual({ kubeconfig: '${{ secrets.KUBECONFIG }}', 'github-token': `\${{ secrets.${TOKEN_SECRET} }}` });
    expect(wf.jobs.report.needs).toBe('deliver');
  });
});

describe('writeSecretFile', () => {
  it('writes one double-quoted line per secret, newlines escaped, readable only by the owner', () => {
    const f = join(tempDir('act-secrets'), 's');
    writeSecretFile(f, { KUBECONFIG: 'apiVersion: v1\nkind: Config\n' });
    expect(readFileSync(f, 'utf8')).toBe('KUBECONFIG="apiVersion: v1\\nkind: Config\\n"\n');
    expect(statSync(f).mode & 0o777).toBe(0o600);
  });

  it.each(['a$b', 'a"b', 'a\\b'])('refuses %j, which act would expand', (v) => {
    expect(() => writeSecretFile(join(tempDir('act-secrets'), 's'), { S: v })).toThrow(/secret S holds/);
  });
});
