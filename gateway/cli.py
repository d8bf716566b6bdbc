"""`python -m gateway.cli` and the `customs-gateway` entry point: the core's command line."""

from gateway.core.cli import main

if __name__ == "__main__":
    main()
