"""Forecasting tasks on real series (``sunspots``, ``electricity``); ``base`` holds the
windows, scaling, loss, errors and report they share, ``baselines`` the classical
forecasts they are measured against."""
