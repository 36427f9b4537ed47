"""Where profiles come from. One subpackage per outside service, each the only code that
talks to it; ``registry.py`` lists them, each a ``Source`` (``source.py``) the rest asks."""
