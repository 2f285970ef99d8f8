"""`integrador <verb>`: the Integrador dev stack's commands (main.py; docs/day2.md#command-line).

The Makefile's day-two and dev targets are one-line aliases of these verbs."""
