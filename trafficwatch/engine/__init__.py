"""The running core, Textual-free: the Engine (sole writer of its state), its sources behind the
sink, the model side (predict, anomalies, tuning) and the frozen Snapshot the app draws."""
