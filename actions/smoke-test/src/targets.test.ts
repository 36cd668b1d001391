import { describe, expect, it } from 'vitest';
import { formatProxyTarget, type ProxyTarget, parseProxyTarget, proxyUrl } from './targets.ts';

describe('proxy targets', () => {
  it.each([
    ['shop/orders:8080/healthz', { namespace: 'shop', name: 'orders', port: '8080', scheme: 'http', path: '/healthz' }],
    ['shop/orders', { namespace: 'shop', name: 'orders', port: '', scheme: 'http', path: '/' }],
    ['shop/orders:http/api/v1?limit=1', { namespace: 'shop', name: 'orders', port: 'http', scheme: 'http', path: '/api/v1?limit=1' }],
    ['shop/https:orders:8443/', { namespace: 'shop', name: 'orders', port: '8443', scheme: 'https', path: '/' }],
  ])('%s', (raw, want) => expect(parseProxyTarget('service', raw)).toEqual({ kind: 'service', ...want }));

  it.each([
    'orders:8080/healthz',
    '/orders',
    'Shop/orders',
    'shop/Orders',
    'shop/orders:0',
    'shop/orders:99999',
    'shop/orders:8080:1/',
    'shop/orders:Bad_Port',
    'shop/orders/a b',
  ])('%j is refused', (raw) => expect(parseProxyTarget('service', raw)).toHaveProperty('error'));

  it('builds the API server proxy URL', () => {
    const t = parseProxyTarget('pod', 'shop/web-0:8080/healthz?x=1') as ProxyTarget;
    expect(proxyUrl(new URL('https://127.0.0.1:6443/'), t).href).toBe('https://127.0.0.1:6443/api/v1/namespaces/shop/pods/web-0:8080/proxy/healthz?x=1');
    const s = parseProxyTarget('service', 'shop/https:orders:8443/') as ProxyTarget;
    expect(proxyUrl(new URL('https://gw.example/k8s'), s).href).toBe('https://gw.example/k8s/api/v1/namespaces/shop/services/https:orders:8443/proxy/');
    expect(formatProxyTarget(s)).toBe('service shop/https:orders:8443/');
  });
});
