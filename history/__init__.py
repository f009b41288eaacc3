"""The conformance history of the published package (`nox -s history`): every release of kailash-dataflow in an
environment resolved as of its release day, the pack run on it, one report per release and backend under
reports/history/, and a static dashboard built from those reports.

Modules, one job each: `releases` (what the index holds and when), `environments` (one release's environment,
cached), `plan` (what a run has left to do), `runner` (the pack in one environment), `index` (one row per
release, also for those that never ran), `dashboard` (what the reports say across releases) and `render` (the
HTML page, its Markdown twin and the badges)."""
