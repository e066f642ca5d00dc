"""The learned metrical model (issue 22): ASAP data and targets, the network, training, the validation metric,
the plot (tools/meter/run.sh), and its unit tests (numpy and mido only)."""
