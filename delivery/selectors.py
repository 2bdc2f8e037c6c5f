"""Reads of the delivery app, used by views, tasks and other apps."""
