"""The shared harness of the comparisons (loadtests/, security/, migration/, benchmarks/): the run's
databases on every configured backend (databases), the two sides under comparison (the DataFlow side and
its ASGI app, the Django project, the user-management workload both run), their app servers (servers),
what a report says about the machine and the packages (environment), and the report renderers and verdict
words (report). Each comparison imports it; none imports another. `python -m harness seed` seeds one side.
"""
