/** A one-line progress spinner on stderr, only on a terminal; silent elsewhere. */
import type { OutStream } from '../platform/context.js';
import { oneLine } from '../domain/display.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface Spinner {
  update(text: string): void;
  stop(): void;
}

export function startSpinner(stream: OutStream, text: string, enabled: boolean): Spinner {
  if (!enabled || !stream.isTTY) return { update() {}, stop() {} };
  // One line, nothing a terminal acts on but our own \r and erase-line (src/ui/output.ts, "Output safety").
  let current = oneLine(text);
  let i = 0;
  const draw = () => {
    stream.write(`\r\x1b[2K${FRAMES[i++ % FRAMES.length]} ${current}`);
  };
  draw();
  const timer = setInterval(draw, 80);
  timer.unref?.();
  return {
    update(t) {
      current = oneLine(t);
    },
    stop() {
      clearInterval(timer);
      stream.write('\r\x1b[2K');
    },
  };
}
