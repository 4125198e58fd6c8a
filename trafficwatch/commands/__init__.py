"""Sub-commands that are not the model's: watch (the app) and counts."""
