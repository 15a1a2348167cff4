"""The sync pipeline: a small engine (engine.py) and one step per entity plugged into it."""
