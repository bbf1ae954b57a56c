"""Looking inside recurrent units: gradient decay over time, gate activations."""
