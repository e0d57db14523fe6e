/** How one label language reads a boolean. */
export interface BoolDialect {
  /** `undefined` means the value is not a boolean in this language. */
  read(value: string): boolean | undefined;
  /** What the language does with an unreadable value; absent means it is an error for us. */
  fallback?: boolean;
  /** The accepted spellings, for messages. */
  spellings: string;
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Tunnelfleet: explicit true/false spellings only; anything else is an error. */
export const strictBool: BoolDialect = {
  read(value) {
    const word = value.trim().toLowerCase();
    if (TRUE.has(word)) return true;
    if (FALSE.has(word)) return false;
    return undefined;
  },
  spellings: 'true/false, yes/no, on/off, 1/0',
};

const DOCKFLARE_TRUE = new Set(['true', '1', 't', 'yes']);

/** DockFlare: true iff the lower-cased value is true, 1, t or yes; everything else is false. */
export const dockflareBool: BoolDialect = {
  read(value) {
    return DOCKFLARE_TRUE.has(value.toLowerCase());
  },
  spellings: 'true, 1, t, yes (anything else is false)',
};

/** Labelgate: true/1/yes/on and false/0/no/off; anything else keeps the default. */
export const labelgateBool: BoolDialect = {
  read: strictBool.read,
  fallback: false,
  spellings: 'true/false, yes/no, on/off, 1/0',
};

/** Values DockFlare reads as false although the writer most likely meant true. */
export function looksMeantTrue(value: string): boolean {
  return ['on', 'y', 'enable', 'enabled'].includes(value.trim().toLowerCase()) || value.trim() !== value;
}

const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** The Awakening Gateway: Go's `strconv.ParseBool`; anything else is an error. */
export const dagBool: BoolDialect = {
  read(value) {
    const word = value.trim();
    if (GO_TRUE.has(word)) return true;
    if (GO_FALSE.has(word)) return false;
    return undefined;
  },
  spellings: 'true/false, t/f, 1/0 (as Go reads them)',
};
