import { describe, expect, it } from 'vitest';
import { demultiplex } from './container-output.js';

function frame(stream: number, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('demultiplex', () => {
  it('joins framed stdout and stderr in order', () => {
    expect(demultiplex(Buffer.concat([frame(1, 'INF starting\n'), frame(2, 'ERR token rejected\n')]))).toBe(
      'INF starting\nERR token rejected\n',
    );
  });

  it('returns unframed (TTY) output as it is', () => {
    expect(demultiplex(Buffer.from('plain output\n'))).toBe('plain output\n');
  });

  it('treats a truncated frame as unframed text rather than dropping it', () => {
    const truncated = frame(1, 'hello world').subarray(0, 12);
    expect(demultiplex(truncated)).toBe(truncated.toString('utf8'));
  });
});
