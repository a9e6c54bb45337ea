// Jest cannot require() an ES module (Node 20.19+ can, so production loads the real package).
// @fastify/static (bull-board, Swagger UI) requires content-disposition 3, which is ESM only; in
// tests it gets this stand-in for the one function it uses, on downloads the tests never make.
'use strict';
exports.create = function create(filename) {
  return filename === undefined ? 'attachment' : `attachment; filename="${String(filename).replace(/["\\]/g, '\\$&')}"`;
};
