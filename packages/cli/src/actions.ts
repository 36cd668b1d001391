import { smokeTest } from '@shipline/action-smoke-test/action';
import type { AnyAction } from '@shipline/kit';

/** Every action the CLI can run, by the name used in `shipline <name>`. */
export const actions: Record<string, AnyAction> = {
  'smoke-test': smokeTest,
};
