"""A business system that exists only for tests: installed through the configuration, it
goes end to end without a line of the core knowing it (issue 10)."""
