export * from './errors.ts';
export * from './reference.ts';
export * from './www-authenticate.ts';
export * from './backoff.ts';
