"""Gazetteer: the administrative areas (P-codes) forms select places from, sent as form media."""
