// The one mapping from a kube KubeconfigError onto the kubeconfig inputs that k8s-deploy,
// smoke-test and rollout-verify share (`kubeconfig`, `kubeconfig-path`, `context`).
//
// It lives here, not in packages/kube (a library names no action input) and not in one action (the
// actions do not import each other). It imports nothing: each adapter imports @shipline/kube
// lazily, after its inputs are valid, and this file must not pull it in earlier. The fault is
// taken by shape (`field`, `problem`), which KubeconfigError has.

export interface KubeconfigInputs {
  kubeconfig?: string | undefined;
  'kubeconfig-path'?: string | undefined;
  context?: string | undefined;
}

/** What a KubeconfigError says (its `field` and `problem`), by shape. */
export interface KubeconfigFault {
  field: string;
  problem: string;
  hint: string | undefined;
}

// Where the library's own hint cannot say which input to set, the input's name is put in here.
const HINTS: Readonly<Record<string, string>> = {
  unconfigured: 'set the kubeconfig input (content, from a secret), kubeconfig-path, or KUBECONFIG',
  'env-missing': 'set KUBECONFIG to your kubeconfig file, or use the kubeconfig input',
  'no-current-context': 'set current-context in the kubeconfig or the context input',
  'unknown-current-context': 'fix current-context or set the context input',
  'not-yaml': 'pass the whole kubeconfig file, e.g. from a secret: `kubeconfig: ${{ secrets.KUBECONFIG }}`',
};

/**
 * The input a user changes to fix the fault, and the hint to show. A fault of the chosen context is
 * the `context` input's when one was given; anything else is the input the kubeconfig came from
 * (content before path, as they are read); none when it came from the environment.
 */
export function kubeconfigInputFor(fault: KubeconfigFault, given: KubeconfigInputs): { input: string | undefined; hint: string | undefined } {
  const source = given.kubeconfig !== undefined ? 'kubeconfig' : given['kubeconfig-path'] !== undefined ? 'kubeconfig-path' : undefined;
  const input = fault.field === 'context' && given.context !== undefined ? 'context' : source;
  return { input, hint: HINTS[fault.problem] ?? fault.hint };
}
