"""scholar-stats: Google Scholar statistics for homepages, fetched politely and served honestly."""

__version__ = "0.1.0"
