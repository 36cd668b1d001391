// The caller workflow the act end-to-end test runs: the local form of a user's deliver.yml call,
// plus a downstream job that sees deliver's outputs only through `needs.deliver.outputs`, and a job
// that prints the commit act runs (what a deployment must be recorded for).
export interface CallerOptions {
  image: string;
  context: string;
  buildArgs: string[];
  tags: string[];
  manifests: string;
  namespace: string;
  vars: string[];
  smokeTargets: string[];
  rollback: boolean;
  timeout: string;
  builder: string;
  /** deliver's `environment` input (empty: none). */
  environment: string;
  /** Pass the act secret DEPLOYMENTS_TOKEN as deliver's `github-token` (GitHub Deployments on). */
  githubToken: boolean;
  /** More inputs of deliver (`registry-username`, `image-pull-secret`, …). */
  with?: Record<string, string>;
  /** More secrets of deliver, each from the act secret named here (`registry-password: REGISTRY_PASSWORD`). */
  secrets?: Record<string, string>;
}

/**
 * The act secret holding the Deployments token. Not GITHUB_TOKEN: act would also use that one to
 * authenticate its own fetches of remote actions from github.com.
 */
export const TOKEN_SECRET = 'DEPLOYMENTS_TOKEN';

/** YAML block scalar of lines, indented for a `with:` value. */
const block = (lines: string[], indent: string): string => `|-\n${lines.map((l) => `${indent}${l}`).join('\n')}`;

export function callerWorkflow(o: CallerOptions): string {
  const i = ' '.repeat(10);
  // JSON strings are valid YAML flow scalars, so inputs are never spliced into YAML unquoted.
  const q = JSON.stringify;
  return `name: e2e-act-caller
on: push
jobs:
  deliver:
    uses: ./.github/workflows/deliver.yml
    with:
      image: ${q(o.image)}
      context: ${q(o.context)}
      build-args: ${block(o.buildArgs, i)}
      tags: ${block(o.tags, i)}
      manifests: ${q(o.manifests)}
      namespace: ${q(o.namespace)}
      vars: ${block(o.vars, i)}
      smoke-targets: ${block(o.smokeTargets, i)}
      rollback: ${o.rollback}
      timeout: ${q(o.timeout)}
      builder: ${q(o.builder)}
      environment: ${q(o.environment)}
${Object.entries(o.with ?? {})
  .map(([k, v]) => `      ${k}: ${q(v)}\n`)
  .join('')}    secrets:
      kubeconfig: \${{ secrets.KUBECONFIG }}
${Object.entries(o.secrets ?? {})
  .map(([k, v]) => `      ${k}: \${{ secrets.${v} }}\n`)
  .join('')}${o.githubToken ? `      github-token: \${{ secrets.${TOKEN_SECRET} }}\n` : ''}  report:
    needs: deliver
    if: \${{ always() }}
    runs-on: ubuntu-latest
    steps:
      - name: outputs seen downstream
        env:
          DIGEST: \${{ needs.deliver.outputs.digest }}
          REFS: \${{ needs.deliver.outputs.refs }}
          STATUS: \${{ needs.deliver.outputs.status }}
          CACHE_HIT: \${{ needs.deliver.outputs.cache-hit }}
        run: |
          echo "downstream digest=$DIGEST"
          echo "downstream status=$STATUS"
          echo "downstream cache-hit=$CACHE_HIT"
          echo "downstream refs=$REFS"
  commit:
    # No \`needs\`: it runs even when deliver fails (act skips every job after a failed one).
    runs-on: ubuntu-latest
    steps:
      - name: the commit act runs
        env:
          SHA: \${{ github.sha }}
        run: echo "caller sha=$SHA"
`;
}
