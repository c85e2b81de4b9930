/**
 * Loads XGrammar (@mlc-ai/web-xgrammar: the grammar engine WebLLM uses, compiled to
 * WASM). The package ships one UMD file: bundlers (vite) read it as CommonJS, but
 * Node's ESM loader refuses it, so in Node it is evaluated as the CommonJS module it is.
 */
import type * as XG from '@mlc-ai/web-xgrammar';

export type XGrammar = Pick<typeof XG, 'GrammarCompiler' | 'GrammarMatcher' | 'TokenizerInfo' | 'Grammar'>;

let loading: Promise<XGrammar> | null = null;

export function loadXGrammar(): Promise<XGrammar> {
  loading ??= (isNode() ? loadInNode() : import('@mlc-ai/web-xgrammar').then(pick)).catch((e: unknown) => {
    loading = null;
    throw e;
  });
  return loading;
}

function pick(m: unknown): XGrammar {
  const x = m as Partial<XGrammar> & { default?: Partial<XGrammar> };
  const mod = x.GrammarCompiler ? x : x.default;
  if (!mod?.GrammarCompiler || !mod.GrammarMatcher || !mod.TokenizerInfo || !mod.Grammar)
    throw new Error('@mlc-ai/web-xgrammar did not load (no GrammarCompiler)');
  return mod as XGrammar;
}

function isNode(): boolean {
  const g = globalThis as {
    process?: { versions?: { node?: string } };
    document?: unknown;
    WorkerGlobalScope?: unknown;
  };
  return !!g.process?.versions?.node && g.document === undefined && g.WorkerGlobalScope === undefined;
}

async function loadInNode(): Promise<XGrammar> {
  // Names in variables: the browser bundle must not try to resolve Node's modules.
  const [nodeModule, fs, vm, path] = ['node:module', 'node:fs', 'node:vm', 'node:path'];
  const { createRequire } = (await import(/* @vite-ignore */ nodeModule)) as typeof import('node:module');
  const { readFileSync } = (await import(/* @vite-ignore */ fs)) as typeof import('node:fs');
  const { Script, constants } = (await import(/* @vite-ignore */ vm)) as typeof import('node:vm');
  const { dirname } = (await import(/* @vite-ignore */ path)) as typeof import('node:path');
  const file = createRequire(import.meta.url).resolve('@mlc-ai/web-xgrammar');
  const wrapped = `(function (exports, module, require, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`;
  const module = { exports: {} as unknown };
  // The binding itself imports 'module' dynamically: let it use Node's own loader.
  const script = new Script(wrapped, {
    filename: file,
    importModuleDynamically: constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  (script.runInThisContext() as (...a: unknown[]) => void)(
    module.exports,
    module,
    createRequire(file),
    file,
    dirname(file),
  );
  return pick(module.exports);
}
