"""The live service (FastAPI + uvicorn): settings, the store mirror and its snapshot, the fast
path, admin routes, metrics and process running."""
