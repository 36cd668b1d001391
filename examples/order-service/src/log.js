// One JSON object a line on stdout: what `kubectl logs` shows and log collectors parse without rules.
import { LOG_LEVELS } from './config.js';

/**
 * @param {{ level?: string, write?: (line: string) => void, now?: () => Date }} [options]
 */
export function createLogger({ level = 'info', write = (line) => process.stdout.write(line), now = () => new Date() } = {}) {
  const threshold = LOG_LEVELS.indexOf(level);
  const at =
    (name) =>
    (msg, fields = {}) => {
      if (LOG_LEVELS.indexOf(name) < threshold) return;
      // JSON.stringify escapes newlines and quotes, so text from clients cannot forge a log line.
      write(`${JSON.stringify({ time: now().toISOString(), level: name, msg, ...fields })}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), enabled: (name) => LOG_LEVELS.indexOf(name) >= threshold };
}
