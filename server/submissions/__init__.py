"""Submissions: immutable instances received from devices, their versions and attachments."""
