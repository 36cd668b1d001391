// `@shipline/kube/access`: cluster access alone (kubeconfig, connection, its secrets, its errors).
// For callers that only reach the API server (smoke-test): importing the package's index would
// bundle manifest parsing, apply and the status engine along with it.
export { KubeconfigError, type KubeconfigField, type KubeconfigProblem, KubeError } from './errors.ts';
export { type ClusterAccess, type Connection, connectionOf, type KubeconfigSource, openKubeconfig, secretsOf } from './kubeconfig.ts';
