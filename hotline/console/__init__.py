"""The people's web UI: mediator accounts and their SMS commands, the audit log, the views,
templates and static files.
"""
