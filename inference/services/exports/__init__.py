"""Exports of the pool in the formats camera-trap people exchange. `scope` decides which images
(what the user may export), `gather` reads them into plain records, `writers` drive the format
writers of inference/engine/exports/, `jobs` runs it all as a chunked background job (or in-process,
for the commands)."""
