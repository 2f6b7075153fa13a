"""Entry points: the Prefect flows (generate, bulk, prepare), the `heygem` CLI and the web UI."""
