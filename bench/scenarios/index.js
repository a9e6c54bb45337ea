// The scenario list. Each scenario is { id, name, goal, run(ctx) -> result }; a result has the
// figures for the table (`events`, `baseline`, `p50`, `p99`, `extra`), `met` (true/false/null),
// `details` (everything measured, for the JSON file) and optionally `lines` (printed after the
// table). Add a scenario by adding a module here.
import batchIngest from './s1-batch-ingest.js';
import singleIngest from './s2-single-ingest.js';
import endToEnd from './s3-end-to-end.js';
import slowKable from './s4-slow-kable.js';
import backlog from './s5-backlog.js';
import engageSync from './s6-engage-sync.js';
import scaleOut from './s7-scale-out.js';
import redisCost from './s8-redis-cost.js';
import clusterSpread from './s9-cluster-spread.js';

export const scenarios = [batchIngest, singleIngest, endToEnd, slowKable, backlog, engageSync, scaleOut, redisCost, clusterSpread];
