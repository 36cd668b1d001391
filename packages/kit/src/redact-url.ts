// URLs are shown in logs, outputs and summaries (a smoke-test target, a registry endpoint, an API
// server), and a URL can carry credentials: `user:password@` userinfo, or a token in the query
// (`?token=`, pre-signed `X-Amz-Signature=`, `sig=`, OAuth `code=`). Outputs are written as they
// are, so the credential has to go at display time, here. No imports: packages/oci and
// packages/kube use it without the kit's hosts.

/** Query parameters whose value is a credential (compared lowercased). */
const SECRET_PARAMS = new Set([
  'token',
  'access_token',
  'id_token',
  'refresh_token',
  'auth',
  'authorization',
  'sig',
  'signature',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'x-goog-signature',
  'x-goog-credential',
  'code',
  'key',
  'api_key',
  'apikey',
  'api-key',
  'password',
  'passwd',
  'pwd',
  'secret',
  'client_secret',
  'session',
  'sessionid',
]);
/** Any other parameter whose name says it is one. */
const SECRET_PARAM_NAME = /token|secret|passw|signature|credential|api[-_]?key/i;

export const REDACTED = '***';

/** True when a query parameter of this name carries a credential. */
export function isSecretParam(name: string): boolean {
  let n = name;
  try {
    n = decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    // A malformed escape: judge the name as written.
  }
  return SECRET_PARAMS.has(n.toLowerCase()) || SECRET_PARAM_NAME.test(n);
}

/** The credential values a URL carries (decoded), so a caller can register them as secrets. */
export function urlSecrets(url: string | URL): string[] {
  const out: string[] = [];
  let u: URL;
  try {
    u = typeof url === 'string' ? new URL(url) : url;
  } catch {
    return out;
  }
  const dec = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  if (u.username) out.push(dec(u.username));
  if (u.password) out.push(dec(u.password));
  for (const [k, v] of u.searchParams) if (v !== '' && isSecretParam(k)) out.push(v);
  return out;
}

function redactQuery(query: string): string {
  // Rewritten by hand, not through URLSearchParams, so every other byte stays as the user wrote it.
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = pair.slice(0, eq);
      return isSecretParam(name) && eq < pair.length - 1 ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
}

/**
 * A URL fit to show: userinfo replaced by `***` and credential-bearing query values by `***`.
 * Text that is not a URL is handled by pattern (a malformed URL is exactly what an error shows).
 */
export function redactUrl(url: string | URL): string {
  const text = typeof url === 'string' ? url : url.href;
  let out = text;
  // Userinfo is whatever precedes the last `@` of the authority (which ends at the first `/`: a
  // `?`, `#` or second `@` in an unescaped password must not end it early).
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(text);
  if (scheme) {
    const from = scheme[0].length;
    const slash = text.indexOf('/', from);
    const authority = text.slice(from, slash < 0 ? text.length : slash);
    const at = authority.lastIndexOf('@');
    if (at >= 0) {
      const info = authority.slice(0, at);
      out = `${scheme[0]}${info.includes(':') ? `${REDACTED}:${REDACTED}` : REDACTED}${text.slice(from + at)}`;
    }
  }
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const query = hash < 0 ? out.slice(q + 1) : out.slice(q + 1, hash);
  return `${out.slice(0, q + 1)}${redactQuery(query)}${hash < 0 ? '' : out.slice(hash)}`;
}

/** Every http(s) URL inside free text (an error message, a log line) redacted. */
export function redactUrlsIn(text: string): string {
  return text.replace(/\bhttps?:\/\/[^\s"'<>]+/gi, (u) => redactUrl(u));
}
