import { untrusted } from '@shipline/kit/untrusted';
import { type HttpResponse, readBody } from './transport.ts';

/** `METHOD host/path` without query strings (upload URLs carry state tokens there). */
export function endpointOf(method: string, url: string): string {
  const u = new URL(url);
  return `${method} ${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The registry's error message from a failed response (distribution's {errors:[{code,message}]}),
 * made safe to print: the body is the server's text, so it is masked, then cut, then made inert.
 */
export async function errorDetail(res: HttpResponse): Promise<string> {
  let text: string;
  try {
    text = (await readBody(res, 64 * 1024)).toString('utf8');
  } catch {
    return '';
  }
  try {
    const doc = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string; detail?: unknown }> };
    if (Array.isArray(doc.errors) && doc.errors.length > 0) {
      return untrusted(doc.errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; '), { max: 400, oneLine: true });
    }
  } catch {
    /* not JSON */
  }
  return untrusted(text.trim(), { max: 200, oneLine: true });
}
