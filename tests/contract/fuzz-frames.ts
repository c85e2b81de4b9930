/**
 * Random and malformed frames for a kernel port, from a seed (the same on every machine):
 * the unit fuzz test and the browser's hostile suite send the same kinds. Returned as JSON
 * text, so `__proto__` and `constructor` stay own keys wherever it is parsed (JSON.parse makes
 * them own properties; passing objects between realms would turn `__proto__` into a prototype).
 */

export interface FuzzFrames {
  /** JSON of the frames, in order. */
  json: string;
  /** How many of them are call-shaped with a numeric id (each must be answered). */
  withId: number;
}

export function fuzzFrames(o: {
  seed: number;
  count: number;
  idBase: number;
  names: readonly string[];
}): FuzzFrames {
  let seed = o.seed;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const POLLUTE = '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}';
  // Values as JSON text: undefined (no value) is left out of the frame.
  const value = (): string | undefined => {
    const r = rnd();
    if (r < 0.1) return 'null';
    if (r < 0.2) return String(Math.floor(rnd() * 1e9) - 5e8);
    if (r < 0.3) return JSON.stringify('x'.repeat(Math.floor(rnd() * 100)));
    if (r < 0.4) return `[${value() ?? 'null'},${value() ?? 'null'}]`;
    if (r < 0.5) return POLLUTE;
    if (r < 0.6)
      return JSON.stringify({
        pid: Math.floor(rnd() * 10) - 2,
        task: rnd() < 0.5 ? 'x' : 5,
        fd: 1,
        data: 'd',
      });
    if (r < 0.7)
      return JSON.stringify({ messages: [{ role: 'user', content: rnd() < 0.5 ? 'hi' : 7 }], model: 'nope' });
    return undefined;
  };
  const frames: string[] = [];
  let withId = 0;
  for (let i = 0; i < o.count; i++) {
    const id = o.idBase + i;
    const r = rnd();
    if (r < 0.1) frames.push(value() ?? 'null');
    else if (r < 0.2) frames.push(JSON.stringify({ t: 'cancel', id: rnd() < 0.5 ? id : 'x' }));
    else {
      const t = rnd() < 0.9 ? 'call' : 'ret';
      const name = o.names[Math.floor(rnd() * o.names.length)]!;
      const args = value();
      frames.push(
        `{"t":${JSON.stringify(t)},"id":${id},"name":${JSON.stringify(name)}${args === undefined ? '' : `,"args":${args}`}}`,
      );
      withId++;
    }
  }
  return { json: `[${frames.join(',')}]`, withId };
}
