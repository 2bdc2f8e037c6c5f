"""Reads of the intercepts app, used by views, tasks and other apps."""
