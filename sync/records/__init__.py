"""One JAGGAER record across the tables: the numbers it is known by (search), and its story (timeline)."""
