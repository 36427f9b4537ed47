"""The command handlers: each takes the parsed arguments and returns the exit code."""
