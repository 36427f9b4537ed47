"""The store (SQLAlchemy Core over SQLite or PostgreSQL): the only code that talks SQL.

``database.Store`` is the class to use; it is assembled from one part per concern (``authors``,
``pacing``, ``reads``, ``recording``) over ``base.StoreBase`` (connection, schema upgrade).
"""
