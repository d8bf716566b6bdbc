"""Border residents' trade (边民互市贸易, seeds 000 and 001) as one business system of the core:
the resident registry, terminal and officer logins, entry and import declarations with the
biometric rule (R-BDR-1..10), and the biometric enrolment and verification behind them."""
