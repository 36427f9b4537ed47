"""The command handlers (each takes the parsed arguments and returns the exit code), how a
command runs in this process (``runner.py``), and the GitHub Action's step (``action.py``),
which runs the fetch command and publishes its results."""
