// Target functions typed by the user, e.g. `sin(x)*exp(-y^2)`: a small
// recursive-descent parser compiled to a closure (never eval). Grammar:
//
//   sum     = product (('+' | '-') product)*
//   product = unary (('*' | '/' | '·' | '×') unary | implicit)*   implicit: 2x, 3(x+1), x y
//   unary   = ('-' | '+') unary | power
//   power   = atom (('^' | '**') unary)?                           right-associative: 2^-x, -x^2 = -(x^2)
//   atom    = number | x | y | pi | e | name '(' sum (',' sum)* ')' | '(' sum ')'

export type Formula2 = (x: number, y: number) => number;

export interface ParsedFormula {
  /** The text as typed (trimmed). */
  text: string;
  evaluate: Formula2;
  /** Whether y appears: a function of (x, y) rather than of x. */
  usesY: boolean;
}

const FUNCTIONS: Record<string, { arity: number; apply: (...args: number[]) => number }> = {
  sin: { arity: 1, apply: Math.sin },
  cos: { arity: 1, apply: Math.cos },
  tan: { arity: 1, apply: Math.tan },
  asin: { arity: 1, apply: Math.asin },
  acos: { arity: 1, apply: Math.acos },
  atan: { arity: 1, apply: Math.atan },
  sinh: { arity: 1, apply: Math.sinh },
  cosh: { arity: 1, apply: Math.cosh },
  tanh: { arity: 1, apply: Math.tanh },
  exp: { arity: 1, apply: Math.exp },
  log: { arity: 1, apply: Math.log },
  ln: { arity: 1, apply: Math.log },
  sqrt: { arity: 1, apply: Math.sqrt },
  abs: { arity: 1, apply: Math.abs },
  sign: { arity: 1, apply: Math.sign },
  floor: { arity: 1, apply: Math.floor },
  sigmoid: { arity: 1, apply: (v) => 1 / (1 + Math.exp(-v)) },
  relu: { arity: 1, apply: (v) => Math.max(0, v) },
  min: { arity: 2, apply: Math.min },
  max: { arity: 2, apply: Math.max },
  atan2: { arity: 2, apply: Math.atan2 },
  pow: { arity: 2, apply: Math.pow },
};

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E };

type Node = (x: number, y: number) => number;

interface Token {
  kind: 'number' | 'name' | 'op' | 'end';
  text: string;
  /** 1-based column in the formula. */
  column: number;
  value?: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const number = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(text.slice(i));
    if (number) {
      tokens.push({ kind: 'number', text: number[0], column: i + 1, value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z_0-9]*/.exec(text.slice(i));
    if (name) {
      tokens.push({ kind: 'name', text: name[0], column: i + 1 });
      i += name[0].length;
      continue;
    }
    if (text.startsWith('**', i)) {
      tokens.push({ kind: 'op', text: '^', column: i + 1 });
      i += 2;
      continue;
    }
    if ('+-*/^(),·×−'.includes(ch)) {
      const op = ch === '·' || ch === '×' ? '*' : ch === '−' ? '-' : ch;
      tokens.push({ kind: 'op', text: op, column: i + 1 });
      i++;
      continue;
    }
    throw new Error(`formula: unexpected '${ch}' at column ${i + 1}`);
  }
  tokens.push({ kind: 'end', text: 'the end', column: text.length + 1 });
  return tokens;
}

/** Parses a formula in x (and optionally y), or throws one error naming the column and what was expected. */
export function parseFormula(source: string): ParsedFormula {
  const text = source.trim();
  if (text === '') throw new Error('formula: it is empty: type a function of x (and y), e.g. sin(x)*exp(-y^2)');
  const tokens = tokenize(text);
  let at = 0;
  let usesY = false;
  const peek = () => tokens[at]!;
  const fail = (expected: string): never => {
    const t = peek();
    throw new Error(`formula: unexpected ${t.kind === 'end' ? 'end' : `'${t.text}'`} at column ${t.column}: expected ${expected}`);
  };
  const isOp = (op: string) => peek().kind === 'op' && peek().text === op;
  const expectOp = (op: string, expected: string) => {
    if (!isOp(op)) fail(expected);
    at++;
  };

  const sum = (): Node => {
    let left = product();
    while (isOp('+') || isOp('-')) {
      const op = tokens[at++]!.text;
      const a = left;
      const b = product();
      left = op === '+' ? (x, y) => a(x, y) + b(x, y) : (x, y) => a(x, y) - b(x, y);
    }
    return left;
  };

  const startsAtom = () => peek().kind === 'number' || peek().kind === 'name' || isOp('(');

  const product = (): Node => {
    let left = unary();
    for (;;) {
      let op: string;
      if (isOp('*') || isOp('/')) op = tokens[at++]!.text;
      else if (startsAtom()) op = '*';
      else break;
      const a = left;
      const b = unary();
      left = op === '*' ? (x, y) => a(x, y) * b(x, y) : (x, y) => a(x, y) / b(x, y);
    }
    return left;
  };

  const unary = (): Node => {
    if (isOp('-')) {
      at++;
      const a = unary();
      return (x, y) => -a(x, y);
    }
    if (isOp('+')) {
      at++;
      return unary();
    }
    return power();
  };

  const power = (): Node => {
    const base = atom();
    if (!isOp('^')) return base;
    at++;
    const exponent = unary();
    return (x, y) => Math.pow(base(x, y), exponent(x, y));
  };

  const atom = (): Node => {
    const t = peek();
    if (t.kind === 'number') {
      at++;
      const value = t.value!;
      return () => value;
    }
    if (isOp('(')) {
      at++;
      const inner = sum();
      expectOp(')', "')'");
      return inner;
    }
    if (t.kind !== 'name') return fail('a number, x, y, a function or (');
    at++;
    const name = t.text.toLowerCase();
    if (name === 'x') return (x) => x;
    if (name === 'y') {
      usesY = true;
      return (_x, y) => y;
    }
    if (name in CONSTANTS && !isOp('(')) {
      const value = CONSTANTS[name]!;
      return () => value;
    }
    const fn = FUNCTIONS[name];
    if (!fn) {
      throw new Error(`formula: unknown name '${t.text}' at column ${t.column}: use x, y, pi, e or a function (${Object.keys(FUNCTIONS).join(', ')})`);
    }
    expectOp('(', `'(' after ${name}`);
    const args: Node[] = [sum()];
    while (isOp(',')) {
      at++;
      args.push(sum());
    }
    if (args.length !== fn.arity) {
      throw new Error(`formula: ${name} at column ${t.column} takes ${fn.arity} argument${fn.arity > 1 ? 's' : ''}, got ${args.length}`);
    }
    expectOp(')', `')' closing ${name}(`);
    const apply = fn.apply;
    if (args.length === 1) {
      const a = args[0]!;
      return (x, y) => apply(a(x, y));
    }
    const [a, b] = args as [Node, Node];
    return (x, y) => apply(a(x, y), b(x, y));
  };

  const root = sum();
  if (peek().kind !== 'end') fail('an operator or the end');
  return { text, evaluate: root, usesY };
}

/** The preset targets offered by the page. */
export const PRESET_FORMULAS: readonly string[] = ['sin(x)*exp(-y^2)', 'sin(3x)*exp(-x^2)', 'x*y', 'tanh(2x) + 0.3 cos(4y)', 'abs(x) - 1'];
