"""Reads of the replies app, used by views, tasks and other apps."""
