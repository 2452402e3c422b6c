"""Shared records (ODK entities): hazard areas and survivors, their versions and conflicts."""
