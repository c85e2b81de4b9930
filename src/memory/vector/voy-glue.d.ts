// voy-search ships types only for its ESM-integration entry (voy_search.js), which imports
// the .wasm as a module — something vite cannot do without a plugin. We import the
// wasm-bindgen glue directly instead and instantiate the wasm ourselves (voy-index.ts).
declare module 'voy-search/voy_search_bg.js' {
  export * from 'voy-search';
  export function __wbg_set_wasm(exports: WebAssembly.Exports): void;
}
