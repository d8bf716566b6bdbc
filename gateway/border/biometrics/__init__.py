"""Face and fingerprint verification for border trade (R-BDR-3/6/7): embeddings and minutiae
matchers behind small interfaces, and the encrypted template store."""
