"""The security claims of the Django-vs-Kailash comparison, each checked against an outside oracle
(`python -m security run`)."""
