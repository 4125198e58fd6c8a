"""Forecasting: the inspectable quantile LSTM and what surrounds it (torch only in submodules).

Public surface: forecaster.Forecaster (load / forecast / forecast_with_gates / gates / fine_tune),
forecaster.Forecast, forecaster.GateStats, checkpoint.CheckpointError, baselines.naive24/naive168,
evaluate.backtest/summarize, commands.add_commands (train, eval, forecast).
"""
