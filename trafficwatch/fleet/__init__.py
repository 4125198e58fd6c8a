"""Many servers, one screen: a headless agent per server exports counters (agent, exposition),
and the fleet's hourly series is read back from Prometheus's HTTP API (prometheus, source).

Nothing here imports Textual or torch: the agent runs on every web server.
"""
