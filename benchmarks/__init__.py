"""The lab: benchmark drivers and what they share, apart from the library (`spacy_ita`).

Run a driver as a module from the repository root, e.g.
`python -m benchmarks.bench_real_data --smoke`; figures and their commands are in BENCHMARKS.md.
The shared pieces: `systems` (datasets, systems, the `spacy train` command of a run), `speed`
(docs/s per view), `table` (machine line, tables, results JSON), `bench_hooks`
(training-time callbacks, a file `spacy train --code` imports), `server_process` (a `serve` subprocess).
"""
