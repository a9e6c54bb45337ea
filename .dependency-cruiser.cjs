// Imports flow one way (README, "Built with"): a folder may import only from the folders before it.
// Specs are held to the same order; they and test/ may also use test/support/ and tools/.
const ORDER = [['segment'], ['platform'], ['trace'], ['delivery'], ['engage'], ['ingest'], ['admin', 'health']];
const ROOT_FILES = '^src/[^/]+$';

const layerRules = ORDER.map((layer, i) => {
  const higher = ORDER.slice(i + 1).flat();
  const peers = layer.length > 1 ? layer : [];
  return {
    name: `${layer.join('-')}-imports-only-lower-layers`,
    comment: `src/${layer.join(', src/')} may import only from ${ORDER.slice(0, i).flat().join(', ') || 'no other layer'}`,
    severity: 'error',
    from: { path: `^src/(${layer.join('|')})/` },
    to: {
      path: [`^src/(${[...higher, ...peers].join('|')})/`, ROOT_FILES],
      // A peer may import from itself, not from the other peer.
      pathNot: `^src/$1/`,
    },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'production-code-imports-no-tests-or-tools',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^(test|tools)/' },
    },
    {
      name: 'tools-stand-alone',
      comment: 'tools/ (the Kable emulator) is built on its own (tsconfig.tools.json) and imports nothing from src/ or test/',
      severity: 'error',
      from: { path: '^tools/' },
      to: { path: '^(src|test)/' },
    },
    {
      name: 'resolvable',
      comment: 'an import the check cannot resolve would escape the rules above',
      severity: 'error',
      from: { path: '^(src|test|tools)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-tools|coverage)/' },
    tsPreCompilationDeps: true, // type-only imports count too
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
