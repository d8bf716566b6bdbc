"""The simulated customs service: a separate process that speaks the same messages as the
e-port and customs (R-ECX-1), with its own state, delays and outcome rates."""
