"""The fleet's hourly series from Prometheus's HTTP API (prometheus: the client, the query, the
buckets as a HourlySeries; load: what `counts`, `forecast`, `eval` and `train` read).

A layer between the engine and counting: it makes series (as counting/ does from logs) and knows
nothing of the engine, the app or the command line. The agent that exports the counters lives in
engine/ (agent, exposition) and cli/agent.py; the app's source that reads this is
engine/prometheus.py.
"""
