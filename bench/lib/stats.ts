// Small helpers the benches share (bench/run.ts runs only bench/*.ts, not this folder).

/** The middle value (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
}

/** `min–max s` of values in seconds, with `digits` decimals. */
export function span(seconds: readonly number[], digits: number): string {
  return `${Math.min(...seconds).toFixed(digits)}–${Math.max(...seconds).toFixed(digits)} s`;
}
