// Showing text that came from files (tensor names, metadata, CSV cells) in
// messages and terminal output: control characters escaped, so an ANSI or
// OSC sequence in a file cannot drive the terminal, and long inputs cut short,
// so one bad 10 MB field does not become a 10 MB error line.

/** Input quoted in messages keeps at most this many characters. */
export const QUOTE_LIMIT = 80;

/** Escapes C0/C1 control characters (ESC, BEL, NUL, CR, LF, TAB, ...) and lone surrogates as \xNN / \uNNNN. */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Escapes and shortens a piece of input for a message: at most `limit` characters, then '...' and how many more. */
export function excerpt(text: string, limit = QUOTE_LIMIT): string {
  const cut = text.length > limit ? `${text.slice(0, limit)}... (${text.length - limit} more characters)` : text;
  return escapeControl(cut);
}

/** `'text'`, escaped and shortened: the way messages quote names and values read from files. */
export function quote(text: string, limit = QUOTE_LIMIT): string {
  return `'${excerpt(text, limit)}'`;
}

/** Text for SVG/XML content and double-quoted attributes: & < > " escaped. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
