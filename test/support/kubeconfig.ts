/** A kubeconfig (content) for a server on loopback, with a bearer token (a secret to look for). */
export function kubeconfigFor(server: string, token: string, user: Record<string, unknown> = { token }): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u', namespace: 'default' } }],
    'current-context': 'fake',
  });
}
