"""What the simulated customs does with export messages (R-ECX-2, R-ECX-5, R-ECX-7, R-ECX-8)."""
