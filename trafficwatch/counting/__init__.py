"""Records to hourly series: counting, batch reading, the worker rule, the model loader, state."""
