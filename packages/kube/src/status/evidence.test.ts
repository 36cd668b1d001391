import { secrets } from '@shipline/kit';
import { describe, expect, test } from 'vitest';
import type { KubeObject } from '../object.ts';
import { logLines, toEventLines } from './evidence.ts';

const event = (name: string, reason: string, message: string, last: string, count = 1): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name: `${name}.1` },
  involvedObject: { kind: 'Pod', name },
  type: 'Warning',
  reason,
  message,
  count,
  lastTimestamp: last,
});

describe('evidence text', () => {
  test('events: newest kept, oldest first, counted', () => {
    const lines = toEventLines(
      [
        event('web-x', 'BackOff', 'Back-off restarting failed container', '2026-12-01T12:00:30Z', 4),
        event('web-x', 'Pulled', 'Successfully pulled', '2026-12-01T12:00:10Z'),
        event('web-x', 'Scheduled', 'assigned', '2026-12-01T12:00:00Z'),
      ],
      2,
    );
    expect(lines).toEqual([
      { object: 'Pod web-x', type: 'Warning', reason: 'Pulled', message: 'Successfully pulled', count: 1, lastSeen: '2026-12-01T12:00:10Z' },
      { object: 'Pod web-x', type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container', count: 4, lastSeen: '2026-12-01T12:00:30Z' },
    ]);
  });

  test('events from the events.k8s.io era (series, eventTime) still get a time and a count', () => {
    const e = { ...event('p', 'R', 'm', ''), lastTimestamp: undefined, count: undefined, eventTime: '2026-12-01T12:00:05.000000Z', series: { count: 7 } };
    expect(toEventLines([e as KubeObject], 5)[0]).toMatchObject({ count: 7, lastSeen: '2026-12-01T12:00:05.000000Z' });
  });

  test('an event message cannot issue a runner command', () => {
    const [line] = toEventLines([event('p', 'X', '::error::pwned\n::add-mask::x', '2026-12-01T12:00:00Z')], 5);
    expect(line?.message.startsWith('::')).toBe(false);
    expect(line?.message).not.toContain('\n');
  });

  test('logs: last lines, inert, secrets masked even across the cut', () => {
    secrets.add('s3cr3t-token-value');
    const text = ['boot', 'token=s3cr3t-token-value', '::set-output name=x::y', '##[error] no', 'last', ''].join('\n');
    const lines = logLines(text, 4);
    expect(lines).toHaveLength(4);
    expect(lines.join('\n')).not.toContain('s3cr3t-token-value');
    expect(lines[1]?.startsWith('::')).toBe(false);
    expect(lines[2]).not.toContain('##[');
    expect(lines[3]).toBe('last');
  });

  test('logs: a very long line is cut', () => {
    expect(logLines(`${'x'.repeat(5000)}\n`, 10)[0]?.length).toBe(1000);
  });
});
